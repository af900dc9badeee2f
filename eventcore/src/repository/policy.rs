//! How a repository retries conflicting appends and when it writes snapshots.

use std::time::Duration;

use crate::backoff::Backoff;

/// How often a conflicting append is tried again (after reloading the aggregate), and how long
/// to wait in between.
///
/// Commands that repositories of one process run for one instance never conflict with each
/// other (they wait for each other); conflicts come from other processes, or from appends that
/// bypass the repository.
///
/// ```
/// use std::time::Duration;
/// use eventcore::RetryPolicy;
/// use eventcore::backoff::Backoff;
///
/// let patient = RetryPolicy {
///     max_attempts: 20,
///     backoff: Backoff::new(Duration::from_millis(5), Duration::from_secs(1)).with_jitter(),
/// };
/// assert_eq!(RetryPolicy::default().max_attempts, 8);
/// # let _ = patient;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1: 0 counts as 1).
    pub max_attempts: u32,
    /// The wait after each conflicting attempt.
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    /// 8 attempts; waits from 1 ms, doubling up to 200 ms, with jitter.
    fn default() -> Self {
        Self {
            max_attempts: 8,
            backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(200))
                .with_jitter(),
        }
    }
}

/// When the repository writes a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SnapshotPolicy {
    /// Never (loads replay the whole stream).
    #[default]
    Never,
    /// Whenever an append crosses a multiple of this many events.
    EveryNEvents(u64),
}

impl SnapshotPolicy {
    pub(super) fn due(self, before: u64, after: u64) -> bool {
        match self {
            Self::Never => false,
            Self::EveryNEvents(0) => false,
            Self::EveryNEvents(n) => before / n < after / n,
        }
    }
}
