//! A command's read and append on one pooled connection
//! ([`EventAppender::command_session`](eventcore::EventAppender::command_session)): the pool
//! hands it out once and takes it back once, instead of once per statement.

use async_trait::async_trait;
use eventcore::StreamId;
use eventcore::{AppendRequest, CommandSession, EventId, FoldSink, RecordedEvent, StoreError};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::store::PgEventStore;

/// The session: the connection is taken at the first statement.
pub(crate) struct PgCommandSession<'a> {
    store: &'a PgEventStore,
    conn: Option<PoolConnection<Postgres>>,
}

impl<'a> PgCommandSession<'a> {
    pub(crate) fn new(store: &'a PgEventStore) -> Self {
        Self { store, conn: None }
    }

    /// The session's connection, taken from the pool the first time.
    async fn conn(&mut self) -> Result<&mut PoolConnection<Postgres>, StoreError> {
        if self.conn.is_none() {
            self.conn = Some(self.store.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("taken above"))
    }

    /// Lets go of the connection after a backend failure (it may be broken): a later
    /// statement takes another.
    fn after<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Backend { .. }) = &result {
            self.conn = None;
        }
        result
    }
}

#[async_trait]
impl CommandSession for PgCommandSession<'_> {
    async fn fold_for_command(
        &mut self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
        sink: &mut dyn FoldSink,
    ) -> Result<Option<u64>, StoreError> {
        let store = self.store;
        let sql = &store.inner.sql.read_for_command;
        let conn = self.conn().await?;
        let result =
            crate::rows::fold_for_command(&mut **conn, sql, stream, from_version, probe, sink)
                .await;
        self.after(result)
    }

    async fn append(&mut self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        let store = self.store;
        let conn = self.conn().await?;
        let result = store.append_with(conn, request).await;
        self.after(result)
    }
}
