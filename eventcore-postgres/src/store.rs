//! [`PgEventStore`]: the event store contract on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use eventcore::backend::SharedTail;
use eventcore::{
    AppendRequest, CommandRead, CommandSession, EventAppender, EventId, EventReader, RecordedEvent,
    StoreError, StreamId,
};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, oneshot, watch};

use crate::append::{self, Failure};
use crate::builder::PgEventStoreBuilder;
use crate::insert::Placement;
use crate::log_read::LogReader;
use crate::rows::event_from_row;
use crate::schema::Schema;
use crate::session::PgCommandSession;
use crate::snapshot::PgSnapshotStore;
use crate::sql::Sql;
use crate::transaction::PgTransaction;
use crate::{migrate, notify};

/// Transactions are READ COMMITTED whatever the database's default: a retry after losing a
/// version race must see the winner's rows.
pub(crate) const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// Attempts at an append that keeps racing other writers before giving up.
const MAX_ATTEMPTS: usize = 100;

/// An [`EventStore`](eventcore::EventStore) on PostgreSQL. Cloning gives another handle to the
/// same store (same pool, same listener). [`builder`](Self::builder) sets more than the schema
/// (for example no `LISTEN`/`NOTIFY` in a writer-only process).
///
/// ```no_run
/// # async fn demo() -> Result<(), eventcore::StoreError> {
/// use eventcore_postgres::PgEventStore;
///
/// let pool = eventcore_postgres::PgPool::connect("postgres://postgres@127.0.0.1/test").await.unwrap();
/// let store = PgEventStore::with_schema(pool, "shop").await?;
/// store.migrate().await?; // explicit: creates the schema and its eventcore_* tables
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgEventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) schema: Schema,
    pub(crate) sql: Sql,
    /// `read_all`'s statements and the final floor.
    log: LogReader,
    /// The last page a follower read, for the others.
    tail: SharedTail,
    head: Arc<watch::Sender<u64>>,
    /// Sends the NOTIFYs (none with notifications off).
    notifier: Option<mpsc::Sender<()>>,
    /// Dropping it stops the listener (none with notifications off).
    _listener: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgEventStore")
            .field("schema", &self.inner.schema.name())
            .field("notifications", &self.notifications())
            .finish()
    }
}

impl PgEventStore {
    /// A store in the `public` schema of `pool`'s database, with notifications on (see
    /// [`PgEventStoreBuilder::notifications`]). Does not migrate (call
    /// [`migrate`](Self::migrate)).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the listener cannot connect.
    pub async fn new(pool: PgPool) -> Result<Self, StoreError> {
        Self::open(pool, "public", true).await
    }

    /// A store whose tables live in `schema` (created by [`migrate`](Self::migrate)), with
    /// notifications on.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty, over-long or NUL-bearing schema name;
    /// [`StoreError::Backend`] when the listener cannot connect.
    pub async fn with_schema(pool: PgPool, schema: &str) -> Result<Self, StoreError> {
        Self::open(pool, schema, true).await
    }

    /// A builder for a store on `pool` with other options: its schema, and whether it
    /// `LISTEN`s and `NOTIFY`s.
    pub fn builder(pool: PgPool) -> PgEventStoreBuilder {
        PgEventStoreBuilder::new(pool)
    }

