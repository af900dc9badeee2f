//! Exponential backoff, shared by every retry loop in the crate.

use std::time::Duration;

/// The wait after the `failures`-th failed attempt (1-based): `first`, doubled per further
/// failure, at most `max`.
pub(crate) fn exponential(first: Duration, max: Duration, failures: u32) -> Duration {
    first
        .saturating_mul(1 << failures.saturating_sub(1).min(31))
        .min(max)
}
