//! Envelopes in columns: timestamps as Unix microseconds, metadata as optional JSON text, and
//! the checks that turn columns back into events and snapshots, the same way in every backend.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::value::RawValue;

use crate::error::StoreError;
use crate::event::{Metadata, RecordedEvent};
use crate::id::{EventId, StreamId};
use crate::snapshot::Snapshot;

/// Microseconds since the Unix epoch (negative before it; saturating far outside).
///
/// ```
/// use eventcore::backend::{from_unix_micros, unix_micros};
/// let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_500_000);
/// assert_eq!(unix_micros(t), 1_500_000);
/// assert_eq!(from_unix_micros(unix_micros(t)), t);
/// assert_eq!(from_unix_micros(-5), std::time::UNIX_EPOCH - std::time::Duration::from_micros(5));
/// ```
pub fn unix_micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

/// The time `micros` microseconds after the Unix epoch.
pub fn from_unix_micros(micros: i64) -> SystemTime {
    let magnitude = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// The current time at microsecond precision, so that what an append returns equals what a
/// later read of the stored microseconds gives.
pub fn now_micros_precision() -> SystemTime {
    from_unix_micros(unix_micros(SystemTime::now()))
}

/// Metadata as stored: `None` when empty, JSON text otherwise.
///
/// # Errors
/// [`StoreError::Backend`] if the metadata cannot be serialized (a map key that is not text).
pub fn metadata_json(metadata: &Metadata) -> Result<Option<String>, StoreError> {
    if metadata.is_empty() {
        return Ok(None);
    }
    serde_json::to_string(metadata)
        .map(Some)
        .map_err(StoreError::backend)
}

/// A stored event's columns as a backend reads them, before they are checked.
#[derive(Debug)]
pub struct EventColumns {
    /// Global position.
    pub position: i64,
    /// Event id.
    pub event_id: uuid::Uuid,
    /// Stream id text.
    pub stream_id: String,
    /// Stream version.
    pub stream_version: i64,
    /// Event type.
    pub event_type: String,
    /// Schema version.
    pub schema_version: i64,
    /// Recorded-at, microseconds since the Unix epoch.
    pub recorded_at_micros: i64,
    /// Metadata JSON, `None` when empty.
    pub metadata: Option<String>,
    /// Payload JSON.
    pub payload: String,
}

/// Where a stored record sits, as far as its row could be read, for the
/// [`StoreError::Corrupt`] that reports it. Backends read these three columns leniently first
/// (a default where unreadable), then every column strictly.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordPlace {
    /// The stream id text.
    pub stream: String,
    /// The stream version.
    pub version: i64,
    /// The global position (0 outside the log).
    pub position: i64,
}

impl RecordPlace {
    /// The [`StoreError::Corrupt`] for this record.
    pub fn corrupt(&self, reason: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            stream: self.stream.clone(),
            version: u64::try_from(self.version).unwrap_or(0),
            position: u64::try_from(self.position).unwrap_or(0),
            reason: reason.to_string(),
        }
    }
}

/// Where a row's record sits, worked out only when an error needs it: a [`RecordPlace`], or a
/// closure that reads one from the row.
pub trait Place {
    /// The place.
    fn place(&self) -> RecordPlace;
}

impl Place for RecordPlace {
    fn place(&self) -> RecordPlace {
        self.clone()
    }
}

impl<F: Fn() -> RecordPlace> Place for F {
    fn place(&self) -> RecordPlace {
        self()
    }
}

/// The [`StoreError::Corrupt`] for a stored record outside the log (a snapshot, a saga record)
/// of `stream`.
pub fn corrupt(stream: &str, reason: impl std::fmt::Display) -> StoreError {
    RecordPlace {
        stream: stream.to_owned(),
        ..RecordPlace::default()
    }
    .corrupt(reason)
}

impl EventColumns {
    /// Checks the columns and builds the event.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`], naming stream, version and position, for an invalid stream
    /// id, a negative or out-of-range number, or metadata or payload that is not JSON.
    pub fn into_recorded(self) -> Result<RecordedEvent, StoreError> {
        self.into_recorded_after(None)
    }

    /// [`into_recorded`](Self::into_recorded) for a row read after an event of stream
    /// `previous` (a log reader's previous row): an event of the same stream shares its id
    /// rather than allocating its own.
    ///
    /// # Errors
    /// As [`into_recorded`](Self::into_recorded).
    pub fn into_recorded_after(
        self,
        previous: Option<&StreamId>,
    ) -> Result<RecordedEvent, StoreError> {
        let Self {
            position,
            event_id,
            stream_id,
            stream_version,
            event_type,
            schema_version,
            recorded_at_micros,
            metadata,
            payload,
        } = self;
        let place = RecordPlace {
            stream: stream_id,
            version: stream_version,
            position,
        };
        let bad = |reason: String| place.corrupt(reason);
        let metadata = match metadata {
            None => Metadata::default(),
            Some(text) => serde_json::from_str(&text).map_err(|e| bad(format!("metadata: {e}")))?,
        };
        if stream_version < 1 {
            return Err(bad("stream version below 1".into()));
        }
        if position < 1 {
            return Err(bad("global position below 1".into()));
        }
        Ok(RecordedEvent {
            event_id: EventId::from(event_id),
            stream_version: stream_version as u64,
            global_position: position as u64,
            schema_version: u32::try_from(schema_version)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| bad(format!("schema version {schema_version} out of range")))?,
            recorded_at: from_unix_micros(recorded_at_micros),
            metadata,
            payload: RawValue::from_string(payload).map_err(|e| bad(format!("payload: {e}")))?,
            stream_id: match previous {
                Some(id) if id.as_str() == place.stream => id.clone(),
                _ => StreamId::from_text(&place.stream)
                    .map_err(|e| bad(format!("stream id: {e}")))?,
            },
            event_type,
        })
    }
}

