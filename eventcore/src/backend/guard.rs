//! [`TxGuard`]: the cancellation guard every backend transaction wraps its operations in.

use crate::error::StoreError;

/// What a backend's transaction tracks to keep the promise that a cancelled or aborted
/// operation never commits: wrap every operation in [`run`](Self::run) and check
/// [`commit_allowed`](Self::commit_allowed) before committing.
///
/// An operation whose future is dropped midway (under a timeout, say) may or may not have
/// taken effect inside the transaction; from then on every operation and the commit report
/// [`AbortReason::Cancelled`](crate::AbortReason::Cancelled).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use eventcore::backend::TxGuard;
/// use eventcore::{AbortReason, StoreError};
///
/// let mut guard = TxGuard::default();
/// assert_eq!(guard.run(async { Ok::<_, StoreError>(5) }).await.unwrap(), 5);
/// {
///     // Polled once and dropped: the operation was cancelled midway.
///     let op = guard.run(std::future::pending::<Result<(), StoreError>>());
///     let mut op = std::pin::pin!(op);
///     assert!(futures::poll!(op.as_mut()).is_pending());
/// }
/// let refused = guard.commit_allowed().unwrap_err();
/// assert!(matches!(refused, StoreError::TransactionAborted { reason: AbortReason::Cancelled }));
/// # });
/// ```
#[derive(Default)]
pub struct TxGuard {
    in_flight: bool,
    aborted: Option<crate::AbortReason>,
    after_commit: Vec<Box<dyn FnOnce() + Send>>,
    states: crate::TransactionStates,
}

impl std::fmt::Debug for TxGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxGuard")
            .field("in_flight", &self.in_flight)
            .field("aborted", &self.aborted)
            .field("after_commit", &self.after_commit.len())
            .field("states", &self.states)
            .finish()
    }
}

impl TxGuard {
    /// Runs one operation of the transaction: refused if an earlier one was cancelled midway
    /// or the transaction was aborted.
    ///
    /// # Errors
    /// [`StoreError::TransactionAborted`], or the operation's own error.
    pub async fn run<T, E: From<StoreError>>(
        &mut self,
        operation: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.commit_allowed()?;
        self.in_flight = true;
        let result = operation.await;
        self.in_flight = false;
        result
    }

    /// Runs one statement of a transaction that a failed statement aborts (PostgreSQL: after an
    /// error every later statement fails, and `COMMIT` quietly rolls back): as
    /// [`run`](Self::run), and a backend error also marks the transaction aborted
    /// ([`AbortReason::StatementFailed`](crate::AbortReason::StatementFailed)), so that its
    /// commit reports it instead of seeming to succeed.
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub async fn run_statement<T>(
        &mut self,
        operation: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = self.run(operation).await;
        if let Err(StoreError::Backend { .. }) = result {
            self.aborted = Some(crate::AbortReason::StatementFailed);
        }
        result
    }

    /// Marks the transaction aborted for `reason` and returns the error to report.
    pub fn abort(&mut self, reason: crate::AbortReason) -> StoreError {
        self.aborted = Some(reason);
        StoreError::aborted(reason)
    }

    /// Keeps `callback` for [`committed`](Self::committed): what
    /// [`StoreTransaction::after_commit`](crate::StoreTransaction::after_commit) hands a
    /// backend. Dropped unrun if the transaction never commits.
    pub fn after_commit(&mut self, callback: Box<dyn FnOnce() + Send>) {
        self.after_commit.push(callback);
    }

    /// The transaction's [`TransactionStates`](crate::TransactionStates): what a backend hands
    /// out through [`StoreTransaction::own_states`](crate::StoreTransaction::own_states).
    pub fn states(&mut self) -> &mut crate::TransactionStates {
        &mut self.states
    }

    /// Runs the callbacks kept by [`after_commit`](Self::after_commit), in order: call it once
    /// the backend's commit succeeded.
    pub fn committed(&mut self) {
        for callback in std::mem::take(&mut self.after_commit) {
            callback();
        }
    }

    /// `Ok` when the transaction may go on and commit.
    ///
    /// # Errors
    /// [`StoreError::TransactionAborted`] after a cancelled operation or an abort.
    pub fn commit_allowed(&mut self) -> Result<(), StoreError> {
        if self.in_flight {
            self.aborted = Some(crate::AbortReason::Cancelled);
        }
        match self.aborted {
            Some(reason) => Err(StoreError::aborted(reason)),
            None => Ok(()),
        }
    }
}
