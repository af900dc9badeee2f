//! What operators see: sagas with their steps and deadlines, read models with their lag and
//! rebuilds, and the health of the shop's dependencies.

use std::time::{Duration, SystemTime};

use eventcore::projection::{ProjectionState, ProjectionStatus};
use eventcore::saga::SagaView;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::time::rfc3339;
use crate::saga::OrderSaga;

/// A serde enum's name as it serialises (`"done"`), or its debug form.
fn name<T: Serialize + std::fmt::Debug>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => format!("{value:?}").to_lowercase(),
    }
}

/// One step of a saga.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaStepView {
    /// Its name (compensations: `undo:<name>`).
    pub name: String,
    /// `forward` or `compensation`.
    pub kind: String,
    /// `pending`, `done`, `failed` or `skipped`.
    pub status: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// The command it sends.
    #[schema(value_type = Object)]
    pub command: Value,
}

/// A pending deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadlineView {
    /// Its name.
    pub name: String,
    /// When it falls due.
    pub due_at: String,
}

/// A notable moment of a saga.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SagaMoment {
    /// When.
    pub at: String,
    /// What happened.
    pub what: String,
}

/// An order saga: status, state, steps, deadlines, history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SagaDetailView {
    /// The instance id (the order id).
    pub id: String,
    /// `active`, `dispatching`, `compensating`, `parked`, `completed` or `compensated`.
    pub status: String,
    /// Its phase.
    pub phase: String,
    /// The saga's own state (stage, items, total, cancel reason).
    #[schema(value_type = Object)]
    pub state: Value,
    /// Its steps in the order they were planned.
    pub steps: Vec<SagaStepView>,
    /// Pending deadlines, earliest first.
    pub deadlines: Vec<DeadlineView>,
    /// Why it is parked, if it is.
    pub parked: Option<String>,
    /// Notable moments, oldest first.
    pub history: Vec<SagaMoment>,
    /// The record's version.
    pub version: u64,
}

impl From<&SagaView<OrderSaga>> for SagaDetailView {
    fn from(view: &SagaView<OrderSaga>) -> Self {
        Self {
            id: view.id.clone(),
            status: view.status.to_string(),
            phase: format!("{:?}", view.phase).to_lowercase(),
            state: serde_json::to_value(&view.state).unwrap_or(Value::Null),
            steps: view
                .steps
                .iter()
                .map(|step| SagaStepView {
                    name: step.name.clone(),
                    kind: name(&step.kind),
                    status: name(&step.status),
                    attempts: step.attempts,
                    last_error: step.last_error.clone(),
                    command: serde_json::to_value(&step.command).unwrap_or(Value::Null),
                })
                .collect(),
            deadlines: view
                .deadlines
                .iter()
                .map(|(name, due)| DeadlineView {
                    name: name.clone(),
                    due_at: rfc3339(*due),
                })
                .collect(),
            parked: view.parked.clone(),
            history: view
                .history
                .iter()
                .map(|(at, what)| SagaMoment {
                    at: rfc3339(*at),
                    what: what.clone(),
                })
                .collect(),
            version: view.version,
        }
    }
}

/// A saga in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SagaSummaryView {
    /// The instance id (the order id).
    pub id: String,
    /// Its status.
    pub status: String,
    /// Steps planned so far.
    pub steps: usize,
    /// Why it is parked, if it is.
    pub parked: Option<String>,
}

impl From<&SagaView<OrderSaga>> for SagaSummaryView {
    fn from(view: &SagaView<OrderSaga>) -> Self {
        Self {
            id: view.id.clone(),
            status: view.status.to_string(),
            steps: view.steps.len(),
            parked: view.parked.clone(),
        }
    }
}

/// A rebuild in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RebuildProgressView {
    /// Events replayed so far.
    pub done: u64,
    /// Events to replay.
    pub total: u64,
    /// Events per second so far.
    pub rate: f64,
    /// Milliseconds since it started.
    pub elapsed_ms: u64,
}

/// How the last rebuild this server started ended (or that it is still running).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RebuildOutcomeView {
    /// `running`, `completed` or `failed`.
    pub status: String,
    /// When it started.
    pub started_at: String,
    /// Events replayed (once completed).
    pub events: Option<u64>,
    /// Milliseconds it took (once completed).
    pub elapsed_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

