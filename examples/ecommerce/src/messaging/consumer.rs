//! A running consumer: its task, its readiness, and what it did (counts and lag).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use eventcore::broker::{BrokerMetrics, HandlerError, Message, MessageHandler};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a consumer applied and gave up on, and how far behind it is.
#[derive(Debug, Default)]
pub struct ConsumerFigures {
    handled: AtomicU64,
    dead_lettered: AtomicU64,
    lag_micros: AtomicU64,
}

fn bump(counter: &AtomicU64, count: usize) {
    counter.fetch_add(count as u64, Ordering::Relaxed);
}

impl ConsumerFigures {
    /// Messages applied (committed).
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Messages sent to the dead-letter queue or topic.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// The consumer's lag: how long after its append in the sending service the newest
    /// applied message committed here, in seconds (0 before the first one).
    pub fn lag_seconds(&self) -> f64 {
        self.lag_micros.load(Ordering::Relaxed) as f64 / 1e6
    }
}

impl BrokerMetrics for ConsumerFigures {
    fn handled(&self, count: usize) {
        bump(&self.handled, count);
    }

    fn dead_lettered(&self, count: usize) {
        bump(&self.dead_lettered, count);
    }
}

/// A handler that records the consumer's lag after each commit.
pub(super) struct Tracked<H> {
    inner: H,
    figures: Arc<ConsumerFigures>,
}

impl<H> Tracked<H> {
    pub(super) fn new(inner: H, figures: Arc<ConsumerFigures>) -> Self {
        Self { inner, figures }
    }
}

#[eventcore::async_trait]
impl<Tx: Send, H: MessageHandler<Tx>> MessageHandler<Tx> for Tracked<H> {
    async fn handle(&self, tx: &mut Tx, message: &Message) -> Result<(), HandlerError> {
        self.inner.handle(tx, message).await
    }

    async fn committed(&self, messages: &[&Message]) {
        self.inner.committed(messages).await;
        if let Some(newest) = messages.iter().map(|m| m.recorded_at).max() {
            let lag = SystemTime::now()
                .duration_since(newest)
                .unwrap_or_default()
                .as_micros();
            let lag = u64::try_from(lag).unwrap_or(u64::MAX);
            self.figures.lag_micros.store(lag, Ordering::Relaxed);
        }
    }
}

/// Completes once `stopped` reads true (or its sender is gone).
pub(super) async fn stop_signal(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// A consumer running in the background.
pub struct Consumer {
    broker: super::Broker,
    name: String,
    stop: watch::Sender<bool>,
    task: std::sync::Mutex<Option<JoinHandle<Result<(), String>>>>,
    ready: Box<dyn Fn() -> bool + Send + Sync>,
    figures: Arc<ConsumerFigures>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Consumer {
    pub(super) fn new(
        broker: &super::Broker,
        name: &str,
        stop: watch::Sender<bool>,
        task: JoinHandle<Result<(), String>>,
        ready: Box<dyn Fn() -> bool + Send + Sync>,
        figures: Arc<ConsumerFigures>,
    ) -> Self {
        Self {
            broker: broker.clone(),
            name: name.to_owned(),
            stop,
            task: std::sync::Mutex::new(Some(task)),
            ready,
            figures,
        }
    }

    /// Its name (queue or group, and inbox).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it consumes right now (for a readiness probe).
    pub fn is_ready(&self) -> bool {
        let running = self
            .task
            .lock()
            .is_ok_and(|task| task.as_ref().is_some_and(|t| !t.is_finished()));
        running && (self.ready)()
    }

    /// Up to `limit` of the messages it gave up on (its dead-letter queue or topic).
    ///
    /// # Errors
    /// The broker cannot be reached.
    pub async fn dead_letters(
        &self,
        limit: usize,
    ) -> Result<Vec<super::BrokerDeadLetter>, super::BrokerError> {
        self.broker.dead_letters(&self.name, limit).await
    }

    /// What it did so far.
    pub fn figures(&self) -> &ConsumerFigures {
        &self.figures
    }

    /// Stops it after the messages in hand (applied and acknowledged); stopping it again
    /// does nothing.
    ///
    /// # Errors
    /// Why it had stopped already, if it failed.
    pub async fn shutdown(&self) -> Result<(), String> {
        let _ = self.stop.send(true);
        let task = self.task.lock().ok().and_then(|mut task| task.take());
        match task {
            None => Ok(()),
            Some(task) => match task.await {
                Ok(result) => result,
                Err(error) => Err(format!("the consumer task failed: {error}")),
            },
        }
    }
}
