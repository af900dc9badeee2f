//! The runtime records (saga records, deadlines, dead letters) from their columns: checked the
//! same way in every backend, an unreadable row being [`StoreError::Corrupt`].

use serde_json::value::RawValue;

use super::columns::{RecordPlace, from_unix_micros};
use crate::durable::{DeadlineRecord, RuntimeCounts, SagaRecord};
use crate::error::StoreError;
use crate::id::EventId;
use crate::transaction::DeadLetter;

/// A saga record's columns as a backend reads them.
#[derive(Debug)]
pub struct SagaColumns {
    /// Saga type.
    pub saga_type: String,
    /// Instance id.
    pub saga_id: String,
    /// Status text.
    pub status: String,
    /// State JSON.
    pub state: String,
    /// Record version.
    pub version: i64,
    /// Last save, microseconds since the Unix epoch.
    pub updated_at_micros: i64,
}

impl SagaColumns {
    /// Where a corrupt saga row is reported: `saga <type>/<id>`.
    pub fn place(saga_type: &str, saga_id: &str) -> RecordPlace {
        RecordPlace {
            stream: format!("saga {saga_type}/{saga_id}"),
            ..RecordPlace::default()
        }
    }

    /// Checks the columns and builds the record.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a state that is not JSON or a negative version.
    pub fn into_record(self) -> Result<SagaRecord, StoreError> {
        let place = Self::place(&self.saga_type, &self.saga_id);
        Ok(SagaRecord {
            state: RawValue::from_string(self.state)
                .map_err(|e| place.corrupt(format!("state: {e}")))?,
            version: u64::try_from(self.version)
                .map_err(|_| place.corrupt("negative record version"))?,
            updated_at: from_unix_micros(self.updated_at_micros),
            status: self.status,
            saga_type: self.saga_type,
            saga_id: self.saga_id,
        })
    }
}

/// A deadline's columns as a backend reads them.
#[derive(Debug)]
pub struct DeadlineColumns {
    /// Deadline id.
    pub deadline_id: String,
    /// Saga type.
    pub saga_type: String,
    /// Instance id.
    pub saga_id: String,
    /// Due time, microseconds since the Unix epoch.
    pub due_at_micros: i64,
    /// Payload JSON.
    pub payload: String,
}

impl DeadlineColumns {
    /// Checks the columns and builds the record.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a payload that is not JSON.
    pub fn into_record(self) -> Result<DeadlineRecord, StoreError> {
        let payload = RawValue::from_string(self.payload).map_err(|e| {
            SagaColumns::place(&self.saga_type, &self.saga_id)
                .corrupt(format!("deadline {}: {e}", self.deadline_id))
        })?;
        Ok(DeadlineRecord {
            deadline_id: self.deadline_id,
            saga_type: self.saga_type,
            saga_id: self.saga_id,
            due_at: from_unix_micros(self.due_at_micros),
            payload,
        })
    }
}

/// A dead letter's columns as a backend reads them.
#[derive(Debug)]
pub struct DeadLetterColumns {
    /// The consumer.
    pub consumer: String,
    /// The event's global position.
    pub position: i64,
    /// The event id's 16 bytes (or a UUID, converted by the backend).
    pub event_id: Vec<u8>,
    /// The event type.
    pub event_type: String,
    /// The error text.
    pub error: String,
    /// Attempts made.
    pub attempts: i64,
    /// When it was given up on, microseconds since the Unix epoch.
    pub failed_at_micros: i64,
}

impl DeadLetterColumns {
    /// Where a corrupt dead-letter row is reported: `dead letter of <consumer>`.
    pub fn place(consumer: &str, position: i64) -> RecordPlace {
        RecordPlace {
            stream: format!("dead letter of {consumer}"),
            version: 0,
            position,
        }
    }

    /// Checks the columns and builds the dead letter.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for an event id that is not 16 bytes or a negative position.
    pub fn into_letter(self) -> Result<DeadLetter, StoreError> {
        let place = Self::place(&self.consumer, self.position);
        let event_id = uuid::Uuid::from_slice(&self.event_id)
            .map_err(|e| place.corrupt(format!("event id: {e}")))?;
        Ok(DeadLetter {
            position: u64::try_from(self.position)
                .map_err(|_| place.corrupt("negative position"))?,
            event_id: EventId::from(event_id),
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            failed_at: from_unix_micros(self.failed_at_micros),
            consumer: self.consumer,
            event_type: self.event_type,
            error: self.error,
        })
    }
}

/// The statement behind [`RuntimeStore::counts`](crate::RuntimeStore::counts) for a SQL
/// backend, given its table names: one grouped count per table, as rows of `(kind, key,
/// status, count)` that [`counts_from_rows`] folds (the same text runs on SQLite and
/// PostgreSQL).
pub fn counts_sql(events: &str, sagas: &str, dead_letters: &str) -> String {
    format!(
        "SELECT 'event' AS kind, event_type AS k, CAST(NULL AS TEXT) AS s, COUNT(*) AS n
             FROM {events} GROUP BY event_type
         UNION ALL
         SELECT 'saga', saga_type, status, COUNT(*) FROM {sagas} GROUP BY saga_type, status
         UNION ALL
         SELECT 'dead letter', consumer, CAST(NULL AS TEXT), COUNT(*)
             FROM {dead_letters} GROUP BY consumer"
    )
}

/// The counts from the rows of [`counts_sql`]: `(kind, key, status, count)`.
pub fn counts_from_rows(
    rows: impl IntoIterator<Item = (String, String, Option<String>, i64)>,
) -> RuntimeCounts {
    let mut counts = RuntimeCounts::default();
    for (kind, key, status, n) in rows {
        let n = u64::try_from(n).unwrap_or_default();
        match (kind.as_str(), status) {
            ("saga", Some(status)) => counts.add_sagas(&key, &status, n),
            ("event", _) => RuntimeCounts::add(&mut counts.events, &key, n),
            _ => RuntimeCounts::add(&mut counts.dead_letters, &key, n),
        }
    }
    counts
}
