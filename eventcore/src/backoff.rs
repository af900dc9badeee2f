//! Exponential backoff: the one shape every retry in eventcore waits by.
//!
//! The repository's [`RetryPolicy`](crate::RetryPolicy), a projection's
//! [`ErrorPolicy`](crate::projection::ErrorPolicy) and a saga's step retries
//! ([`SagaOptions::step_backoff`](crate::saga::SagaOptions::step_backoff)) each say *how often*
//! to try in their own terms, and *how long to wait* between tries with a [`Backoff`]:
//!
//! ```
//! use std::time::Duration;
//! use eventcore::backoff::Backoff;
//!
//! let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
//! let waits: Vec<_> = (1..=5).map(|failures| backoff.delay(failures).as_millis()).collect();
//! assert_eq!(waits, [10, 20, 40, 50, 50]);
//!
//! // With jitter, each wait is drawn from the upper half of its nominal value.
//! let jittered = backoff.with_jitter().delay(2);
//! assert!(jittered >= Duration::from_millis(10) && jittered <= Duration::from_millis(20));
//! ```

use std::hash::{BuildHasher, Hasher, RandomState};
use std::time::{Duration, SystemTime};

/// How long to wait after a failed attempt: `initial` after the first failure, doubled per
/// further failure, never more than `max`; with `jitter`, each wait is drawn at random from
/// [50 %, 100 %] of that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// The wait after the first failed attempt.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Whether each wait is drawn at random from its upper half, so that processes that failed
    /// together (writers racing for one stream) spread out instead of colliding again.
    pub jitter: bool,
}

impl Backoff {
    /// Waits `initial`, doubling per failure up to `max`, without jitter.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            jitter: false,
        }
    }

    /// The same backoff with jitter.
    pub const fn with_jitter(self) -> Self {
        Self {
            jitter: true,
            ..self
        }
    }

    /// The wait after the `failures`-th failed attempt (1-based; 0 counts as 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let nominal = self
            .initial
            .saturating_mul(1 << failures.saturating_sub(1).min(31))
            .min(self.max);
        if self.jitter {
            jittered(nominal, failures)
        } else {
            nominal
        }
    }
}

/// `nominal` scaled by a random fraction in [50 %, 100 %]: a randomly keyed hash of the attempt
/// and the time (std's per-process random keys; no extra dependency).
fn jittered(nominal: Duration, failures: u32) -> Duration {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(failures);
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let fraction = (hasher.finish() % 1000) as f64 / 2000.0;
    nominal / 2 + nominal.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
        let delays: Vec<_> = (1..=5).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [10, 20, 40, 50, 50]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_millis(50));
        assert_eq!(backoff.delay(0), Duration::from_millis(10));
    }

    #[test]
    fn jittered_waits_grow_and_stay_capped() {
        let backoff =
            Backoff::new(Duration::from_millis(2), Duration::from_millis(20)).with_jitter();
        let first = backoff.delay(1);
        assert!(first >= Duration::from_millis(1) && first <= Duration::from_millis(2));
        let late = backoff.delay(30);
        assert!(late >= Duration::from_millis(10) && late <= Duration::from_millis(20));
    }

    #[test]
    fn a_huge_initial_wait_saturates_at_the_cap() {
        let backoff = Backoff::new(Duration::MAX, Duration::from_secs(60));
        assert_eq!(backoff.delay(40), Duration::from_secs(60));
    }
}
