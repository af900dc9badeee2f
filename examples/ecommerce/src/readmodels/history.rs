//! Order history (time travel): an order's events read from its stream, and its state as of
//! any version, folded with the order aggregate itself.

use std::time::SystemTime;

use eventcore::{Aggregate, EventReader, RecordedEvent, StoreError, Upcasters};

use crate::order::{Order, OrderEvent};

/// One event of an order's history.
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    /// The stream version it has.
    pub version: u64,
    /// Its stored type name.
    pub event_type: String,
    /// When it was recorded.
    pub recorded_at: SystemTime,
    /// The request it belongs to.
    pub correlation_id: Option<uuid::Uuid>,
    /// The event.
    pub event: OrderEvent,
}

/// Why a history cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// The order id is not usable.
    #[error("invalid order id: {0}")]
    InvalidId(#[from] eventcore::InputError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event does not decode.
    #[error("event {version} of order {order_id} cannot be decoded: {source}")]
    Decode {
        /// The order.
        order_id: String,
        /// The event's version.
        version: u64,
        /// Why.
        #[source]
        source: eventcore::CodecError,
    },
}

/// Every event of `order_id` (empty for an unknown order).
///
/// # Errors
/// [`HistoryError`].
pub async fn events(
    reader: &dyn EventReader,
    order_id: &str,
) -> Result<Vec<HistoryEntry>, HistoryError> {
    let stream = Order::stream_id(order_id)?;
    let mut entries = Vec::new();
    loop {
        let from = entries.len() as u64 + 1;
        let page = reader.read_stream(&stream, from, 500).await?;
        if page.is_empty() {
            return Ok(entries);
        }
        for record in page {
            entries.push(entry(order_id, record)?);
        }
    }
}

fn entry(order_id: &str, record: RecordedEvent) -> Result<HistoryEntry, HistoryError> {
    let event = record
        .decode::<OrderEvent>(&Upcasters::default())
        .map_err(|source| HistoryError::Decode {
            order_id: order_id.to_owned(),
            version: record.stream_version,
            source,
        })?;
    Ok(HistoryEntry {
        version: record.stream_version,
        event_type: record.event_type,
        recorded_at: record.recorded_at,
        correlation_id: record.metadata.correlation_id,
        event,
    })
}

/// The order as it was after its event `version` (0: before it was placed).
pub fn state_at(history: &[HistoryEntry], version: u64) -> Order {
    let mut order = Order::default();
    for entry in history.iter().take_while(|e| e.version <= version) {
        order.apply(&entry.event);
    }
    order
}
