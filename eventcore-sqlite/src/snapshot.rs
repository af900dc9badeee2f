//! [`SqliteSnapshotStore`]: snapshots in the same database as the events.

use std::time::SystemTime;

use async_trait::async_trait;
use eventcore::{Snapshot, SnapshotStore, StoreError, StreamId};
use sqlx::SqliteExecutor;

use crate::SqliteEventStore;
use crate::rows::{micros, to_i64};

/// A [`SnapshotStore`] in the event store's SQLite database (table `eventcore_snapshots`).
#[derive(Clone, Debug)]
pub struct SqliteSnapshotStore {
    store: SqliteEventStore,
}

impl SqliteSnapshotStore {
    /// The snapshot store of `store`'s database.
    pub fn new(store: SqliteEventStore) -> Self {
        Self { store }
    }
}

/// Saves under the contract's rule: replace unless the stored snapshot has the same schema
/// and a higher version.
pub(crate) async fn save_on<'e>(
    executor: impl SqliteExecutor<'e>,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO eventcore_snapshots (stream_id, version, schema_version, state, taken_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (stream_id) DO UPDATE SET
             version = excluded.version, schema_version = excluded.schema_version,
             state = excluded.state, taken_at = excluded.taken_at
         WHERE eventcore_snapshots.schema_version <> excluded.schema_version
            OR excluded.version >= eventcore_snapshots.version",
    )
    .bind(snapshot.stream.as_str())
    .bind(to_i64(snapshot.version)?)
    .bind(i64::from(snapshot.schema_version))
    .bind(snapshot.state.get())
    .bind(micros(SystemTime::now()))
    .execute(executor)
    .await
    .map_err(StoreError::backend)?;
    Ok(())
}

#[async_trait]
impl SnapshotStore for SqliteSnapshotStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let row: Option<(i64, i64, String)> = sqlx::query_as(
            "SELECT version, schema_version, state FROM eventcore_snapshots WHERE stream_id = ?1",
        )
        .bind(stream.as_str())
        .fetch_optional(self.store.reader_pool())
        .await
        .map_err(StoreError::backend)?;
        let Some((version, schema_version, state)) = row else {
            return Ok(None);
        };
        eventcore::backend::snapshot_from_columns(stream, version, schema_version, state).map(Some)
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut conn = self.store.writer().await?;
        save_on(&mut *conn, &snapshot).await
    }
}
