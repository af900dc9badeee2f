//! The suite's handler (it records the order messages were applied in and can fail or hang
//! on cue), its metrics tally, and the log and mirror the cases share.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{BrokerUnderTest, ConsumerSpec, RunningConsumer};
use crate::backoff::Backoff;
use crate::broker::{BrokerMetrics, HandlerError, Inbox, Message, MessageHandler, Relay};
use crate::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner, RunningProjections};
use crate::testing::counter::{Counter, CounterCommand, CounterEvent};
use crate::{
    EventReader, InMemoryEventStore, InMemoryTransaction, Metadata, Repository, StreamId, Upcasters,
};

/// Appends each message's stream version to `mirror-<stream>` in the consumer's store, so
/// the mirror's events show the order the messages were applied in. On cue it fails a
/// stream's messages, or hangs (for a kill) in a handler or after a commit. Clones share
/// the cues.
#[derive(Clone)]
pub struct SuiteHandler {
    repo: Repository<Counter>,
    cues: Arc<Mutex<Cues>>,
    pause: Duration,
}

#[derive(Default)]
struct Cues {
    /// Stream → transient failures left (`u32::MAX`: fail until healed).
    failing: HashMap<String, u32>,
    /// Messages to handle before hanging in the handler, and whom to tell.
    hang_in_handler: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
    /// Commits to see before hanging after one, and whom to tell.
    hang_after_commit: Option<(usize, tokio::sync::oneshot::Sender<()>)>,
}

impl SuiteHandler {
    /// A handler mirroring into `target`.
    pub fn new(target: &InMemoryEventStore) -> Self {
        Self {
            repo: Repository::new(target.clone()),
            cues: Arc::default(),
            pause: Duration::ZERO,
        }
    }

    /// The same handler pausing `pause` in each message (room for a concurrent handler).
    pub fn with_pause(self, pause: Duration) -> Self {
        Self { pause, ..self }
    }

    fn cues(&self) -> std::sync::MutexGuard<'_, Cues> {
        self.cues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fails `stream`'s messages transiently `times` times in all (`u32::MAX`: until
    /// [`heal`](Self::heal)).
    pub fn fail(&self, stream: &str, times: u32) {
        self.cues().failing.insert(stream.to_owned(), times);
    }

    /// Stops failing `stream`.
    pub fn heal(&self, stream: &str) {
        self.cues().failing.remove(stream);
    }

    /// After `messages` more messages handled, hangs inside the next one (its transaction
    /// open) and fires the returned receiver.
    pub fn hang_in_handler_after(&self, messages: usize) -> tokio::sync::oneshot::Receiver<()> {
        let (tell, told) = tokio::sync::oneshot::channel();
        self.cues().hang_in_handler = Some((messages, tell));
        told
    }

    /// After `commits` more committed transactions, hangs after the next one commits
    /// (before the broker is told) and fires the returned receiver.
    pub fn hang_after_commit_after(&self, commits: usize) -> tokio::sync::oneshot::Receiver<()> {
        let (tell, told) = tokio::sync::oneshot::channel();
        self.cues().hang_after_commit = Some((commits, tell));
        told
    }

    /// Takes a hang cue that is due, counting one more step otherwise.
    fn due(cue: &mut Option<(usize, tokio::sync::oneshot::Sender<()>)>) -> bool {
        match cue.take() {
            Some((0, tell)) => {
                let _ = tell.send(());
                true
            }
            Some((left, tell)) => {
                *cue = Some((left - 1, tell));
                false
            }
            None => false,
        }
    }
}

#[async_trait]
impl MessageHandler<InMemoryTransaction> for SuiteHandler {
    async fn handle(
        &self,
        tx: &mut InMemoryTransaction,
        message: &Message,
    ) -> Result<(), HandlerError> {
        let (fail, hang) = {
            let mut cues = self.cues();
            let fail = match cues.failing.get_mut(message.stream.as_str()) {
                Some(0) | None => false,
                Some(left) => {
                    *left = left.saturating_sub(u32::from(*left != u32::MAX));
                    true
                }
            };
            (fail, Self::due(&mut cues.hang_in_handler))
        };
        if hang {
            std::future::pending::<()>().await;
        }
        if fail {
            return Err(HandlerError::transient(format!(
                "{} is failing on cue",
                message.stream
            )));
        }
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        let target = format!("mirror-{}", message.stream.as_str());
        self.repo
            .execute_in(
                tx,
                CounterCommand::add(target, message.stream_version),
                Metadata::default(),
            )
            .await
            .map_err(|e| HandlerError::transient(e.to_string()))?;
        Ok(())
    }

    async fn committed(&self, _messages: &[&Message]) {
        let hang = Self::due(&mut self.cues().hang_after_commit);
        if hang {
            std::future::pending::<()>().await;
        }
    }
}

/// Counts what relays and consumers report. Share it with [`Arc`].
#[derive(Debug, Default)]
pub struct Tally {
    /// Messages published and confirmed.
    pub published: AtomicUsize,
    /// Messages applied.
    pub handled: AtomicUsize,
    /// Redelivered messages skipped.
    pub duplicates: AtomicUsize,
    /// Messages retried.
    pub retried: AtomicUsize,
    /// Messages dead-lettered.
    pub dead_lettered: AtomicUsize,
}

impl Tally {
    /// A count's current value.
    pub fn get(count: &AtomicUsize) -> usize {
        count.load(Ordering::SeqCst)
    }
}

