//! Records that storage backends keep beside the log, in the same database, so that one
//! transaction can cover an append and any of them: projection checkpoints, saga state, durable
//! deadlines and a consumer inbox. The runtimes that use them (projections, sagas, broker
//! consumers) build on these plain records.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::value::RawValue;

/// The persisted state of one saga instance.
#[derive(Clone, Debug)]
pub struct SagaRecord {
    /// The saga's type name.
    pub saga_type: String,
    /// The instance id (the correlation id taken from events).
    pub saga_id: String,
    /// A short status for operator queries, stored as given and matched exactly by
    /// `sagas_with_status`. The saga manager writes the names of
    /// [`SagaStatus`](crate::saga::SagaStatus) (`active`, `dispatching`, `compensating`,
    /// `parked`, `completed`, `compensated`) and converts at this boundary; a backend treats it
    /// as an opaque string.
    pub status: String,
    /// The serialized saga state.
    pub state: Box<RawValue>,
    /// The record's version: 1 after the first save, incremented by every save.
    pub version: u64,
    /// When it was last saved.
    pub updated_at: SystemTime,
}

/// A deadline that must fire at or after `due_at`, even across restarts, unless cancelled.
#[derive(Clone, Debug)]
pub struct DeadlineRecord {
    /// Unique id (derive it from saga and step so rescheduling is idempotent).
    pub deadline_id: String,
    /// The saga type it belongs to.
    pub saga_type: String,
    /// The saga instance it belongs to.
    pub saga_id: String,
    /// When it is due.
    pub due_at: SystemTime,
    /// What to deliver when it fires.
    pub payload: Box<RawValue>,
}

/// How many records a store holds at one moment, for metrics and dashboards
/// ([`RuntimeStore::counts`](crate::RuntimeStore::counts)): events per type, saga instances
/// per type and status, dead letters per consumer. Maps are sorted by key; kinds with no
/// record are absent (not zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeCounts {
    /// Events in the log, per event type.
    pub events: BTreeMap<String, u64>,
    /// Saga instances per saga type, then per status (`active`, `parked`, `completed`, ...).
    pub sagas: BTreeMap<String, BTreeMap<String, u64>>,
    /// Dead letters waiting for an operator, per consumer (projection or handler).
    pub dead_letters: BTreeMap<String, u64>,
}

impl RuntimeCounts {
    /// Saga instances with `status`, summed over every saga type.
    pub fn sagas_with_status(&self, status: &str) -> u64 {
        self.sagas.values().filter_map(|s| s.get(status)).sum()
    }

    /// Saga instances per status, summed over every saga type.
    pub fn sagas_per_status(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for (status, n) in self.sagas.values().flatten() {
            *total.entry(status.clone()).or_default() += n;
        }
        total
    }

    /// Every dead letter, whatever its consumer.
    pub fn dead_letter_total(&self) -> u64 {
        self.dead_letters.values().sum()
    }

    /// Adds `n` to `map[key]`.
    pub(crate) fn add(map: &mut BTreeMap<String, u64>, key: &str, n: u64) {
        *map.entry(key.to_owned()).or_default() += n;
    }

    /// Adds `n` saga instances of `saga_type` with `status`.
    pub(crate) fn add_sagas(&mut self, saga_type: &str, status: &str, n: u64) {
        let per_status = self.sagas.entry(saga_type.to_owned()).or_default();
        Self::add(per_status, status, n);
    }
}
