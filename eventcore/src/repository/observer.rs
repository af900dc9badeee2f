//! What a repository reports about its appends: conflicts, retries, giving up and commits, to
//! an optional [`RepositoryObserver`] and as `tracing` events.

use std::sync::Arc;
use std::time::Duration;

use crate::id::StreamId;
use crate::version::Conflict;

/// Watches a repository's appends, for metrics and alerts: how often commands conflict, how
/// many attempts they take, when they give up. Every method does nothing by default; implement
/// the ones you need and pass the observer to
/// [`Repository::with_observer`](crate::Repository::with_observer).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use eventcore::testing::counter::{Counter, CounterCommand};
/// use eventcore::{InMemoryEventStore, Repository, RepositoryObserver, StreamId};
///
/// #[derive(Default)]
/// struct Commits(AtomicU64);
///
/// impl RepositoryObserver for Commits {
///     fn on_committed(&self, _stream: &StreamId, _attempts: u32, events: usize) {
///         self.0.fetch_add(events as u64, Ordering::Relaxed);
///     }
/// }
///
/// let commits = Arc::new(Commits::default());
/// let repo = Repository::<Counter>::new(InMemoryEventStore::new()).with_observer(commits.clone());
/// repo.execute(CounterCommand::add("c1", 5)).await.unwrap();
/// assert_eq!(commits.0.load(Ordering::Relaxed), 1);
/// # });
/// ```
///
/// # Contract
/// Methods are called on the task running the command, while it holds the instance's lock:
/// return quickly and never block (hand slow work to a channel). A panic propagates to the
/// caller of [`execute`](crate::Repository::execute). For one command, calls come in order:
/// zero or more [`on_conflict`](Self::on_conflict), then at most one of
/// [`on_committed`](Self::on_committed) or [`on_retries_exhausted`](Self::on_retries_exhausted)
/// (neither when the command is rejected, fails otherwise, caused no events, or had been
/// committed before).
pub trait RepositoryObserver: Send + Sync + 'static {
    /// The append of attempt `attempt` (1-based) to `stream` lost to another writer. Called
    /// for every conflict, the last one included; the repository reloads and retries after a
    /// backoff unless its attempts are used up.
    fn on_conflict(&self, stream: &StreamId, attempt: u32, conflict: &Conflict) {
        let _ = (stream, attempt, conflict);
    }

    /// Every one of `attempts` attempts conflicted: the command fails with
    /// [`RetriesExhausted`](crate::RepositoryError::RetriesExhausted), `last` being the last
    /// conflict.
    fn on_retries_exhausted(&self, stream: &StreamId, attempts: u32, last: &Conflict) {
        let _ = (stream, attempts, last);
    }

    /// A command's `events` events were appended to `stream` by attempt `attempts` (1 when no
    /// conflict intervened).
    fn on_committed(&self, stream: &StreamId, attempts: u32, events: usize) {
        let _ = (stream, attempts, events);
    }
}

impl<T: RepositoryObserver + ?Sized> RepositoryObserver for Arc<T> {
    fn on_conflict(&self, stream: &StreamId, attempt: u32, conflict: &Conflict) {
        (**self).on_conflict(stream, attempt, conflict);
    }

    fn on_retries_exhausted(&self, stream: &StreamId, attempts: u32, last: &Conflict) {
        (**self).on_retries_exhausted(stream, attempts, last);
    }

    fn on_committed(&self, stream: &StreamId, attempts: u32, events: usize) {
        (**self).on_committed(stream, attempts, events);
    }
}

/// Reports to the observer, if any, and to `tracing`. Without an observer this costs a branch
/// (and whatever the `tracing` subscriber does with enabled events): nothing is allocated.
#[derive(Clone, Copy)]
pub(super) struct Report<'a>(pub(super) Option<&'a dyn RepositoryObserver>);

impl Report<'_> {
    /// A conflict; `retry_in` is the backoff before the next attempt (`None`: no attempt left).
    pub(super) fn conflict(
        self,
        stream: &StreamId,
        attempt: u32,
        conflict: &Conflict,
        retry_in: Option<Duration>,
    ) {
        match retry_in {
            Some(delay) => tracing::debug!(
                %stream, attempt, actual = conflict.actual, ?delay,
                "append conflicted; retrying"
            ),
            None => tracing::debug!(
                %stream, attempt, actual = conflict.actual,
                "append conflicted; no attempt left"
            ),
        }
        if let Some(observer) = self.0 {
            observer.on_conflict(stream, attempt, conflict);
        }
    }

    /// Giving up after `attempts` conflicting attempts.
    pub(super) fn exhausted(self, stream: &StreamId, attempts: u32, last: &Conflict) {
        tracing::warn!(
            %stream, attempts, actual = last.actual,
            "append conflicted on every attempt; giving up"
        );
        if let Some(observer) = self.0 {
            observer.on_retries_exhausted(stream, attempts, last);
        }
    }

    /// A commit by attempt `attempts`.
    pub(super) fn committed(self, stream: &StreamId, attempts: u32, events: usize) {
        if attempts > 1 {
            tracing::debug!(%stream, attempts, events, "append committed after retrying");
        }
        if let Some(observer) = self.0 {
            observer.on_committed(stream, attempts, events);
        }
    }
}
