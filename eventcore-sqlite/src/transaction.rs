//! [`SqliteTransaction`]: one write transaction covering appends, snapshots, runtime state and
//! the caller's own SQL.

use eventcore::backend::{DeadlineRecord, SagaRecord, TxGuard};
use eventcore::{AppendRequest, EventId, RecordedEvent, Snapshot, StoreError};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::{SqliteEventStore, append, runtime, runtime_batch, snapshot};

/// An immediate (write-locking) transaction on the store's database. Everything done through
/// it commits together on [`commit`](Self::commit), or not at all (dropping it rolls back).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::{AppendRequest, ExpectedVersion, NewEvent, StreamId, TransactionalStore};
/// use eventcore_sqlite::SqliteEventStore;
///
/// let store = SqliteEventStore::open_in_memory().await.unwrap();
/// let mut tx = store.begin().await.unwrap();
/// sqlx::query("CREATE TABLE order_totals (order_id TEXT PRIMARY KEY, cents INTEGER)")
///     .execute(tx.connection())
///     .await
///     .unwrap();
/// let event = NewEvent::raw("OrderPlaced", 1, serde_json::value::to_raw_value(&1999).unwrap());
/// let recorded = tx
///     .append(AppendRequest::single(StreamId::new("order-1").unwrap(), ExpectedVersion::NoStream, vec![event]))
///     .await
///     .unwrap();
/// sqlx::query("INSERT INTO order_totals VALUES ('1', 1999)").execute(tx.connection()).await.unwrap();
/// tx.save_checkpoint("order-totals", recorded[0].global_position).await.unwrap();
/// tx.commit().await.unwrap();
/// assert_eq!(store.load_checkpoint("order-totals").await.unwrap(), Some(1));
/// # });
/// ```
///
/// If the future of any of its operations is dropped before it completes (a timeout, a
/// cancelled task), the transaction is poisoned: whatever that operation did stays
/// uncommitted, and every later operation and [`commit`](Self::commit) report
/// [`StoreError::TransactionAborted`](eventcore::StoreError::TransactionAborted).
pub struct SqliteTransaction {
    pub(crate) tx: Transaction<'static, Sqlite>,
    store: SqliteEventStore,
    head: u64,
    pub(crate) guard: TxGuard,
}

impl std::fmt::Debug for SqliteTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteTransaction")
            .field("head", &self.head)
            .finish()
    }
}

impl SqliteTransaction {
    pub(crate) fn new(tx: Transaction<'static, Sqlite>, store: SqliteEventStore) -> Self {
        Self {
            tx,
            store,
            head: 0,
            guard: TxGuard::default(),
        }
    }

    /// The transaction's connection, for the caller's own SQL.
    pub fn connection(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Appends within the transaction, under the same contract as
    /// [`EventAppender::append`](eventcore::EventAppender::append). On an error, nothing of this
    /// append is written, and the transaction may go on or be dropped.
    ///
    /// # Errors
    /// As the contract says.
    pub async fn append(
        &mut self,
        request: AppendRequest,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        let recorded = self
            .guard
            .run(append_in_savepoint(&mut self.tx, &request))
            .await?;
        if let Some(last) = recorded.last() {
            self.head = self.head.max(last.global_position);
        }
        Ok(recorded)
    }

    /// Saves a snapshot under the [`SnapshotStore`](eventcore::SnapshotStore) contract.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.guard
            .run(snapshot::save_on(&mut *self.tx, snapshot))
            .await
    }

