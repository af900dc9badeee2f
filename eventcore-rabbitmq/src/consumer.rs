//! [`RabbitConsumer`]: deliveries from a durable queue applied once in effect through an
//! [`Inbox`], acknowledged only after their transaction committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use eventcore::RetryPolicy;
use eventcore::TransactionalStore;
use eventcore::backoff::Backoff;
use eventcore::broker::{
    BrokerMetrics, Finished, Inbox, MessageHandler, NoMetrics, finish_or_drop,
};
use futures::{FutureExt, StreamExt};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel};

use crate::publisher::{confirming_channel, publish_confirmed, within};
use crate::topology;
use crate::wire::message_of;

/// How a [`RabbitConsumer`] consumes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConsumerOptions {
    /// Its durable queue; dead letters go to `<queue>.dlq`.
    pub queue: String,
    /// The routing keys it binds the queue with (`order.*`, `#`, ...).
    pub bindings: Vec<String>,
    /// Queues the messages are spread over by stream, handled side by side (1 to 64; see the
    /// crate docs). Every process of one consumer must use the same number.
    pub partitions: u16,
    /// Deliveries the broker hands out before they are acknowledged.
    pub prefetch: u16,
    /// Deliveries applied in one transaction at most.
    pub batch: usize,
    /// How long a batch waits for more deliveries once it has its first, while it is not full
    /// (zero: it takes what has arrived and goes). Under load a few milliseconds make batches,
    /// and so transactions, several times fewer, at that much more latency per message.
    pub linger: Duration,
    /// Attempts at a message that keeps failing transiently before it is dead-lettered.
    pub max_attempts: u32,
    /// The pause between attempts, and between reconnections.
    pub backoff: Backoff,
}

impl ConsumerOptions {
    /// Options for `queue` bound with `bindings`: one partition, prefetch 256, batches of 64
    /// without lingering, 5 attempts, 100 ms growing to 5 s between them.
    pub fn new(queue: impl Into<String>, bindings: &[&str]) -> Self {
        Self {
            queue: queue.into(),
            bindings: bindings.iter().map(|b| (*b).to_owned()).collect(),
            partitions: 1,
            prefetch: 256,
            batch: 64,
            linger: Duration::ZERO,
            max_attempts: 5,
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(5)),
        }
    }

    /// The same options with `max_attempts` attempts per message.
    pub fn with_max_attempts(self, max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..self
        }
    }

    /// The same options with `partitions` partitions (clamped to 1..=64).
    pub fn with_partitions(self, partitions: u16) -> Self {
        Self {
            partitions: partitions.clamp(1, crate::wire::BUCKETS),
            ..self
        }
    }

    /// The same options with batches waiting up to `linger` for more deliveries (see
    /// [`linger`](Self::linger)).
    pub fn with_linger(self, linger: Duration) -> Self {
        Self { linger, ..self }
    }

    /// The same options with another pause between attempts.
    pub fn with_backoff(self, backoff: Backoff) -> Self {
        Self { backoff, ..self }
    }

    /// The dead-letter queue's name.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dlq", self.queue)
    }
}

/// Consumes a queue bound to an exchange: each batch of deliveries is applied through the
/// [`Inbox`] (handler and inbox record in one store transaction), then acknowledged. A message
/// that fails transiently is retried in place with backoff, holding back the rest of the
/// batch, so nothing of its stream overtakes it; after `max_attempts`, or at once when it is
/// malformed or fails permanently, it goes to `<queue>.dlq` with the error, the attempt count
/// and its original routing. A lost connection is opened again with backoff, and the
/// topology declared again.
pub struct RabbitConsumer<S, H> {
    uri: String,
    exchange: String,
    options: ConsumerOptions,
    inbox: Inbox<S>,
    handler: H,
    metrics: Arc<dyn BrokerMetrics>,
    readiness: Readiness,
}

/// Whether a consumer is consuming every one of its queues, for a readiness probe: not while
/// it connects, reconnects after a lost connection, or has stopped. Clones share the state.
#[derive(Clone, Debug)]
pub struct Readiness {
    consuming: Arc<AtomicUsize>,
    queues: usize,
}

impl Readiness {
    /// Whether every queue is being consumed right now.
    pub fn is_ready(&self) -> bool {
        self.consuming.load(Ordering::Acquire) == self.queues
    }
}

