//! [`PgTransaction`]: one transaction covering appends, snapshots, runtime state and the
//! caller's own SQL. Its saga, deadline and inbox methods are in `tx_runtime`.

use eventcore::AbortReason;
use eventcore::backend::TxGuard;
use eventcore::{AppendRequest, RecordedEvent, Snapshot, StoreError};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::append::Failure;
use crate::insert::Placement;
use crate::sql::{GateMode, take_gate};
use crate::{PgEventStore, append, runtime, snapshot};

/// Attempts at an append that keeps racing other writers for the same versions.
const MAX_ATTEMPTS: usize = 100;

/// A transaction on the store's database. Everything done through it commits together on
/// [`commit`](Self::commit), or not at all (dropping it rolls back).
///
/// Appends inside a transaction take their global positions from the transaction's id, so
/// they become visible to log readers, in order, once it commits. An append joins the store's
/// writers (its write gate) and takes its streams' locks before the transaction takes an id,
/// so a transaction whose first write is an append never falls behind a writer it waited for,
/// and log readers wait for it until it ends.
///
/// When must a caller retry?
/// - A transaction that wrote something (your own SQL, an inbox record, a checkpoint) before
///   its first append got its id before it joined the writers, and log readers do not wait
///   for such a transaction: if another transaction's events were committed meanwhile, its
///   first append reports [`StoreError::TransactionAborted`] with [`AbortReason::Overtaken`].
///   Call [`will_append`](Self::will_append) before the first write to rule that out.
/// - A transaction that already appended, then appends to a stream that another transaction
///   appended to and committed meanwhile, gets a [`StoreError::Conflict`] on that stream whose
///   expectation admits the actual version (even `ExpectedVersion::Any`), which keeps every
///   stream's versions in global order. The transaction may go on with other streams; to
///   append to that stream, retry in a new transaction.
/// - [`StoreError::TransactionAborted`]: roll back and run the whole transaction again. A
///   deadlock with another transaction ([`AbortReason::Deadlock`], e.g. two transactions
///   appending to the same two streams in opposite orders), an operation whose future was
///   dropped midway ([`AbortReason::Cancelled`]) and [`AbortReason::Overtaken`] give it; from
///   then on every operation and the commit report it, and nothing of the transaction is
///   stored.
pub struct PgTransaction {
    pub(crate) tx: Transaction<'static, Postgres>,
    pub(crate) store: PgEventStore,
    appended: u64,
    last_position: u64,
    pub(crate) guard: TxGuard,
    /// The caller ran SQL of their own: commit checks the transaction is still alive.
    own_sql: bool,
    /// What [`will_append`](Self::will_append) did.
    gate: GateMode,
}

impl std::fmt::Debug for PgTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTransaction")
            .field("appended", &self.appended)
            .finish()
    }
}

impl PgTransaction {
    pub(crate) fn new(tx: Transaction<'static, Postgres>, store: PgEventStore) -> Self {
        Self {
            tx,
            store,
            appended: 0,
            last_position: 0,
            guard: TxGuard::default(),
            own_sql: false,
            gate: GateMode::Unknown,
        }
    }

    /// A transaction whose `BEGIN` took the store's gate with it (see
    /// [`Sql::begin_appending`](crate::sql::Sql)): held before it had an id.
    pub(crate) fn holding_gate(tx: Transaction<'static, Postgres>, store: PgEventStore) -> Self {
        Self {
            gate: GateMode::HeldBeforeId,
            ..Self::new(tx, store)
        }
    }

    /// The store this transaction belongs to.
    pub(crate) fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The transaction's connection, for the caller's own SQL. If a statement of yours fails,
    /// PostgreSQL aborts the whole transaction: [`commit`](Self::commit) then reports
    /// [`StoreError::TransactionAborted`] ([`AbortReason::StatementFailed`]) rather than
    /// seeming to succeed. (Cancelling your own statements midway is yours to handle: roll
    /// the transaction back.)
    pub fn connection(&mut self) -> &mut PgConnection {
        self.own_sql = true;
        &mut self.tx
    }

