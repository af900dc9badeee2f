//! Helpers for backends that store envelopes in columns: timestamps as Unix microseconds and
//! metadata as optional JSON text, the same way in every backend.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::StoreError;
use crate::event::Metadata;

/// Microseconds since the Unix epoch (negative before it; saturating far outside).
///
/// ```
/// use eventcore::stored::{from_unix_micros, unix_micros};
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
