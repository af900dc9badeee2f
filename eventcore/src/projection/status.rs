//! What a running projection reports: position, lag, counts, failures, rebuild progress.

use std::time::Duration;

/// Where a projection stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProjectionState {
    /// Catching up or following the log.
    Running,
    /// Stopped by its [`ErrorPolicy`](super::ErrorPolicy) before the event at `position` (or
    /// because the projection panicked; its batch was rolled back).
    Stopped {
        /// The event it stopped before.
        position: u64,
        /// The last error.
        error: String,
    },
    /// Shut down on request.
    ShutDown,
}

/// The event a projection is currently retrying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failing {
    /// The event's position (0 when the store itself is failing).
    pub position: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last error.
    pub error: String,
}

/// How far a rebuild has got.
#[derive(Clone, Debug, PartialEq)]
pub struct RebuildProgress {
    /// Events replayed into the new instance.
    pub done: u64,
    /// Events to replay (grows if the live projection moves on meanwhile).
    pub total: u64,
    /// Replay rate so far, in events per second.
    pub rate: f64,
    /// Time since the rebuild started.
    pub elapsed: Duration,
}

/// A snapshot of one projection's progress.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectionStatus {
    /// The projection's name (and its checkpoint's).
    pub name: String,
    /// The position of the last event applied (0: none yet).
    pub checkpoint: u64,
    /// The log's head when last looked at.
    pub head: u64,
    /// Events applied since the runner started.
    pub processed: u64,
    /// Events moved to dead letters since the runner started.
    pub dead_lettered: u64,
    /// Running, stopped or shut down.
    pub state: ProjectionState,
    /// The event being retried, if any.
    pub failing: Option<Failing>,
    /// The rebuild in progress, if any.
    pub rebuild: Option<RebuildProgress>,
}

impl ProjectionStatus {
    pub(crate) fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            checkpoint: 0,
            head: 0,
            processed: 0,
            dead_lettered: 0,
            state: ProjectionState::Running,
            failing: None,
            rebuild: None,
        }
    }

    /// Positions between the checkpoint and the head (0 when caught up). Positions need not be
    /// dense, so this measures distance in the log, not an event count.
    pub fn lag(&self) -> u64 {
        self.head.saturating_sub(self.checkpoint)
    }
}

/// A hook for metrics: called with the new status after every change (a committed batch, a
/// failure, rebuild progress, a stop).
pub trait ProjectionMetrics: Send + Sync + 'static {
    /// Records `status`.
    fn record(&self, status: &ProjectionStatus);
}

impl<F: Fn(&ProjectionStatus) + Send + Sync + 'static> ProjectionMetrics for F {
    fn record(&self, status: &ProjectionStatus) {
        self(status);
    }
}
