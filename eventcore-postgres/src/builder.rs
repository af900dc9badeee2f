//! [`PgEventStoreBuilder`]: a store's schema and whether it takes part in wake-ups across
//! processes.

use eventcore::StoreError;
use sqlx::PgPool;

use crate::store::PgEventStore;

/// Builds a [`PgEventStore`] with options beyond the pool: the schema its tables live in
/// (`public` unless set) and whether it sends and receives wake-ups across processes
/// (`LISTEN`/`NOTIFY`, on unless turned off).
///
/// ```no_run
/// # async fn demo() -> Result<(), eventcore::StoreError> {
/// use eventcore_postgres::PgEventStore;
///
/// let pool = eventcore_postgres::PgPool::connect("postgres://postgres@127.0.0.1/test").await.unwrap();
/// // A writer-only process (an HTTP API without subscribers): no LISTEN connection, no NOTIFY.
/// let store = PgEventStore::builder(pool)
///     .schema("shop")
///     .notifications(false)
///     .build()
///     .await?;
/// assert!(!store.notifications());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PgEventStoreBuilder {
    pool: PgPool,
    schema: String,
    notifications: bool,
}

impl PgEventStoreBuilder {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            pool,
            schema: "public".to_owned(),
            notifications: true,
        }
    }

    /// Keeps the tables in `schema` (created by [`PgEventStore::migrate`]) instead of
    /// `public`.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Whether the store takes part in wake-ups across processes (default: `true`).
    ///
    /// On, the store `LISTEN`s on a connection of its own (outside the pool) and sends a
    /// `NOTIFY` after its appends commit, so subscribers in every process wake at once. Off,
    /// it does neither: its appends still wake its own subscribers (and those of its clones)
    /// at once, while its subscribers see other processes' appends at their fallback poll.
    /// Turn it off in a process that only writes, or that must not hold the extra connection.
    pub fn notifications(mut self, enabled: bool) -> Self {
        self.notifications = enabled;
        self
    }

    /// The store. Does not migrate (call [`PgEventStore::migrate`]).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty, over-long or NUL-bearing schema name;
    /// [`StoreError::Backend`] when the listener cannot connect (with notifications on).
    pub async fn build(self) -> Result<PgEventStore, StoreError> {
        PgEventStore::open(self.pool, &self.schema, self.notifications).await
    }
}
