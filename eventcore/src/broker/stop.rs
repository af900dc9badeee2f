//! [`finish_or_drop`]: what a broker consumer asked to stop does with the batch in hand.

use std::future::Future;
use std::time::Duration;

/// How long a consumer asked to stop keeps at the batch in hand before it drops it
/// unacknowledged ([`finish_or_drop`]).
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// What became of the batch a consumer was settling when it was asked to stop, or not.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished<T> {
    /// Settled; no stop was asked for meanwhile: acknowledge it and go on.
    Settled(T),
    /// Settled after a stop was asked for: acknowledge it, then stop.
    SettledStopping(T),
    /// A stop was asked for and the batch was not settled within [`STOP_GRACE`] (a message
    /// waiting to be tried again, say): it was dropped unacknowledged. Stop: the broker
    /// delivers it again, and the inbox skips what of it was applied.
    Dropped,
}

/// Drives `settle`, a consumer's work on the batch in hand (apply, dead-letter), to its end.
/// If `stop` completes first, the batch still gets [`STOP_GRACE`] to finish, so that a
/// stopping consumer acknowledges the work it did; one that takes longer (retrying a message
/// that keeps failing, with pauses of seconds) is dropped, so that a stop is never held up
/// for long. Dropping it is safe: each attempt is a transaction of its own, rolled back when
/// dropped midway, and an unacknowledged message is delivered again.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use eventcore::broker::{Finished, finish_or_drop};
///
/// let quick = finish_or_drop(async { 7 }, std::future::pending()).await;
/// assert_eq!(quick, Finished::Settled(7));
/// let stuck = finish_or_drop(std::future::pending::<u32>(), async {});
/// # tokio::time::pause();
/// assert_eq!(stuck.await, Finished::Dropped);
/// # }
/// ```
pub async fn finish_or_drop<T>(
    settle: impl Future<Output = T>,
    stop: impl Future<Output = ()>,
) -> Finished<T> {
    let mut settle = std::pin::pin!(settle);
    tokio::select! {
        biased;
        settled = settle.as_mut() => return Finished::Settled(settled),
        () = stop => {}
    }
    match tokio::time::timeout(STOP_GRACE, settle).await {
        Ok(settled) => Finished::SettledStopping(settled),
        Err(_) => {
            tracing::warn!(
                grace = ?STOP_GRACE,
                "asked to stop: the batch in hand is not settled in time; dropping it unacknowledged"
            );
            Finished::Dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_batch_settling_when_the_stop_comes_is_finished_within_the_grace() {
        let settle = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            "acked"
        };
        let stop = tokio::time::sleep(Duration::from_secs(1));
        assert_eq!(
            finish_or_drop(settle, stop).await,
            Finished::SettledStopping("acked")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_batch_still_unsettled_after_the_grace_is_dropped() {
        let started = tokio::time::Instant::now();
        let settle = tokio::time::sleep(Duration::from_secs(60));
        let stop = tokio::time::sleep(Duration::from_secs(1));
        assert_eq!(finish_or_drop(settle, stop).await, Finished::Dropped);
        assert_eq!(started.elapsed(), Duration::from_secs(1) + STOP_GRACE);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_stop_the_batch_takes_as_long_as_it_takes() {
        let settle = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            1
        };
        let outcome = finish_or_drop(settle, std::future::pending()).await;
        assert_eq!(outcome, Finished::Settled(1));
    }
}
