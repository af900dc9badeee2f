//! Records that storage backends keep beside the log, in the same database, so that one
//! transaction can cover an append and any of them: projection checkpoints, saga state, durable
//! deadlines and a consumer inbox. The runtimes that use them (projections, sagas, broker
//! consumers) build on these plain records.

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