    /// Appends within the transaction, under the
    /// [`EventAppender::append`](eventcore::EventAppender::append) contract. On an error, nothing
    /// of this append is written (it is rolled back to a savepoint) and the transaction may go
    /// on, except after [`StoreError::TransactionAborted`].
    ///
    /// # Errors
    /// As the contract says, plus [`StoreError::TransactionAborted`] (see the type's docs).
    pub async fn append(
        &mut self,
        request: AppendRequest,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        let sql = &self.store.inner.sql;
        let result = self
            .guard
            .run(append_in_tx(
                &mut self.tx,
                sql,
                &request,
                self.appended,
                self.gate,
            ))
            .await;
        let recorded = match result {
            Ok(recorded) => recorded,
            Err(AppendError::Aborted(reason)) => return Err(self.guard.abort(reason)),
            Err(AppendError::Failed(error)) => return Err(error),
        };
        self.appended += recorded.len() as u64;
        if let Some(last) = recorded.last() {
            self.last_position = last.global_position;
        }
        Ok(recorded)
    }

    /// Declares that this transaction may append events, before it writes anything else: it
    /// joins the store's writers now (log readers wait for it from here on, as for any
    /// appending transaction), so that its appends cannot be refused with
    /// [`AbortReason::Overtaken`] however long it writes other things first. See
    /// [`StoreTransaction::will_append`](eventcore::StoreTransaction::will_append). Called
    /// after the transaction wrote, it changes nothing.
    ///
    /// # Errors
    /// Backend failures and [`StoreError::TransactionAborted`].
    pub async fn will_append(&mut self) -> Result<(), StoreError> {
        if self.gate == GateMode::HeldBeforeId {
            return Ok(());
        }
        let sql = take_gate(&self.store.inner.schema);
        let (before_id, _): (bool, String) = self
            .guard
            .run_statement(async {
                sqlx::query_as(&sql)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(StoreError::backend)
            })
            .await?;
        if before_id {
            self.gate = GateMode::HeldBeforeId;
        }
        Ok(())
    }

    /// Saves a snapshot under the [`SnapshotStore`](eventcore::SnapshotStore) contract.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.guard
            .run_statement(snapshot::save_on(
                &mut *self.tx,
                &self.store.inner.sql.save_snapshot,
                snapshot,
            ))
            .await
    }

    /// The checkpoint named `name`, locked until this transaction ends (`SELECT ... FOR
    /// UPDATE`; created at 0 if absent): another transaction moving it waits for this one, and
    /// this one sees the latest committed value.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        self.guard
            .run_statement(runtime::lock_checkpoint(
                &mut self.tx,
                &self.store.inner.sql.runtime,
                name,
            ))
            .await
    }

    /// Sets the checkpoint named `name` to `position`.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        self.guard
            .run_statement(runtime::save_checkpoint(
                &mut *self.tx,
                &self.store.inner.sql.runtime,
                name,
                position,
            ))
            .await
    }

    /// Moves the checkpoint named `name` from `from` to `to` if it is still at `from` (absent:
    /// 0), holding its row until this transaction ends; `Some(stored)`, changing nothing, if
    /// it is elsewhere. One statement when it is where expected.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn advance_checkpoint(
        &mut self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, StoreError> {
        let sql = &self.store.inner.sql.runtime;
        let advanced = self
            .guard
            .run_statement(runtime::advance_checkpoint(
                &mut *self.tx,
                sql,
                name,
                from,
                to,
            ))
            .await?;
        if advanced {
            return Ok(None);
        }
        eventcore::backend::advance_checkpoint_in_two_steps(self, name, from, to).await
    }

    /// Commits everything and wakes subscribers (here and, by NOTIFY, elsewhere).
    ///
    /// # Errors
    /// [`StoreError::TransactionAborted`] (and a rollback) after a cancelled operation, a
    /// deadlock or an outdated append. On a backend failure nothing was
    /// committed, except when the connection broke during `COMMIT` itself, when the outcome is
    /// unknown (appends are then safe to retry with the same event ids: a duplicate is
    /// reported as such).
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if self.own_sql {
            // After a failed statement `COMMIT` would roll back and report success; any
            // statement fails in that state (SQLSTATE 25P02), so one tells.
            if let Err(sqlx::Error::Database(db)) =
                sqlx::query("SELECT 1").execute(&mut *self.tx).await
            {
                if db.code().as_deref() == Some("25P02") {
                    self.guard.abort(AbortReason::StatementFailed);
                }
            }
        }
        if let Err(error) = self.guard.commit_allowed() {
            // The rollback's own failure would hide why: the connection is discarded anyway.
            let _ = self.tx.rollback().await;
            return Err(error);
        }
        self.tx.commit().await.map_err(StoreError::backend)?;
        if self.appended > 0 {
            self.store.committed(self.last_position);
        }
        self.guard.committed();
        Ok(())
    }

    /// Rolls everything back.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await.map_err(StoreError::backend)
    }
}

