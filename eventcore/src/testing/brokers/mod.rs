//! The broker conformance suite: what every broker adapter (`eventcore-rabbitmq`,
//! `eventcore-kafka`) proves against its real broker, unchanged — per-stream order with
//! racing relays and several consumers, a consumer joining and leaving, retries and dead
//! letters, the crash points of relay and consumer, lost connections, a broker restart, a
//! clean shutdown and a stop not held up by a message waiting to be retried.
//!
//! An adapter implements [`BrokerUnderTest`] (its publisher, a consumer process, and how to
//! disturb the broker, on a namespace of the test run's own) and writes the tests with
//! [`broker_tests!`](crate::broker_tests). The log and the consumers' inboxes are in-memory
//! stores, so what is measured is the adapter. In an adapter's `tests/suite.rs`,
//! `eventcore::broker_tests!(MyBroker::isolated);` writes every case as a test, where
//! `MyBroker::isolated` is an `async fn` returning a fresh [`BrokerUnderTest`].

mod cases;
mod crashes;
mod handler;
pub mod workload;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::InMemoryEventStore;
use crate::backoff::Backoff;
use crate::broker::{BrokerMetrics, Inbox, Publisher};

pub use cases::{
    a_clean_shutdown_acknowledges_what_it_handled, a_consumer_joining_and_leaving_mid_stream,
    a_stop_does_not_wait_for_a_message_retrying_in_place,
    failing_messages_are_retried_in_order_then_dead_lettered_and_replayed,
    streams_keep_their_order_with_racing_relays_and_three_consumers,
};
pub use crashes::{
    a_broker_restart_under_load_is_recovered_from,
    a_consumer_killed_after_its_commit_before_its_ack, a_consumer_killed_mid_batch,
    a_relay_killed_after_publishing_before_its_checkpoint,
    connections_closed_under_load_are_recovered_from,
};
pub use handler::{SuiteHandler, Tally};

/// A broker adapter under test, on a namespace no other test run sees (a vhost, a topic
/// prefix), removed when the value is dropped.
///
/// The suite's messages are the events of [`Counter`](crate::testing::counter::Counter)
/// (category `counter`); consumers receive all of them.
#[async_trait]
pub trait BrokerUnderTest: Send + Sync + 'static {
    /// The adapter's publisher.
    type Publisher: Publisher + 'static;

    /// A connected publisher into this run's namespace, for a [`Relay`](crate::broker::Relay).
    async fn publisher(&self) -> Self::Publisher;

    /// Starts one consumer process of `spec.group`. Processes of one group share its
    /// messages; one stream's messages are handled by one of them at a time, in order.
    fn consumer(&self, spec: ConsumerSpec) -> RunningConsumer;

    /// Closes every client connection of this run, as a network failure would; returns how
    /// many it closed.
    async fn close_connections(&self) -> usize;

    /// Stops the broker and starts it again (or pauses and resumes it); returns once it
    /// accepts connections again.
    async fn restart_broker(&self);

    /// Publishes `body`, which is no message of the log, where `group`'s consumers receive
    /// it (it names the stream `counter-malformed`, where the adapter has such a notion).
    async fn publish_malformed(&self, group: &str, body: &[u8]);

    /// `group`'s dead letters, oldest first, left where they are.
    async fn dead_letters(&self, group: &str) -> Vec<DeadLetterView>;

    /// Publishes `group`'s dead letters again to where they first went; returns how many.
    async fn replay_dead_letters(&self, group: &str) -> usize;
}

/// What the suite asks of a consumer process.
pub struct ConsumerSpec {
    /// Its group (queue, consumer group); also the inbox's consumer name.
    pub group: String,
    /// Its inbox.
    pub inbox: Inbox<InMemoryEventStore>,
    /// Its handler.
    pub handler: SuiteHandler,
    /// Where it reports what it handled.
    pub metrics: Arc<dyn BrokerMetrics>,
    /// Attempts at a transiently failing message before it is dead-lettered.
    pub max_attempts: u32,
    /// The pause between attempts and reconnections.
    pub backoff: Backoff,
}

/// A dead letter as the suite checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterView {
    /// The message id (the event id), when the message had one.
    pub message_id: Option<String>,
    /// Why it was dead-lettered.
    pub error: String,
    /// How many times it was tried (0 for a message that could not be read).
    pub attempts: u32,
    /// Where it was first published (routing key, topic), as the adapter records it.
    pub origin: String,
}

type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A consumer process running in a task: stopped cleanly or killed.
pub struct RunningConsumer {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), String>>,
    ready: Box<dyn Fn() -> bool + Send + Sync>,
}

impl RunningConsumer {
    /// Spawns `run` (the consumer's run loop, given the future that completes on shutdown);
    /// `ready` is its readiness probe.
    pub fn spawn<F, E>(
        ready: impl Fn() -> bool + Send + Sync + 'static,
        run: impl FnOnce(Shutdown) -> F,
    ) -> Self
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = run(Box::pin(async move {
            let _ = stopped.await;
        }));
        let task = tokio::spawn(async move { running.await.map_err(|e| e.to_string()) });
        Self {
            stop,
            task,
            ready: Box::new(ready),
        }
    }

    /// Whether it consumes (its readiness probe).
    pub fn is_ready(&self) -> bool {
        (self.ready)()
    }

    /// Waits (up to 30 s) until it is ready.
    ///
    /// # Panics
    /// If it does not become ready.
    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !self.is_ready() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the consumer became ready"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops it cleanly (it finishes and acknowledges what it has in hand) and returns how
    /// it ended.
    ///
    /// # Errors
    /// The consumer's own error, or its task's panic.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.stop.send(());
        self.task.await.map_err(|e| e.to_string())?
    }

    /// Kills it wherever it is, as a crash would (its connections are dropped).
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Writes one `#[tokio::test]` per case of the broker suite, except the broker restart
/// (which disturbs every test of the broker at once: give it a test binary of its own with
/// [`broker_restart_test!`](crate::broker_restart_test)); `$broker` is an expression for a
/// closure returning a future of a fresh [`BrokerUnderTest`].
#[macro_export]
macro_rules! broker_tests {
    ($broker:expr) => {
        $crate::broker_tests!(@tests $broker;
            streams_keep_their_order_with_racing_relays_and_three_consumers,
            failing_messages_are_retried_in_order_then_dead_lettered_and_replayed,
            a_clean_shutdown_acknowledges_what_it_handled,
            a_stop_does_not_wait_for_a_message_retrying_in_place,
            a_consumer_joining_and_leaving_mid_stream,
            a_relay_killed_after_publishing_before_its_checkpoint,
            a_consumer_killed_after_its_commit_before_its_ack,
            a_consumer_killed_mid_batch,
            connections_closed_under_load_are_recovered_from,
        );
    };
    (@tests $broker:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let broker = ($broker)().await;
                $crate::testing::brokers::$name(broker).await;
            }
        )*
    };
}

/// Writes the broker suite's restart case as a `#[tokio::test]`, for a test binary of its own.
#[macro_export]
macro_rules! broker_restart_test {
    ($broker:expr) => {
        $crate::broker_tests!(@tests $broker; a_broker_restart_under_load_is_recovered_from);
    };
}