impl RebuildOutcomeView {
    /// A rebuild that started now.
    pub fn running() -> Self {
        Self {
            status: "running".into(),
            started_at: rfc3339(SystemTime::now()),
            events: None,
            elapsed_ms: None,
            error: None,
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A read model: where it is, how far behind, and its rebuild.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReadModelView {
    /// The read model's name.
    pub name: String,
    /// `running`, `stopped` or `shut_down`.
    pub state: String,
    /// Why it stopped, or the error it is retrying.
    pub error: Option<String>,
    /// The last position applied.
    pub checkpoint: u64,
    /// The log's head when last looked at.
    pub head: u64,
    /// Positions behind the head.
    pub lag: u64,
    /// Events applied since start.
    pub processed: u64,
    /// Events given up on since start.
    pub dead_lettered: u64,
    /// The rebuild in progress.
    pub rebuild: Option<RebuildProgressView>,
    /// The last rebuild started through the API.
    pub last_rebuild: Option<RebuildOutcomeView>,
}

impl ReadModelView {
    /// The view of `status`, with the last API-started rebuild.
    pub fn new(status: &ProjectionStatus, last_rebuild: Option<RebuildOutcomeView>) -> Self {
        let (state, error) = match &status.state {
            ProjectionState::Running => {
                ("running", status.failing.as_ref().map(|f| f.error.clone()))
            }
            ProjectionState::Stopped { error, .. } => ("stopped", Some(error.clone())),
            ProjectionState::ShutDown => ("shut_down", None),
        };
        Self {
            name: status.name.clone(),
            state: state.into(),
            error,
            checkpoint: status.checkpoint,
            head: status.head,
            lag: status.lag(),
            processed: status.processed,
            dead_lettered: status.dead_lettered,
            rebuild: status.rebuild.as_ref().map(|r| RebuildProgressView {
                done: r.done,
                total: r.total,
                rate: r.rate,
                elapsed_ms: millis(r.elapsed),
            }),
            last_rebuild,
        }
    }
}

/// A rebuild accepted (202).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RebuildAccepted {
    /// The read model.
    pub name: String,
    /// Where to watch its progress.
    pub location: String,
}

/// A saga sent back to work (202).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryAccepted {
    /// The saga (the order id).
    pub id: String,
}

/// An event a consumer gave up on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterView {
    /// The consumer (a read model, a saga, a policy, or a broker consumer's queue or group).
    pub consumer: String,
    /// The event's position in the log (0 for a message a broker consumer gave up on).
    pub position: u64,
    /// The event's type.
    pub event_type: String,
    /// Why it was given up on.
    pub error: String,
}

impl From<crate::messaging::BrokerDeadLetter> for DeadLetterView {
    /// A broker consumer's dead letter: its queue or group as the consumer, its routing key or
    /// topic as the event type, position 0 (it has none in this store).
    fn from(letter: crate::messaging::BrokerDeadLetter) -> Self {
        Self {
            consumer: letter.consumer,
            position: 0,
            event_type: letter.origin,
            error: letter.error,
        }
    }
}

impl From<&eventcore::DeadLetter> for DeadLetterView {
    fn from(letter: &eventcore::DeadLetter) -> Self {
        Self {
            consumer: letter.consumer.clone(),
            position: letter.position,
            event_type: letter.event_type.clone(),
            error: letter.error.clone(),
        }
    }
}

/// How many sagas of a type are in a status that is not terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnfinishedSagasView {
    /// The saga (or policy) type.
    pub saga_type: String,
    /// `active`, `dispatching`, `compensating` or `parked`.
    pub status: String,
    /// How many.
    pub count: usize,
}

/// One dependency's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckView {
    /// `store`, `broker`, `projections`, `sagas` or `catalogue`.
    pub name: String,
    /// Whether it is usable.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The service's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HealthView {
    /// `ok` or `unavailable`.
    pub status: String,
    /// Each dependency (readiness only).
    pub checks: Vec<CheckView>,
}

impl HealthView {
    /// Live: nothing checked.
    pub fn live() -> Self {
        Self {
            status: "ok".into(),
            checks: Vec::new(),
        }
    }
}
