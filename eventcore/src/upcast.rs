//! Upcasting: turning stored payloads of an older schema version into the current form on read.
//!
//! Stored events are never rewritten. Each registered upcaster lifts one event type from one
//! schema version to the next; reading applies them in a chain up to the version the program's
//! [`Event::schema_version`](crate::Event::schema_version) names.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use crate::error::CodecError;

type UpcastFn = Box<dyn Fn(Value) -> Result<Value, String> + Send + Sync>;

/// A registry of upcasters, keyed by event type and the schema version they lift from.
///
/// ```
/// use eventcore::Upcasters;
/// use serde_json::json;
///
/// // Version 1 of `Deposited` stored cents as a string; version 2 stores a number.
/// let upcasters = Upcasters::new().register("Deposited", 1, |mut v| {
///     let cents = v["cents"].as_str().ok_or("cents is not a string")?;
///     v["cents"] = json!(cents.parse::<u64>().map_err(|e| e.to_string())?);
///     Ok(v)
/// });
/// let lifted = upcasters.upcast("Deposited", 1, 2, json!({"cents": "150"})).unwrap();
/// assert_eq!(lifted, json!({"cents": 150}));
/// assert!(upcasters.upcast("Deposited", 1, 3, json!({"cents": "1"})).is_err());
/// ```
#[derive(Default)]
pub struct Upcasters {
    steps: HashMap<(String, u32), UpcastFn>,
}

impl Upcasters {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `f` to lift `event_type` payloads from `from_version` to `from_version + 1`.
    /// A later registration for the same pair replaces the earlier one.
    pub fn register<F>(mut self, event_type: impl Into<String>, from_version: u32, f: F) -> Self
    where
        F: Fn(Value) -> Result<Value, String> + Send + Sync + 'static,
    {
        self.steps
            .insert((event_type.into(), from_version), Box::new(f));
        self
    }

    /// Lifts `payload` of `event_type` from schema version `from` to `to`.
    ///
    /// # Errors
    /// [`CodecError::MissingUpcaster`] when a step of the chain is not registered, and
    /// [`CodecError::Upcast`] when a step rejects the payload.
    pub fn upcast(
        &self,
        event_type: &str,
        from: u32,
        to: u32,
        mut payload: Value,
    ) -> Result<Value, CodecError> {
        let mut key = (event_type.to_owned(), from);
        while key.1 < to {
            let step = self
                .steps
                .get(&key)
                .ok_or_else(|| CodecError::MissingUpcaster {
                    event_type: event_type.to_owned(),
                    from_version: key.1,
                })?;
            payload = step(payload).map_err(|reason| CodecError::Upcast {
                event_type: event_type.to_owned(),
                from_version: key.1,
                reason,
            })?;
            key.1 += 1;
        }
        Ok(payload)
    }

    /// Whether no upcaster is registered.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut keys: Vec<_> = self.steps.keys().collect();
        keys.sort();
        f.debug_struct("Upcasters").field("steps", &keys).finish()
    }
}
