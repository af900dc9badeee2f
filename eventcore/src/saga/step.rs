//! An instance's phase and its steps, as stored in its document and shown to operators.

use serde::{Deserialize, Serialize};

/// Where an instance is in its life, as its decision logic sees it. What operators filter by
/// and callers wait for is its [`SagaStatus`](super::SagaStatus), which also tells whether
/// steps are pending and whether it is parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Reacting to events; steps may be pending.
    Active,
    /// Asked to complete; finishes once its pending steps have run.
    Completing,
    /// Undoing its completed steps.
    Compensating,
    /// Done.
    Completed,
    /// Undone.
    Compensated,
}

impl Phase {
    /// Whether nothing more will happen.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }
}

/// A forward step or the compensation of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// A step the saga asked for.
    Forward,
    /// The undoing of a completed forward step.
    Compensation,
}

/// Where a step is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not run yet (or being retried).
    Pending,
    /// Ran successfully.
    Done,
    /// Rejected, or out of retries.
    Failed,
    /// Never run: the saga compensated first.
    Skipped,
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        })
    }
}

/// One step of an instance, with its history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord<C> {
    /// Its name (compensations: `undo:<name>`).
    pub name: String,
    /// Forward or compensation.
    pub kind: StepKind,
    /// The command.
    pub command: C,
    /// What undoes it (forward steps).
    pub compensation: Option<C>,
    /// Where it is.
    pub status: StepStatus,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// Not to be tried before this time (unix micros): after a failure, or while a dispatcher
    /// holds it (sending it now).
    pub not_before: i64,
}