    /// The store in `schema`, listening and notifying if `notifications`.
    pub(crate) async fn open(
        pool: PgPool,
        schema: &str,
        notifications: bool,
    ) -> Result<Self, StoreError> {
        let schema = Schema::new(schema)?;
        let head = Arc::new(watch::Sender::new(0));
        let (notifier, listener) = if notifications {
            let (stop, stopped) = oneshot::channel();
            notify::spawn_listener(&pool, &schema.channel(), Arc::downgrade(&head), stopped)
                .await?;
            let notifier = notify::spawn_notifier(pool.clone(), schema.channel());
            (Some(notifier), Some(stop))
        } else {
            (None, None)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                sql: Sql::new(&schema),
                log: LogReader::new(&schema),
                tail: SharedTail::new(head.subscribe()),
                pool,
                schema,
                head,
                notifier,
                _listener: listener,
            }),
        })
    }

    /// Whether this store `LISTEN`s for other processes' appends and `NOTIFY`s them of its
    /// own (see [`PgEventStoreBuilder::notifications`]).
    pub fn notifications(&self) -> bool {
        self.inner.notifier.is_some()
    }

    /// Creates the schema if needed and applies every embedded migration not applied yet
    /// (tracked in `<schema>.eventcore_migrations`, apart from any `_sqlx_migrations`).
    /// Concurrent callers wait for each other.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails or an applied one was altered.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_to(migrate::latest_version()).await
    }

    /// Applies the embedded migrations up to and including `version` only.
    ///
    /// # Errors
    /// As [`migrate`](Self::migrate).
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        migrate::run(&mut conn, &self.inner.schema, version).await?;
        migrate::check_positions(&mut conn, &self.inner.schema).await
    }

    /// The newest schema version this build can migrate to.
    pub fn latest_schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The connection pool, for the caller's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema the tables live in.
    pub fn schema(&self) -> &str {
        self.inner.schema.name()
    }

    /// A snapshot store in the same schema.
    pub fn snapshots(&self) -> PgSnapshotStore {
        PgSnapshotStore::new(self.clone())
    }

    /// Starts a transaction in which appends, snapshots, checkpoints, saga state, deadlines,
    /// inbox records and the caller's own SQL commit together.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when no connection is available.
    pub async fn begin(&self) -> Result<PgTransaction, StoreError> {
        let tx = self
            .inner
            .pool
            .begin_with(BEGIN)
            .await
            .map_err(StoreError::backend)?;
        Ok(PgTransaction::new(tx, self.clone()))
    }

    /// A transaction that has joined the store's writers, as
    /// [`begin`](Self::begin) then [`PgTransaction::will_append`] would give, in one round trip
    /// (`BEGIN` and the gate sent together).
    ///
    /// # Errors
    /// Backend failures.
    pub async fn begin_appending(&self) -> Result<PgTransaction, StoreError> {
        let tx = self
            .inner
            .pool
            .begin_with(self.inner.sql.begin_appending.clone())
            .await
            .map_err(StoreError::backend)?;
        Ok(PgTransaction::holding_gate(tx, self.clone()))
    }

    /// Wakes local subscribers and (coalesced; with notifications on) other processes after a
    /// commit. Always wakes, unlike [`eventcore::backend::publish_head`]: a transaction with a
    /// lower id than the published head may be what was holding readers back, so its commit
    /// matters even though its positions are lower.
    pub(crate) fn committed(&self, last_position: u64) {
        self.inner
            .head
            .send_modify(|head| *head = (*head).max(last_position));
        if let Some(notifier) = &self.inner.notifier {
            let _ = notifier.try_send(());
        }
    }

    /// One attempt at `request` on `conn`.
    async fn append_once(
        &self,
        conn: &mut PgConnection,
        request: &AppendRequest,
    ) -> Result<Vec<RecordedEvent>, Failure> {
        if append::is_one_statement(request) {
            // One statement, its own transaction.
            return append::append_on(conn, &self.inner.sql, request, Placement::ALONE).await;
        }
        let mut tx = sqlx::Connection::begin_with(&mut *conn, BEGIN)
            .await
            .map_err(StoreError::backend)?;
        let recorded =
            append::append_on(&mut tx, &self.inner.sql, request, Placement::AUTOCOMMIT).await?;
        tx.commit().await.map_err(StoreError::backend)?;
        Ok(recorded)
    }

    /// [`EventAppender::append`] on `conn`: every attempt, and the look-up that names a
    /// duplicate event id.
    pub(crate) async fn append_with(
        &self,
        conn: &mut PgConnection,
        request: AppendRequest,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.append_once(conn, &request).await {
                Ok(recorded) => {
                    if let Some(last) = recorded.last() {
                        self.committed(last.global_position);
                    }
                    return Ok(recorded);
                }
                Err(failure) if append::is_retryable(&failure) && attempt < MAX_ATTEMPTS => {}
                Err(failure @ Failure::Duplicate) => {
                    let sql = &self.inner.sql;
                    return Err(append::into_store_error(failure, conn, sql, &request).await);
                }
                Err(failure) => return Err(failure.into_error()),
            }
        }
    }

    /// A connection of the pool.
    pub(crate) async fn acquire(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.inner.pool.acquire().await.map_err(StoreError::backend)
    }
}

#[async_trait]
impl EventAppender for PgEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut conn = self.acquire().await?;
        self.append_with(&mut conn, request).await
    }

    fn command_session(&self) -> Option<Box<dyn CommandSession + '_>> {
        Some(Box::new(PgCommandSession::new(self)))
    }
}

#[async_trait]
impl EventReader for PgEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let sql = &self.inner.sql.read_stream;
        crate::rows::read_stream(&self.inner.pool, sql, stream, from_version, max_count).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = &self.inner;
        inner
            .log
            .read_all(&inner.pool, from_position, max_count)
            .await
    }

    async fn read_all_following(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let inner = &self.inner;
        let read = |from, max| inner.log.read_all(&inner.pool, from, max);
        inner.tail.read(from_position, max_count, read).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        let mut conn = self.acquire().await?;
        append::version_of(&mut conn, &self.inner.sql, stream).await
    }

    async fn event_by_id(&self, event_id: EventId) -> Result<Option<RecordedEvent>, StoreError> {
        sqlx::query(&self.inner.sql.event_by_id)
            .bind(event_id.as_uuid())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(StoreError::backend)?
            .as_ref()
            .map(event_from_row)
            .transpose()
    }

    async fn read_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<CommandRead, StoreError> {
        crate::rows::read_for_command(
            &self.inner.pool,
            &self.inner.sql.read_for_command,
            stream,
            from_version,
            probe,
        )
        .await
    }

    async fn fold_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
        sink: &mut dyn eventcore::FoldSink,
    ) -> Result<Option<u64>, StoreError> {
        crate::rows::fold_for_command(
            &self.inner.pool,
            &self.inner.sql.read_for_command,
            stream,
            from_version,
            probe,
            sink,
        )
        .await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let head: i64 = sqlx::query_scalar(&self.inner.sql.head)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(StoreError::backend)?;
        Ok(head as u64)
    }

    fn head_watch(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }
}