/// Why [`append_in_tx`] failed.
enum AppendError {
    /// Nothing was written; the transaction may go on.
    Failed(StoreError),
    /// The transaction cannot go on.
    Aborted(AbortReason),
}

impl From<StoreError> for AppendError {
    fn from(error: StoreError) -> Self {
        Self::Failed(error)
    }
}

impl From<sqlx::Error> for AppendError {
    fn from(error: sqlx::Error) -> Self {
        Self::Failed(StoreError::backend(error))
    }
}

/// Appends in the transaction without a savepoint, evaluating again (up to [`MAX_ATTEMPTS`])
/// while concurrent transactions take the same versions first. Its statements skip rows that
/// clash with a unique index instead of failing (a failed statement would abort the whole
/// transaction), and a failed append deletes what it inserted: on an error nothing of it
/// stays, and unless a statement failed the transaction goes on.
async fn append_in_tx(
    tx: &mut PgConnection,
    sql: &crate::sql::Sql,
    request: &AppendRequest,
    index_base: u64,
    gate: GateMode,
) -> Result<Vec<RecordedEvent>, AppendError> {
    let place = Placement {
        index_base,
        gate,
        in_tx: true,
        alone: false,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let failure = match append::append_on(tx, sql, request, place).await {
            Ok(recorded) => return Ok(recorded),
            Err(Failure::Clashed) => match append::find_duplicate(tx, sql, request).await {
                Ok(Some(event_id)) => {
                    return Err(AppendError::Failed(StoreError::DuplicateEventId {
                        event_id,
                    }));
                }
                Ok(None) => Failure::Raced,
                Err(error) => Failure::Store(error),
            },
            Err(failure) => failure,
        };
        match failure {
            // A concurrent transaction committed the same versions first; under READ
            // COMMITTED the next statement sees them, so evaluating again is enough.
            Failure::Raced if attempt < MAX_ATTEMPTS => continue,
            // This transaction holds locks the other one waits for (or its snapshot is
            // stale): retrying inside it would only deadlock again.
            Failure::Deadlock => return Err(AppendError::Aborted(AbortReason::Deadlock)),
            // Its id is older than events readers may have passed: no append of this
            // transaction can ever go in.
            Failure::Overtaken => return Err(AppendError::Aborted(AbortReason::Overtaken)),
            // A statement failed (or the connection did): the transaction is aborted.
            Failure::Store(error @ StoreError::Backend { .. }) => {
                tracing::warn!(%error, "an append failed; its transaction is aborted");
                return Err(AppendError::Aborted(AbortReason::StatementFailed));
            }
            failure => return Err(AppendError::Failed(failure.into_error())),
        }
    }
}