/// A stored snapshot from its columns.
///
/// # Errors
/// [`StoreError::Corrupt`] (position 0: snapshots are outside the log) for a negative or
/// out-of-range number or a state that is not JSON.
pub fn snapshot_from_columns(
    stream: &StreamId,
    version: i64,
    schema_version: i64,
    state: String,
) -> Result<Snapshot, StoreError> {
    let bad = |reason: String| corrupt(stream.as_str(), reason);
    Ok(Snapshot {
        stream: stream.clone(),
        version: u64::try_from(version).map_err(|e| bad(e.to_string()))?,
        schema_version: u32::try_from(schema_version).map_err(|e| bad(e.to_string()))?,
        state: RawValue::from_string(state).map_err(|e| bad(format!("snapshot: {e}")))?,
    })
}

/// A `LIMIT` value for `max_count` (saturating: SQL integers are signed).
pub fn sql_limit(max_count: usize) -> i64 {
    i64::try_from(max_count).unwrap_or(i64::MAX)
}

/// The start of a `read_stream` / `read_all` as a SQL integer: 0 is
/// [`InputError::ZeroVersion`](crate::InputError::ZeroVersion), and `None` means a start beyond
/// any storable version or position (the read is empty).
///
/// # Errors
/// [`StoreError::InvalidInput`] for 0.
pub fn read_start(from: u64) -> Result<Option<i64>, StoreError> {
    if from == 0 {
        return Err(crate::InputError::ZeroVersion.into());
    }
    Ok(i64::try_from(from).ok())
}

/// The error for a saga record saved against `expected` while it is at `actual`.
pub fn saga_conflict(saga_type: &str, saga_id: &str, expected: u64, actual: u64) -> StoreError {
    StoreError::SagaConflict {
        saga_type: saga_type.to_owned(),
        saga_id: saga_id.to_owned(),
        expected,
        actual,
    }
}

/// The columns of a stored event that folding reads ([`FoldEvent`](crate::FoldEvent)), as a
/// backend reads them.
#[derive(Debug)]
pub struct FoldColumns<'a> {
    /// Stream version.
    pub stream_version: i64,
    /// Global position.
    pub position: i64,
    /// Event type.
    pub event_type: &'a str,
    /// Schema version.
    pub schema_version: i64,
    /// Payload JSON text.
    pub payload: &'a str,
}

impl<'a> FoldColumns<'a> {
    /// Checks the numbers and borrows the event; `stream` names it in errors.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a version or position below 1 or a schema version out of
    /// range.
    pub fn check(self, stream: &StreamId) -> Result<crate::FoldEventRef<'a>, StoreError> {
        let place = || RecordPlace {
            stream: stream.to_string(),
            version: self.stream_version,
            position: self.position,
        };
        let positive = |n: i64| u64::try_from(n).ok().filter(|n| *n > 0);
        Ok(crate::FoldEventRef {
            stream_version: positive(self.stream_version)
                .ok_or_else(|| place().corrupt("stream version below 1"))?,
            global_position: positive(self.position)
                .ok_or_else(|| place().corrupt("global position below 1"))?,
            schema_version: u32::try_from(self.schema_version)
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| {
                    place().corrupt(format!(
                        "schema version {} out of range",
                        self.schema_version
                    ))
                })?,
            event_type: self.event_type,
            payload: self.payload,
        })
    }

    /// Checks the numbers and builds an owned event; `stream` names it in errors.
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn into_fold(self, stream: &StreamId) -> Result<crate::FoldEvent, StoreError> {
        self.check(stream).map(|event| event.to_owned())
    }
}

/// A [`CommandRead`](crate::CommandRead) from the rows of a one-statement command read, each
/// a stream event or (`true`) the probed event, in any order: the probe wins; otherwise the
/// stream's events in version order.
///
/// # Errors
/// The first row's error.
pub fn command_read(
    rows: impl IntoIterator<Item = Result<(crate::FoldEvent, bool), StoreError>>,
) -> Result<crate::CommandRead, StoreError> {
    let mut read = crate::CommandRead::default();
    for row in rows {
        let (event, probed) = row?;
        if probed {
            return Ok(crate::CommandRead {
                handled_at: Some(event.stream_version),
                events: Vec::new(),
            });
        }
        read.events.push(event);
    }
    if !read.events.is_sorted_by_key(|e| e.stream_version) {
        read.events.sort_unstable_by_key(|e| e.stream_version);
    }
    Ok(read)
}
