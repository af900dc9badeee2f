//! Typed projections: one aggregate type's events, decoded, the rest skipped unread.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use super::Projection;
use crate::aggregate::Aggregate;
use crate::error::{BoxError, CodecError};
use crate::event::{Envelope, RecordedEvent};
use crate::id::StreamId;
use crate::upcast::Upcasters;

/// The event type of aggregate `A`.
pub type EventOf<A> = <A as Aggregate>::Event;

/// A read model of one aggregate type, fed its events decoded.
///
/// Wrap it in [`Typed`] to run it: events of other aggregate types (other stream categories,
/// see [`StreamId::category`](crate::StreamId::category)) and event types
/// [`handles`](Self::handles) declines are skipped without being decoded, so a projection of
/// carts never stops on an order event, and `Placed` of one aggregate never reads as `Placed`
/// of another.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::projection::{AggregateProjection, EventOf, ProjectionOptions, ProjectionRunner, Typed};
/// use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
/// use eventcore::{BoxError, Envelope, EventReader, InMemoryEventStore, InMemoryTransaction, Repository};
///
/// /// Sums what was added to every counter (in memory: at least once; a model in the store's
/// /// database, written through `tx`, is exactly once).
/// #[derive(Clone, Default)]
/// struct Added(std::sync::Arc<std::sync::atomic::AtomicU64>);
///
/// #[eventcore::async_trait]
/// impl AggregateProjection<InMemoryTransaction> for Added {
///     type Aggregate = Counter;
///
///     fn handles(&self, event_type: &str) -> bool {
///         event_type == "Added" // the others are skipped unread
///     }
///
///     async fn apply(&mut self, _tx: &mut InMemoryTransaction, event: Envelope<EventOf<Counter>>) -> Result<(), BoxError> {
///         if let CounterEvent::Added { amount } = event.event {
///             self.0.fetch_add(amount, std::sync::atomic::Ordering::Relaxed);
///         }
///         Ok(())
///     }
/// }
///
/// let store = InMemoryEventStore::new();
/// let added = Added::default();
/// let running = ProjectionRunner::new(store.clone())
///     .add("added", Typed::new(added.clone()), ProjectionOptions::default())
///     .start()
///     .unwrap();
/// let counters = Repository::<Counter>::new(store.clone());
/// counters.execute(CounterCommand::add("a", 2)).await.unwrap();
/// counters.execute(CounterCommand::subtract("a", 1)).await.unwrap();
/// running.wait_until("added", store.head_position().await.unwrap()).await.unwrap();
/// assert_eq!(added.0.load(std::sync::atomic::Ordering::Relaxed), 2);
/// running.shutdown().await.unwrap();
/// # });
/// ```
#[async_trait]
pub trait AggregateProjection<Tx: Send>: Send + 'static {
    /// The aggregate whose streams this projection reads.
    type Aggregate: Aggregate;

    /// Whether to decode and apply events of `event_type` (the stored type name, e.g. the
    /// enum variant's name); the others are skipped unread. All of them by default.
    fn handles(&self, event_type: &str) -> bool {
        let _ = event_type;
        true
    }

    /// Applies one event inside `tx` (the batch's transaction: an error rolls the batch back
    /// and the runner applies its events one by one under the projection's error policy).
    async fn apply(
        &mut self,
        tx: &mut Tx,
        event: Envelope<EventOf<Self::Aggregate>>,
    ) -> Result<(), BoxError>;

    /// As [`Projection::prepare`].
    async fn prepare(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let _ = tx;
        Ok(())
    }

    /// As [`Projection::promote`].
    async fn promote(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        let _ = tx;
        Ok(())
    }
}

/// A stored event of a typed projection's aggregate that does not decode as its event type (an
/// unknown type name, a malformed payload, a missing upcaster).
#[derive(Debug, thiserror::Error)]
#[error(
    "event at version {version} (position {position}) of stream {stream} cannot be decoded: {source}"
)]
pub struct UndecodableEvent {
    /// The event's stream.
    pub stream: StreamId,
    /// Its stream version.
    pub version: u64,
    /// Its global position.
    pub position: u64,
    /// Why.
    #[source]
    pub source: CodecError,
}

/// Runs an [`AggregateProjection`] as a [`Projection`]: filters the log to its aggregate's
/// streams and event types, decodes (upcasting older schema versions first) and applies one
/// event at a time. An event of its aggregate that does not decode is an error of the
/// projection (its [`ErrorPolicy`](super::ErrorPolicy) decides).
pub struct Typed<P, Tx> {
    inner: P,
    upcasters: Arc<Upcasters>,
    _tx: PhantomData<fn(Tx)>,
}

impl<P, Tx> Typed<P, Tx> {
    /// Wraps `projection`, with no upcasters.
    pub fn new(projection: P) -> Self {
        Self {
            inner: projection,
            upcasters: Arc::new(Upcasters::new()),
            _tx: PhantomData,
        }
    }

    /// Lifts events stored under older schema versions with `upcasters` (an [`Upcasters`] or
    /// a shared `Arc<Upcasters>`) before decoding.
    pub fn with_upcasters(mut self, upcasters: impl Into<Arc<Upcasters>>) -> Self {
        self.upcasters = upcasters.into();
        self
    }

    /// The wrapped projection.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: std::fmt::Debug, Tx> std::fmt::Debug for Typed<P, Tx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed").field("inner", &self.inner).finish()
    }
}

#[async_trait]
impl<P, Tx> Projection<Tx> for Typed<P, Tx>
where
    P: AggregateProjection<Tx>,
    Tx: Send + 'static,
{
    async fn apply(&mut self, tx: &mut Tx, events: &[RecordedEvent]) -> Result<(), BoxError> {
        for record in events {
            if !self.wants(record) {
                continue;
            }
            let event = record
                .decode::<EventOf<P::Aggregate>>(&self.upcasters)
                .map_err(|source| UndecodableEvent {
                    stream: record.stream_id.clone(),
                    version: record.stream_version,
                    position: record.global_position,
                    source,
                })?;
            self.inner.apply(tx, record.to_envelope(event)).await?;
        }
        Ok(())
    }

    fn wants(&self, record: &RecordedEvent) -> bool {
        P::Aggregate::owns(&record.stream_id) && self.inner.handles(&record.event_type)
    }

    async fn prepare(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        self.inner.prepare(tx).await
    }

    async fn promote(&mut self, tx: &mut Tx) -> Result<(), BoxError> {
        self.inner.promote(tx).await
    }
}