    /// The checkpoint named `name`. The transaction holds the database's write lock (`BEGIN
    /// IMMEDIATE`), so nobody else can move it before this transaction ends.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        self.guard
            .run(runtime::checkpoint(&mut *self.tx, name))
            .await
    }

    /// Sets the checkpoint named `name` to `position`.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        self.guard
            .run(runtime::save_checkpoint(&mut *self.tx, name, position))
            .await
    }

    /// Moves the checkpoint named `name` from `from` to `to` if it is still at `from` (absent:
    /// 0); `Some(stored)`, changing nothing, if it is elsewhere. One statement when it is
    /// where expected.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn advance_checkpoint(
        &mut self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, StoreError> {
        let advanced = self
            .guard
            .run(runtime::advance_checkpoint(&mut *self.tx, name, from, to))
            .await?;
        if advanced {
            return Ok(None);
        }
        eventcore::backend::advance_checkpoint_in_two_steps(self, name, from, to).await
    }

    /// The saga instance's record, as this transaction sees it.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable record.
    pub async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        self.guard
            .run(runtime::saga(&mut *self.tx, saga_type, saga_id))
            .await
    }

    /// The records of the instances `saga_ids` that exist, as this transaction sees them, in
    /// no particular order (one statement per 128 ids).
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable record.
    pub async fn sagas(
        &mut self,
        saga_type: &str,
        saga_ids: &[String],
    ) -> Result<Vec<SagaRecord>, StoreError> {
        self.guard
            .run(runtime_batch::sagas(&mut self.tx, saga_type, saga_ids))
            .await
    }

    /// Saves the saga's record if its stored version is `expected_version` (0 = new) and
    /// returns the new version (`record.version` and `updated_at` are ignored on write).
    ///
    /// # Errors
    /// [`StoreError::SagaConflict`] when the version differs.
    pub async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        self.guard
            .run(runtime::save_saga(&mut self.tx, record, expected_version))
            .await
    }

    /// Saves each `(record, expected_version)`, each instance at most once, in a statement or
    /// two per 128 (see [`save_saga`](Self::save_saga)): their new versions. On
    /// [`StoreError::SagaConflict`] (for the first listed that differs) others may have been
    /// saved: roll back.
    ///
    /// # Errors
    /// [`StoreError::SagaConflict`]; backend failures.
    pub async fn save_sagas(
        &mut self,
        saves: &[(SagaRecord, u64)],
    ) -> Result<Vec<u64>, StoreError> {
        self.guard
            .run(runtime_batch::save_sagas(&mut self.tx, saves))
            .await
    }

    /// Cancels each of `deadline_ids` that exists (one statement per 128).
    ///
    /// # Errors
    /// Backend failures.
    pub async fn cancel_deadlines(&mut self, deadline_ids: &[String]) -> Result<(), StoreError> {
        self.guard
            .run(runtime_batch::cancel_deadlines(&mut self.tx, deadline_ids))
            .await
    }

    /// Schedules (or reschedules, by id) a durable deadline.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        self.guard
            .run(runtime::schedule_deadline(&mut *self.tx, deadline))
            .await
    }

    /// Cancels a deadline (also used once it fired); `false` when there was none.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        self.guard
            .run(runtime::cancel_deadline(&mut *self.tx, deadline_id))
            .await
    }

    /// Records that `consumer` processed `event_id`; `false` when it already had, in which case
    /// the caller should skip its effects.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError> {
        self.guard
            .run(runtime::record_processed(&mut *self.tx, consumer, event_id))
            .await
    }

    /// Records that `consumer` processed each of `event_ids` (one statement per 128 ids): per
    /// id, whether it is new; an id listed twice is new at most once.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn record_all_processed(
        &mut self,
        consumer: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<bool>, StoreError> {
        self.guard
            .run(runtime_batch::record_all_processed(
                &mut self.tx,
                consumer,
                event_ids,
            ))
            .await
    }

    /// Commits everything and wakes in-process subscribers.
    ///
    /// # Errors
    /// [`StoreError::TransactionAborted`] (and a rollback) after a cancelled operation;
    /// backend failures, after which nothing was committed.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        if let Err(error) = self.guard.commit_allowed() {
            // The rollback's own failure would hide why: the connection is discarded anyway.
            let _ = self.tx.rollback().await;
            return Err(error);
        }
        self.tx.commit().await.map_err(StoreError::backend)?;
        self.store.advance_head(self.head);
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

/// Appends inside a savepoint: on an error, nothing of this append stays in the transaction.
/// (One `INSERT` whose base version is known needs none: a failed statement leaves nothing
/// behind and the transaction goes on.)
async fn append_in_savepoint(
    conn: &mut SqliteConnection,
    request: &AppendRequest,
) -> Result<Vec<RecordedEvent>, StoreError> {
    if let Some(base) = append::known_base(request) {
        return match append::insert_after(conn, request, base).await {
            Ok(recorded) => Ok(recorded),
            Err(failure) => Err(append::into_store_error(failure, conn, request).await),
        };
    }
    sqlx::query("SAVEPOINT eventcore_append")
        .execute(&mut *conn)
        .await
        .map_err(StoreError::backend)?;
    match append::append_in_transaction(conn, request).await {
        Ok(recorded) => {
            sqlx::query("RELEASE eventcore_append")
                .execute(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
            Ok(recorded)
        }
        Err(failure) => {
            sqlx::query("ROLLBACK TO eventcore_append; RELEASE eventcore_append")
                .execute(&mut *conn)
                .await
                .map_err(StoreError::backend)?;
            Err(append::into_store_error(failure, conn, request).await)
        }
    }
}
