//! [`PgTransaction`]: one transaction covering appends, snapshots, runtime state and the
//! caller's own SQL.

use eventcore::{
    AppendRequest, DeadlineRecord, EventId, RecordedEvent, SagaRecord, Snapshot, StoreError,
};
use sqlx::{PgConnection, Postgres, Transaction};

use crate::append::Failure;
use crate::{PgEventStore, append, runtime, snapshot};

/// Attempts at an append that keeps racing other writers for the same versions.
const MAX_ATTEMPTS: usize = 100;

/// A transaction on the store's database. Everything done through it commits together on
/// [`commit`](Self::commit), or not at all (dropping it rolls back).
///
/// Appends inside a transaction take their global positions from the transaction's id, so
/// they become visible to log readers, in order, once it commits. A transaction that started
/// writing before another transaction appended to the same stream and committed cannot append
/// to that stream after it: that append reports a [`StoreError::Conflict`] (retry in a new
/// transaction), which keeps every stream's versions in global order.
pub struct PgTransaction {
    tx: Transaction<'static, Postgres>,
    store: PgEventStore,
    appended: u64,
    last_position: u64,
    /// An append was cancelled midway: whether its events were written is unknown.
    interrupted: bool,
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
            interrupted: false,
        }
    }

    /// Refuses further use after an append was cancelled midway (its events may or may not be
    /// in the transaction; committing could write what the caller thinks failed).
    fn usable(&self) -> Result<(), StoreError> {
        if self.interrupted {
            return Err(StoreError::backend(
                "an append in this transaction was cancelled midway; roll it back",
            ));
        }
        Ok(())
    }

    /// The store this transaction belongs to.
    pub(crate) fn store(&self) -> &PgEventStore {
        &self.store
    }

    /// The transaction's connection, for the caller's own SQL.
    pub fn connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Appends within the transaction, under the
    /// [`EventAppender::append`](eventcore::EventAppender::append) contract. On an error, nothing
    /// of this append is written (it is rolled back to a savepoint) and the transaction may go on.
    /// If the returned future is dropped before it completes, the transaction refuses further
    /// appends and its commit.
    ///
    /// # Errors
    /// As the contract says.
    pub async fn append(
        &mut self,
        request: AppendRequest,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        self.usable()?;
        // Cleared on every path that finishes; left set if this future is dropped midway, when
        // the insert may or may not have run inside the still-open savepoint.
        self.interrupted = true;
        let sql = &self.store.inner.sql;
        let mut attempt = 0;
        loop {
            attempt += 1;
            sqlx::query("SAVEPOINT eventcore_append")
                .execute(&mut *self.tx)
                .await
                .map_err(StoreError::backend)?;
            match append::append_on(&mut self.tx, sql, &request, self.appended).await {
                Ok(recorded) => {
                    sqlx::query("RELEASE SAVEPOINT eventcore_append")
                        .execute(&mut *self.tx)
                        .await
                        .map_err(StoreError::backend)?;
                    self.appended += recorded.len() as u64;
                    if let Some(last) = recorded.last() {
                        self.last_position = last.global_position;
                    }
                    self.interrupted = false;
                    return Ok(recorded);
                }
                Err(failure) => {
                    for statement in [
                        "ROLLBACK TO SAVEPOINT eventcore_append",
                        "RELEASE SAVEPOINT eventcore_append",
                    ] {
                        sqlx::query(statement)
                            .execute(&mut *self.tx)
                            .await
                            .map_err(StoreError::backend)?;
                    }
                    // A concurrent transaction committed the same versions first; under READ
                    // COMMITTED the next statement sees them, so evaluating again is enough.
                    if matches!(failure, Failure::Raced) && attempt < MAX_ATTEMPTS {
                        continue;
                    }
                    let error =
                        append::into_store_error(failure, &mut self.tx, sql, &request).await;
                    self.interrupted = false;
                    return Err(error);
                }
            }
        }
    }

    /// Saves a snapshot under the [`SnapshotStore`](eventcore::SnapshotStore) contract.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        snapshot::save_on(&mut *self.tx, &self.store.inner.sql.save_snapshot, snapshot).await
    }

    /// The checkpoint named `name`, locked until this transaction ends (`SELECT ... FOR
    /// UPDATE`; created at 0 if absent): another transaction moving it waits for this one, and
    /// this one sees the latest committed value.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError> {
        runtime::lock_checkpoint(&mut self.tx, &self.store.inner.sql.runtime, name).await
    }

    /// Sets the checkpoint named `name` to `position`.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError> {
        runtime::save_checkpoint(&mut *self.tx, &self.store.inner.sql.runtime, name, position).await
    }

    /// The saga instance's record, as this transaction sees it.
    ///
    /// # Errors
    /// Backend failures; [`StoreError::Corrupt`] for an unreadable record.
    pub async fn load_saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError> {
        runtime::load_saga(
            &mut *self.tx,
            &self.store.inner.sql.runtime,
            saga_type,
            saga_id,
        )
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
        runtime::save_saga(
            &mut self.tx,
            &self.store.inner.sql.runtime,
            record,
            expected_version,
        )
        .await
    }

    /// Schedules (or reschedules, by id) a durable deadline.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError> {
        runtime::schedule_deadline(&mut *self.tx, &self.store.inner.sql.runtime, deadline).await
    }

    /// Cancels a deadline (also used once it fired); `false` when there was none.
    ///
    /// # Errors
    /// Backend failures.
    pub async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError> {
        runtime::cancel_deadline(&mut *self.tx, &self.store.inner.sql.runtime, deadline_id).await
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
        runtime::record_processed(
            &mut *self.tx,
            &self.store.inner.sql.runtime,
            consumer,
            event_id,
        )
        .await
    }

    /// Commits everything and wakes subscribers (here and, by NOTIFY, elsewhere).
    ///
    /// # Errors
    /// Refuses (and rolls back) after a cancelled append. On a backend failure nothing was
    /// committed, except when the connection broke during `COMMIT` itself, when the outcome is
    /// unknown (appends are then safe to retry with the same event ids: a duplicate is
    /// reported as such).
    pub async fn commit(self) -> Result<(), StoreError> {
        if let Err(error) = self.usable() {
            self.tx.rollback().await.map_err(StoreError::backend)?;
            return Err(error);
        }
        self.tx.commit().await.map_err(StoreError::backend)?;
        if self.appended > 0 {
            self.store.committed(self.last_position);
        }
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
