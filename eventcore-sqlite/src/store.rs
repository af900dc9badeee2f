//! [`SqliteEventStore`]: the event store contract on SQLite.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventcore::backend::{SharedTail, read_start, sql_limit};
use eventcore::{
    AppendRequest, CommandRead, EventAppender, EventId, EventReader, RecordedEvent, StoreError,
    StreamId,
};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::watch;

use crate::append::{self, Failure};
use crate::migrate;
use crate::rows::{EVENT_COLUMNS, event_from_row};
use crate::snapshot::SqliteSnapshotStore;
use crate::transaction::SqliteTransaction;

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a task waits for the (single) writer connection.
const WRITER_WAIT: Duration = Duration::from_secs(300);
/// Reader connections for a file database.
const READERS: u32 = 4;

/// An [`EventStore`](eventcore::EventStore) on SQLite. Cloning gives another handle to the
/// same database.
///
/// All writes in a process go through one writer connection (SQLite has one writer at a
/// time), in `BEGIN IMMEDIATE` transactions or single autocommit statements, so tasks queue for
/// it instead of failing with "database is locked"; other processes are waited for up to 30 s.
/// Reads use a pool of read-only connections that WAL mode never blocks.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::{AppendRequest, EventAppender, EventReader, ExpectedVersion, NewEvent, StreamId};
/// use eventcore_sqlite::SqliteEventStore;
///
/// let store = SqliteEventStore::open_in_memory().await.unwrap();
/// let stream = StreamId::new("order-1").unwrap();
/// let event = NewEvent::raw("OrderPlaced", 1, serde_json::value::to_raw_value(&42).unwrap());
/// store.append(AppendRequest::single(stream.clone(), ExpectedVersion::NoStream, vec![event])).await.unwrap();
/// assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct SqliteEventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    head: watch::Sender<u64>,
    /// The last page a follower read, for the others.
    tail: SharedTail,
}

impl std::fmt::Debug for SqliteEventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteEventStore")
            .field("head", &*self.inner.head.borrow())
            .finish()
    }
}

impl SqliteEventStore {
    /// Opens (creating if missing) the database file at `path` in WAL mode with
    /// `synchronous = FULL`, and migrates it to the latest schema.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let store = Self::connect_with(Self::options(path)).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// The options [`open`](Self::open) uses for the file at `path` (created if missing, WAL,
    /// `synchronous = FULL`), to adjust and pass to [`connect_with`](Self::connect_with):
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use eventcore_sqlite::{SqliteEventStore, SqliteSynchronous};
    ///
    /// let path = std::env::temp_dir().join(format!("eventcore-doc-{}.db", uuid::Uuid::new_v4()));
    /// let options = SqliteEventStore::options(&path).synchronous(SqliteSynchronous::Normal);
    /// let store = SqliteEventStore::connect_with(options).await.unwrap();
    /// store.migrate().await.unwrap();
    /// # drop(store);
    /// # let _ = std::fs::remove_file(&path);
    /// # });
    /// ```
    pub fn options(path: impl AsRef<Path>) -> SqliteConnectOptions {
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
    }