impl BrokerMetrics for Tally {
    fn published(&self, count: usize) {
        self.published.fetch_add(count, Ordering::SeqCst);
    }
    fn handled(&self, count: usize) {
        self.handled.fetch_add(count, Ordering::SeqCst);
    }
    fn duplicates(&self, count: usize) {
        self.duplicates.fetch_add(count, Ordering::SeqCst);
    }
    fn retried(&self, count: usize) {
        self.retried.fetch_add(count, Ordering::SeqCst);
    }
    fn dead_lettered(&self, count: usize) {
        self.dead_lettered.fetch_add(count, Ordering::SeqCst);
    }
}

/// The log a case publishes, the consumers' store, and what they report.
pub(super) struct World {
    pub source: InMemoryEventStore,
    pub target: InMemoryEventStore,
    pub handler: SuiteHandler,
    pub tally: Arc<Tally>,
    /// Stream → events appended to it.
    appended: Mutex<HashMap<String, u64>>,
}

pub(super) const GROUP: &str = "suite";

impl World {
    pub fn new() -> Self {
        let target = InMemoryEventStore::new();
        Self {
            source: InMemoryEventStore::new(),
            handler: SuiteHandler::new(&target),
            target,
            tally: Arc::default(),
            appended: Mutex::default(),
        }
    }

    /// Starts a consumer of [`GROUP`] with the world's handler and tally: 3 attempts per
    /// message, 10 ms growing to 100 ms between them.
    pub fn consumer<B: BrokerUnderTest>(&self, broker: &B) -> RunningConsumer {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        self.consumer_with(broker, 3, backoff)
    }

    /// Starts a consumer of [`GROUP`] with the world's handler and tally, `max_attempts`
    /// attempts per message and `backoff` between them.
    pub fn consumer_with<B: BrokerUnderTest>(
        &self,
        broker: &B,
        max_attempts: u32,
        backoff: Backoff,
    ) -> RunningConsumer {
        broker.consumer(ConsumerSpec {
            group: GROUP.to_owned(),
            inbox: Inbox::new(self.target.clone(), GROUP),
            handler: self.handler.clone(),
            metrics: self.tally.clone(),
            max_attempts,
            backoff,
        })
    }

    /// Starts a relay (projection `relay`, batches of `batch`) through `publisher`.
    pub fn relay<P: crate::broker::Publisher + 'static>(
        &self,
        publisher: P,
        batch: usize,
    ) -> RunningProjections<InMemoryEventStore> {
        let options = ProjectionOptions::default()
            .with_batch_size(batch)
            .with_policy(ErrorPolicy::retry_forever().with_backoff(Backoff::new(
                Duration::from_millis(20),
                Duration::from_millis(200),
            )));
        ProjectionRunner::new(self.source.clone())
            .add(
                "relay",
                Relay::new(publisher).with_metrics(self.tally.clone()),
                options,
            )
            .start()
            .expect("one projection")
    }

    /// Appends one event to each of `streams` counters, `rounds` times, round robin (the
    /// streams interleave in the log).
    pub async fn append(&self, streams: &[String], rounds: u64) {
        let repo = Repository::<Counter>::new(self.source.clone());
        for _ in 0..rounds {
            for id in streams {
                repo.execute(CounterCommand::add(id.clone(), 1))
                    .await
                    .expect("the in-memory log appends");
                *self
                    .appended
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(format!("counter-{id}"))
                    .or_default() += 1;
            }
        }
    }

    /// The versions applied to the mirror of `stream`, in the order they were applied.
    async fn mirrored(&self, stream: &str) -> Vec<u64> {
        let mirror = StreamId::new(format!("counter-mirror-{stream}")).expect("a valid id");
        let events = self
            .target
            .read_stream(&mirror, 1, usize::MAX)
            .await
            .expect("the in-memory store reads");
        events
            .iter()
            .map(|e| match e.decode::<CounterEvent>(&Upcasters::default()) {
                Ok(CounterEvent::Added { amount }) => amount,
                other => panic!("{stream}: an unexpected mirror event {other:?}"),
            })
            .collect()
    }

    /// Waits (up to `limit`) until every appended stream's events were applied to its mirror
    /// once each, in version order; fails at once on an event applied twice or out of order.
    /// Then checks, after a pause for late redeliveries, that nothing more was applied.
    pub async fn assert_mirrored_once_in_order(&self, limit: Duration) {
        self.assert_mirrored_except(limit, &[]).await;
    }

    /// [`assert_mirrored_once_in_order`](Self::assert_mirrored_once_in_order) for every
    /// stream but `except` (counter ids).
    pub async fn assert_mirrored_except(&self, limit: Duration, except: &[&str]) {
        let appended: Vec<(String, u64)> = self
            .appended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(s, _)| !except.iter().any(|id| **s == format!("counter-{id}")))
            .map(|(s, n)| (s.clone(), *n))
            .collect();
        let deadline = tokio::time::Instant::now() + limit;
        for settled in [false, true] {
            for (stream, count) in &appended {
                loop {
                    let seen = self.mirrored(stream).await;
                    let expected: Vec<u64> = (1..=seen.len() as u64).collect();
                    assert_eq!(seen, expected, "{stream}: once each, in version order");
                    assert!(seen.len() as u64 <= *count, "{stream}: applied twice");
                    if seen.len() as u64 == *count {
                        break;
                    }
                    assert!(
                        !settled && tokio::time::Instant::now() < deadline,
                        "{stream}: {} of {count} applied",
                        seen.len()
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            if !settled {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// `count` stream ids `<prefix>0`, `<prefix>1`, ...
pub(super) fn streams(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}{i}")).collect()
}
