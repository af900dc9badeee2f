//! What the adapters' benchmarks share: a sample of messages and a handler that notes when
//! each message was handled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::broker::{HandlerError, Message, MessageHandler};
use crate::{
    AppendRequest, EventAppender, EventId, EventReader, ExpectedVersion, InMemoryEventStore,
    NewEvent, StoreTransaction, StreamId,
};

/// An order-placed event of about 60 bytes, numbered `n`.
pub fn sample_event(n: u64) -> NewEvent {
    let payload = format!(
        r#"{{"order_id":"o-{n}","amount":{},"currency":"USD"}}"#,
        n % 100
    );
    NewEvent::raw(
        "Placed",
        1,
        serde_json::value::RawValue::from_string(payload).expect("valid JSON"),
    )
}

/// A log of `n` sample events (rounded down to hundreds) over streams `order-0`, `order-1`,
/// ... of 100 events each.
pub async fn sample_log(n: u64) -> InMemoryEventStore {
    let store = InMemoryEventStore::new();
    for chunk in 0..n / 100 {
        store
            .append(AppendRequest::single(
                StreamId::new(format!("order-{chunk}")).expect("a valid id"),
                ExpectedVersion::NoStream,
                (0..100).map(|i| sample_event(chunk * 100 + i)).collect(),
            ))
            .await
            .expect("the in-memory log appends");
    }
    store
}

/// The messages a relay would publish for [`sample_log`]`(n)`.
pub async fn sample_messages(n: u64) -> Vec<Message> {
    sample_log(n)
        .await
        .read_all(1, usize::MAX)
        .await
        .expect("the in-memory log reads")
        .iter()
        .map(Message::from_event)
        .collect()
}

/// Appends one [`sample_event`] every `1 / rate` seconds for `seconds` to `log`, round robin
/// over 100 streams `order-l<k>`; returns each event's id and when its append returned.
pub async fn paced_appends(
    log: &InMemoryEventStore,
    rate: u64,
    seconds: u64,
) -> Vec<(EventId, Instant)> {
    let mut appended = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    for n in 0..rate * seconds {
        tick.tick().await;
        let recorded = log
            .append(AppendRequest::single(
                StreamId::new(format!("order-l{}", n % 100)).expect("a valid id"),
                ExpectedVersion::Any,
                vec![sample_event(n)],
            ))
            .await
            .expect("the in-memory log appends");
        appended.push((recorded[0].event_id, Instant::now()));
    }
    appended
}

/// Appends `count` sample events to stream `order-warm` and waits until `seen` handled them:
/// connections, channels and producer ids are set up before a latency clock runs. Returns
/// `count`, what `seen` counts from then on beside the measured events.
pub async fn warm_up(log: &InMemoryEventStore, seen: &Seen, count: u64) -> usize {
    for n in 0..count {
        log.append(AppendRequest::single(
            StreamId::new("order-warm").expect("a valid id"),
            ExpectedVersion::Any,
            vec![sample_event(n)],
        ))
        .await
        .expect("the in-memory log appends");
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    seen.wait_for(count).await;
    count
}

/// A handler that does nothing but note when each message was handled. Clones share the
/// notes.
#[derive(Clone, Debug, Default)]
pub struct Seen(Arc<Mutex<HashMap<EventId, Instant>>>);

impl Seen {
    /// How many distinct messages were handled.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// When `id` was handled.
    pub fn at(&self, id: EventId) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied()
    }

    /// Waits until `count` messages were handled.
    pub async fn wait_for(&self, count: usize) {
        while self.count() < count {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

#[async_trait]
impl<Tx: StoreTransaction> MessageHandler<Tx> for Seen {
    async fn handle(&self, _tx: &mut Tx, message: &Message) -> Result<(), HandlerError> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(message.message_id, Instant::now());
        Ok(())
    }
}

/// The `q` quantile (0.0 to 1.0) of `samples`, which it sorts.
///
/// # Panics
/// When `samples` is empty.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 * q) as usize).min(samples.len() - 1);
    samples[index]
}

/// Paired rounds `(ours, raw)` of a rate, summed up: the medians of each side and of the
/// ratios, and the lowest and highest ratio.
#[derive(Clone, Copy, Debug)]
pub struct Paired {
    /// The median of our rates.
    pub ours: f64,
    /// The median of the baseline's rates.
    pub raw: f64,
    /// The median of the per-round ratios.
    pub ratio: f64,
    /// The lowest per-round ratio.
    pub low: f64,
    /// The highest per-round ratio.
    pub high: f64,
}

impl Paired {
    /// The summary of `rounds`.
    ///
    /// # Panics
    /// When `rounds` is empty.
    pub fn of(rounds: &[(f64, f64)]) -> Self {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let ratios: Vec<f64> = rounds.iter().map(|r| r.0 / r.1).collect();
        let (low, high) = ratios
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), x| (l.min(*x), h.max(*x)));
        Self {
            ours: median(rounds.iter().map(|r| r.0).collect()),
            raw: median(rounds.iter().map(|r| r.1).collect()),
            ratio: median(ratios),
            low,
            high,
        }
    }
}
