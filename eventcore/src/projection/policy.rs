//! How a projection reads and what it does when an event fails.

use std::time::Duration;

use crate::backoff::Backoff;

/// What to do with an event once its retries are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    /// Record a [`DeadLetter`](crate::DeadLetter) with the error and move on past the event.
    DeadLetter,
    /// Stop the projection before the event; its status shows the error.
    Stop,
}

/// Retries with exponential [`Backoff`], then [`Exhausted`]. Store failures (the database is
/// unreachable, a commit failed) are always retried, since they say nothing about the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// Retries after the first failed attempt; `None` retries forever.
    pub retries: Option<u32>,
    /// The wait after each failed attempt (from 100 ms, doubling up to 30 s, unless changed).
    pub backoff: Backoff,
    /// What happens after the last retry.
    pub exhausted: Exhausted,
}

impl ErrorPolicy {
    /// Retries a failing event forever (the projection waits on it, visibly).
    pub fn retry_forever() -> Self {
        Self {
            retries: None,
            ..Self::stop_after(0)
        }
    }

    /// Retries `retries` times, then dead-letters the event and goes on.
    pub fn dead_letter_after(retries: u32) -> Self {
        Self {
            exhausted: Exhausted::DeadLetter,
            ..Self::stop_after(retries)
        }
    }

    /// Retries `retries` times, then stops the projection.
    pub fn stop_after(retries: u32) -> Self {
        Self {
            retries: Some(retries),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(30)),
            exhausted: Exhausted::Stop,
        }
    }

    /// The same policy with other waits.
    pub fn with_backoff(self, backoff: Backoff) -> Self {
        Self { backoff, ..self }
    }

    /// The policy a rebuild runs under: the same retries (5 if unlimited), then it stops.
    pub(crate) fn for_rebuild(self) -> Self {
        Self {
            retries: Some(self.retries.unwrap_or(5)),
            exhausted: Exhausted::Stop,
            ..self
        }
    }

    /// Whether `failures` failed attempts use the retries up.
    pub(crate) fn is_exhausted(&self, failures: u32) -> bool {
        self.retries.is_some_and(|retries| failures > retries)
    }

    /// The delay after the `failures`-th failed attempt (1-based).
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        self.backoff.delay(failures)
    }
}

/// How one projection runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectionOptions {
    /// Events per batch (and per transaction).
    pub batch_size: usize,
    /// The longest wait for a wake-up before reading the log again anyway.
    pub fallback_poll: Duration,
    /// What happens when applying an event fails.
    pub policy: ErrorPolicy,
    /// How long to wait, once woken by an append, for more appends before reading: fewer,
    /// larger batches (one transaction each) for up to this much more lag. A busy log is read
    /// on at once while full batches come back. Zero (the default) reads at once.
    pub linger: Duration,
}

impl Default for ProjectionOptions {
    /// Batches of 500, a 500 ms fallback poll, [`ErrorPolicy::stop_after`] 5 retries, and no
    /// linger.
    fn default() -> Self {
        Self {
            batch_size: 500,
            fallback_poll: Duration::from_millis(500),
            policy: ErrorPolicy::stop_after(5),
            linger: Duration::ZERO,
        }
    }
}

impl ProjectionOptions {
    /// The same options with another error policy.
    pub fn with_policy(self, policy: ErrorPolicy) -> Self {
        Self { policy, ..self }
    }

    /// The same options with another [`linger`](Self::linger).
    pub fn with_linger(self, linger: Duration) -> Self {
        Self { linger, ..self }
    }

    /// The same options with another batch size.
    pub fn with_batch_size(self, batch_size: usize) -> Self {
        Self {
            batch_size: batch_size.max(1),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = ErrorPolicy::stop_after(10).with_backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ));
        let delays: Vec<_> = (1..=5).map(|n| policy.delay(n).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 50, 50]);
        assert_eq!(policy.delay(u32::MAX), Duration::from_millis(50));
    }

    #[test]
    fn retries_count_after_the_first_attempt() {
        let policy = ErrorPolicy::dead_letter_after(2);
        assert!(!policy.is_exhausted(2));
        assert!(policy.is_exhausted(3));
        assert!(!ErrorPolicy::retry_forever().is_exhausted(u32::MAX));
    }
}
