//! [`PgSnapshotStore`]: snapshots in the same schema as the events.

use async_trait::async_trait;
use eventcore::{Snapshot, SnapshotStore, StoreError, StreamId};
use sqlx::PgExecutor;

use crate::PgEventStore;
use crate::rows::to_i64;

/// A [`SnapshotStore`] in the event store's schema (table `eventcore_snapshots`).
#[derive(Clone, Debug)]
pub struct PgSnapshotStore {
    store: PgEventStore,
}

impl PgSnapshotStore {
    /// The snapshot store of `store`'s schema.
    pub fn new(store: PgEventStore) -> Self {
        Self { store }
    }
}

/// Saves under the contract's rule: replace unless the stored snapshot has the same schema and
/// a higher version.
pub(crate) async fn save_on<'e>(
    executor: impl PgExecutor<'e>,
    sql: &str,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    sqlx::query(sql)
        .bind(snapshot.stream.as_str())
        .bind(to_i64(snapshot.version)?)
        .bind(i64::from(snapshot.schema_version))
        .bind(snapshot.state.get())
        .execute(executor)
        .await
        .map_err(StoreError::backend)?;
    Ok(())
}

#[async_trait]
impl SnapshotStore for PgSnapshotStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let row: Option<(i64, i64, String)> = sqlx::query_as(&self.store.inner.sql.load_snapshot)
            .bind(stream.as_str())
            .fetch_optional(self.store.pool())
            .await
            .map_err(StoreError::backend)?;
        let Some((version, schema_version, state)) = row else {
            return Ok(None);
        };
        eventcore::backend::snapshot_from_columns(stream, version, schema_version, state).map(Some)
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        save_on(
            self.store.pool(),
            &self.store.inner.sql.save_snapshot,
            &snapshot,
        )
        .await
    }
}