/// Counts a queue as consumed while it lives.
struct Consuming(Arc<AtomicUsize>);

impl Consuming {
    fn start(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::AcqRel);
        Self(counter.clone())
    }
}

impl Drop for Consuming {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Why the consumer stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumerError {
    /// The store failed in a way no retry of one message can fix.
    #[error("store: {0}")]
    Store(#[from] eventcore::StoreError),
}

impl<S, H> RabbitConsumer<S, H>
where
    S: TransactionalStore,
    H: MessageHandler<S::Transaction>,
{
    /// A consumer of `exchange` at `uri` into `inbox` through `handler`.
    pub fn new(
        uri: &str,
        exchange: &str,
        options: ConsumerOptions,
        inbox: Inbox<S>,
        handler: H,
    ) -> Self {
        let readiness = Readiness {
            consuming: Arc::default(),
            queues: topology::queues(&options).len(),
        };
        Self {
            uri: uri.to_owned(),
            exchange: exchange.to_owned(),
            options,
            inbox,
            handler,
            metrics: Arc::new(NoMetrics),
            readiness,
        }
    }

    /// Reports handled, duplicate, retried and dead-lettered messages to `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dyn BrokerMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Its readiness, for a health probe (take it before [`run`](Self::run)).
    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Consumes until `shutdown` completes (then finishes the batches in hand, acknowledges
    /// them and returns; a batch not settled within
    /// [`STOP_GRACE`](eventcore::broker::STOP_GRACE) is dropped unacknowledged, to be delivered
    /// again), each queue (partition) on a connection of its own, reconnecting whenever one is
    /// lost.
    ///
    /// # Errors
    /// [`ConsumerError::Store`] when the store fails in a way no retry can fix (a corrupt
    /// record, say); a store that is away for a while is waited for.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) -> Result<(), ConsumerError> {
        let shutdown = shutdown.boxed().shared();
        let loops = topology::queues(&self.options)
            .into_iter()
            .map(|queue| self.consume(queue, shutdown.clone()));
        futures::future::try_join_all(loops).await.map(drop)
    }

    /// Consumes `queue` until `shutdown`, reconnecting with backoff.
    async fn consume(
        &self,
        queue: String,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> Result<(), ConsumerError> {
        let mut shutdown = std::pin::pin!(shutdown.fuse());
        let mut failures = 0;
        loop {
            let session = self.session(&queue, &mut shutdown);
            match session.await {
                Ok(Stop::Shutdown) => return Ok(()),
                Ok(Stop::Lost(error)) => {
                    failures += 1;
                    tracing::warn!(%error, %queue, "consumer lost its connection; reconnecting");
                }
                Err(error) => return Err(error),
            }
            let pause = self.options.backoff.delay(failures);
            futures::select! {
                () = tokio::time::sleep(pause).fuse() => {}
                () = shutdown.as_mut() => return Ok(()),
            }
        }
    }

    /// One connection's worth of consuming.
    async fn session(
        &self,
        queue: &str,
        shutdown: &mut std::pin::Pin<
            &mut futures::future::Fuse<impl std::future::Future<Output = ()>>,
        >,
    ) -> Result<Stop, ConsumerError> {
        let channel = match self.topology().await {
            Ok(channel) => channel,
            Err(error) => return Ok(Stop::Lost(error)),
        };
        let consume = channel.basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        );
        let mut deliveries = match within("starting to consume", consume).await {
            Ok(consumer) => consumer,
            Err(error) => return Ok(Stop::Lost(error)),
        };
        let _consuming = Consuming::start(&self.readiness.consuming);
        loop {
            let first = futures::select! {
                next = deliveries.next().fuse() => next,
                () = shutdown.as_mut() => return Ok(Stop::Shutdown),
            };
            let mut batch = match first {
                Some(Ok(delivery)) => vec![delivery],
                Some(Err(error)) => return Ok(Stop::Lost(error)),
                None => {
                    return Ok(Stop::Lost(lapin::Error::from(
                        lapin::ErrorKind::InvalidChannelState(
                            lapin::ChannelState::Closed,
                            "basic.consume",
                        ),
                    )));
                }
            };
            let until = tokio::time::Instant::now() + self.options.linger;
            while batch.len() < self.options.batch {
                let next = match deliveries.next().now_or_never() {
                    Some(next) => next,
                    None if self.options.linger.is_zero() => break,
                    // Nothing in hand: wait for more, until the batch's linger is up.
                    None => match tokio::time::timeout_at(until, deliveries.next()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    },
                };
                match next {
                    Some(Ok(delivery)) => batch.push(delivery),
                    _ => break,
                }
            }
            let (settled, stopping) =
                match finish_or_drop(self.settle(&channel, batch), shutdown.as_mut()).await {
                    Finished::Settled(settled) => (settled, false),
                    Finished::SettledStopping(settled) => (settled, true),
                    Finished::Dropped => return Ok(Stop::Shutdown),
                };
            if let Err(error) = settled? {
                return Ok(Stop::Lost(error));
            }
            if stopping {
                return Ok(Stop::Shutdown);
            }
        }
    }

    /// A channel with the consumer's topology declared and its prefetch set.
    async fn topology(&self) -> Result<Channel, lapin::Error> {
        let channel = confirming_channel(&self.uri, &self.exchange).await?;
        within("declaring the topology", async {
            channel
                .basic_qos(self.options.prefetch, BasicQosOptions::default())
                .await?;
            topology::declare(&channel, &self.exchange, &self.options).await
        })
        .await?;
        Ok(channel)
    }

    /// Applies a batch of deliveries until each is applied, a duplicate or dead-lettered
    /// ([`Inbox::settle`]), then acknowledges them all at once (the last one's tag,
    /// `multiple`). The outer error is the store's; the inner one the broker's.
    async fn settle(
        &self,
        channel: &Channel,
        batch: Vec<Delivery>,
    ) -> Result<Result<(), lapin::Error>, ConsumerError> {
        let Some(last) = batch.last().map(|d| d.acker.clone()) else {
            return Ok(Ok(()));
        };
        let mut readable = Vec::with_capacity(batch.len());
        let mut messages = Vec::with_capacity(batch.len());
        for delivery in batch {
            match message_of(
                delivery.routing_key.as_str(),
                &delivery.properties,
                &delivery.data,
            ) {
                Ok(message) => {
                    messages.push(message);
                    readable.push(delivery);
                }
                Err(reason) => {
                    self.metrics.dead_lettered(1);
                    if let Err(error) = self
                        .dead_letter(channel, &delivery, &reason.to_string(), 0)
                        .await
                    {
                        return Ok(Err(error));
                    }
                }
            }
        }
        let policy = RetryPolicy {
            max_attempts: self.options.max_attempts,
            backoff: self.options.backoff,
        };
        let given_up = self
            .inbox
            .settle(&self.handler, &messages, policy, self.metrics.as_ref())
            .await?;
        for dead in given_up {
            let delivery = &readable[dead.index];
            if let Err(error) = self
                .dead_letter(channel, delivery, &dead.error.to_string(), dead.attempts)
                .await
            {
                return Ok(Err(error));
            }
        }
        let every = BasicAckOptions { multiple: true };
        Ok(last.ack(every).await.map(drop))
    }

    /// Publishes `delivery` to the dead-letter queue with why (the batch's acknowledgement
    /// covers it afterwards).
    async fn dead_letter(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        error: &str,
        attempts: u32,
    ) -> Result<(), lapin::Error> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(
            "x-error".into(),
            AMQPValue::LongString(LongString::from(error)),
        );
        headers.insert(
            "x-attempts".into(),
            AMQPValue::LongLongInt(i64::from(attempts)),
        );
        headers.insert(
            "x-original-exchange".into(),
            AMQPValue::LongString(LongString::from(delivery.exchange.as_str())),
        );
        headers.insert(
            "x-original-routing-key".into(),
            AMQPValue::LongString(LongString::from(delivery.routing_key.as_str())),
        );
        let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
        tracing::warn!(queue = %self.options.queue, %error, attempts, "dead-lettering a message");
        publish_confirmed(
            channel,
            "",
            &self.options.dead_letter_queue(),
            &delivery.data,
            properties,
        )
        .await
    }
}

/// Why a session ended.
enum Stop {
    Shutdown,
    Lost(lapin::Error),
}