    /// Opens a private in-memory database (gone when the last handle is dropped), migrated.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when SQLite cannot be initialised.
    pub async fn open_in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(StoreError::backend)?
            .busy_timeout(BUSY_TIMEOUT);
        // An in-memory database lives in its connection: exactly one, kept forever.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(WRITER_WAIT)
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        let store = Self::from_pools(pool.clone(), pool).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects to a file database with the caller's options (journal mode, synchronous,
    /// pragmas), adding a busy timeout. Does not migrate: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database cannot be opened.
    pub async fn connect_with(options: SqliteConnectOptions) -> Result<Self, StoreError> {
        let options = options.busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(WRITER_WAIT)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::backend)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::backend)?;
        Self::from_pools(writer, reader).await
    }

    /// A store over pools the caller built: `writer` must have exactly one connection (or be
    /// the only writer by other means); `reader` may be the same pool. Does not migrate.
    ///
    /// # Errors
    /// None today (the head is read lazily when the schema is missing); kept fallible so that
    /// validation can be added without breaking callers.
    pub async fn from_pools(writer: SqlitePool, reader: SqlitePool) -> Result<Self, StoreError> {
        let head = watch::Sender::new(0);
        let store = Self {
            inner: Arc::new(Inner {
                writer,
                reader,
                tail: SharedTail::new(head.subscribe()),
                head,
            }),
        };
        if let Ok(head) = store.head_position().await {
            store.advance_head(head);
        }
        Ok(store)
    }

    /// Applies every embedded migration not applied yet (tracked in `eventcore_migrations`,
    /// apart from any `_sqlx_migrations` of the application).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a migration fails or an applied one was altered.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_to(migrate::latest_version()).await
    }

    /// Applies the embedded migrations up to and including `version` only: for staged
    /// upgrades, and for testing upgrades from an older schema.
    ///
    /// # Errors
    /// As [`migrate`](Self::migrate).
    pub async fn migrate_to(&self, version: i64) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        migrate::run(&mut conn, version).await?;
        let head = read_head(&mut conn).await?;
        self.advance_head(head);
        Ok(())
    }

    /// The newest schema version this build can migrate to.
    pub fn latest_schema_version() -> i64 {
        migrate::latest_version()
    }

    /// A snapshot store in the same database.
    pub fn snapshots(&self) -> SqliteSnapshotStore {
        SqliteSnapshotStore::new(self.clone())
    }

    /// Starts an immediate (write-locking) transaction in which appends, snapshots,
    /// checkpoints, saga state, deadlines, inbox records and the caller's own SQL commit
    /// together.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the transaction cannot start.
    pub async fn begin(&self) -> Result<SqliteTransaction, StoreError> {
        let tx = self
            .inner
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::backend)?;
        Ok(SqliteTransaction::new(tx, self.clone()))
    }

    /// The read-only pool, for the caller's queries (read models in the same database).
    pub fn reader_pool(&self) -> &SqlitePool {
        &self.inner.reader
    }

    pub(crate) async fn writer(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Sqlite>, StoreError> {
        self.inner
            .writer
            .acquire()
            .await
            .map_err(StoreError::backend)
    }

    /// Publishes a new head to in-process subscribers.
    pub(crate) fn advance_head(&self, head: u64) {
        eventcore::backend::publish_head(&self.inner.head, head);
    }
}

async fn read_head(conn: &mut SqliteConnection) -> Result<u64, StoreError> {
    let head: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM eventcore_events")
        .fetch_one(conn)
        .await
        .map_err(StoreError::backend)?;
    Ok(head as u64)
}

#[async_trait]
impl EventAppender for SqliteEventStore {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        request.validate()?;
        let mut conn = self.writer().await?;
        let result = if append::is_single_statement(&request) {
            append::append_single_statement(&mut conn, &request).await
        } else {
            let mut tx = conn
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(StoreError::backend)?;
            match append::append_in_transaction(&mut tx, &request).await {
                Ok(recorded) => tx
                    .commit()
                    .await
                    .map(|()| recorded)
                    .map_err(|e| Failure::Store(StoreError::backend(e))),
                Err(failure) => {
                    tx.rollback().await.map_err(StoreError::backend)?;
                    Err(failure)
                }
            }
        };
        match result {
            Ok(recorded) => {
                if let Some(last) = recorded.last() {
                    self.advance_head(last.global_position);
                }
                Ok(recorded)
            }
            Err(failure) => Err(append::into_store_error(failure, &mut conn, &request).await),
        }
    }
}

#[async_trait]
impl EventReader for SqliteEventStore {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        crate::reads::read_stream(&self.inner.reader, stream, from_version, max_count).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let Some(from_position) = read_start(from_position)? else {
            return Ok(Vec::new()); // beyond any stored position
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM eventcore_events \
             WHERE position >= ?1 ORDER BY position LIMIT ?2"
        );
        sqlx::query(&sql)
            .bind(from_position)
            .bind(sql_limit(max_count))
            .fetch_all(&self.inner.reader)
            .await
            .map_err(StoreError::backend)?
            .iter()
            .map(event_from_row)
            .collect()
    }

    async fn read_all_following(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let read = |from, max| self.read_all(from, max);
        self.inner.tail.read(from_position, max_count, read).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        let mut conn = self
            .inner
            .reader
            .acquire()
            .await
            .map_err(StoreError::backend)?;
        append::version_of(&mut conn, stream).await
    }

    async fn event_by_id(&self, event_id: EventId) -> Result<Option<RecordedEvent>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM eventcore_events WHERE event_id = ?1");
        sqlx::query(&sql)
            .bind(event_id.as_bytes().as_slice())
            .fetch_optional(&self.inner.reader)
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
        crate::reads::read_for_command(&self.inner.reader, stream, from_version, probe).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let mut conn = self
            .inner
            .reader
            .acquire()
            .await
            .map_err(StoreError::backend)?;
        read_head(&mut conn).await
    }

    fn head_watch(&self) -> watch::Receiver<u64> {
        self.inner.head.subscribe()
    }
}
