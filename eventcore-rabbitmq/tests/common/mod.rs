//! Shared by the RabbitMQ tests: a vhost per test, a mirroring handler, consumer options.

#![allow(dead_code)]

pub mod harness;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use eventcore::backoff::Backoff;
use eventcore::broker::{HandlerError, Message, MessageHandler};
use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::{InMemoryEventStore, InMemoryTransaction, Metadata, Repository};
use eventcore_rabbitmq::ConsumerOptions;

pub use eventcore_rabbitmq::testing::{TestVhost as Vhost, rabbitmqctl as try_rabbitmqctl};

/// A vhost of this test's own; removed on drop.
pub fn vhost() -> Vhost {
    Vhost::new().expect("a vhost of the test's own (RabbitMQ must run: bash .ci/services)")
}

/// Runs `rabbitmqctl`; it must succeed.
pub fn rabbitmqctl(args: &[&str]) {
    try_rabbitmqctl(args).expect("rabbitmqctl succeeds");
}

/// Starts the broker application again (after a `stop_app`) however the test ends.
pub struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .arg("start_app")
            .output();
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["await_startup", "--timeout", "60"])
            .output();
    }
}

pub fn options(queue: &str) -> ConsumerOptions {
    ConsumerOptions::new(queue, &["counter.*"])
        .with_max_attempts(3)
        .with_backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
}

/// Mirrors every added amount onto `mirror-<stream>` in its own store; fails the first
/// `fail_first` attempts at each message of stream `counter-bad`.
pub struct Mirror {
    pub repo: Repository<Counter>,
    pub failures: Arc<AtomicU32>,
    pub fail_first: u32,
}

#[async_trait]
impl MessageHandler<InMemoryTransaction> for Mirror {
    async fn handle(
        &self,
        tx: &mut InMemoryTransaction,
        message: &Message,
    ) -> Result<(), HandlerError> {
        if message.stream.as_str() == "counter-bad"
            && self.failures.fetch_add(1, Ordering::SeqCst) < self.fail_first
        {
            return Err(HandlerError::transient("not yet"));
        }
        let CounterEvent::Added { amount } = message
            .decode(&Default::default())
            .map_err(HandlerError::permanent)?
        else {
            return Ok(());
        };
        self.repo
            .execute_in(
                tx,
                CounterCommand::add(format!("mirror-{}", message.stream.as_str()), amount),
                Metadata::default(),
            )
            .await
            .map_err(|e| HandlerError::transient(e.to_string()))?;
        Ok(())
    }
}

pub async fn total(store: &InMemoryEventStore, id: &str) -> u64 {
    Repository::<Counter>::new(store.clone())
        .load(id)
        .await
        .unwrap()
        .state
        .total
}

/// Runs `consumer` in a task until the returned sender fires; the task's result says how it
/// ended.
pub fn spawn<S, H>(
    consumer: eventcore_rabbitmq::RabbitConsumer<S, H>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), eventcore_rabbitmq::ConsumerError>>,
)
where
    S: eventcore::TransactionalStore + Send + Sync,
    S::Transaction: Send,
    H: MessageHandler<S::Transaction>,
{
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

/// A consumer of `counter.*` into `target`'s inbox `queue`, mirroring with [`Mirror`] (which
/// fails `counter-bad` the first `fail_first` times).
pub fn mirror_consumer(
    vhost: &Vhost,
    target: &InMemoryEventStore,
    queue: &str,
    fail_first: u32,
) -> eventcore_rabbitmq::RabbitConsumer<InMemoryEventStore, Mirror> {
    eventcore_rabbitmq::RabbitConsumer::new(
        &vhost.uri(),
        "shop",
        options(queue),
        eventcore::broker::Inbox::new(target.clone(), queue),
        Mirror {
            repo: Repository::new(target.clone()),
            failures: Arc::default(),
            fail_first,
        },
    )
}

/// Relay options: batches of `batch`, retried forever with a short backoff.
pub fn relay_options(batch: usize) -> eventcore::projection::ProjectionOptions {
    eventcore::projection::ProjectionOptions::default()
        .with_batch_size(batch)
        .with_policy(
            eventcore::projection::ErrorPolicy::retry_forever().with_backoff(Backoff::new(
                Duration::from_millis(20),
                Duration::from_millis(200),
            )),
        )
}

/// Waits (up to 10 s) until `readiness` says the consumer consumes every queue.
pub async fn wait_ready(readiness: &eventcore_rabbitmq::Readiness) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !readiness.is_ready() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the consumer became ready"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (up to 60 s) until every mirror of `counters` (`mirror-counter-<id>`) in `target`
/// totals `want`, failing at once if one goes beyond it (applied twice); then checks, after a
/// pause for late duplicates, that none moved.
pub async fn wait_for_mirrors(target: &InMemoryEventStore, counters: &[String], want: &[u64]) {
    let totals = async || {
        let mut totals = Vec::new();
        for id in counters {
            totals.push(total(target, &format!("mirror-counter-{id}")).await);
        }
        totals
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = totals().await;
        if now == want {
            break;
        }
        assert!(
            now.iter().zip(want).all(|(t, w)| t <= w),
            "an event applied twice: {now:?}, want {want:?}"
        );
        assert!(
            tokio::time::Instant::now() < deadline,
            "mirrored {now:?}, want {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(totals().await, want, "each event applied once");
}
