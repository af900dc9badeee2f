//! # eventcore-postgres
//!
//! The production backend of [`eventcore`]: the whole [`EventStore`](eventcore::EventStore)
//! contract on PostgreSQL (13 or newer), plus snapshots, projection checkpoints, saga state,
//! durable deadlines and a consumer inbox in the same schema, all joinable in one
//! [`PgTransaction`] with the caller's own SQL.
//!
//! The examples on this crate's pages use the sample aggregate `eventcore::testing::counter`,
//! which comes with eventcore's `testing` feature (`eventcore = { ..., features = ["testing"] }`
//! among your dev-dependencies); your own aggregates need no feature. The walk-through in the
//! workspace's `docs/guide.md` builds an application of its own from scratch.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//!
//! use eventcore::testing::counter::{Counter, CounterCommand};
//! use eventcore::{Repository, SnapshotPolicy};
//! use eventcore_postgres::PgEventStore;
//!
//! let pool = eventcore_postgres::PgPool::connect("postgres://postgres@127.0.0.1/test").await?;
//! let store = PgEventStore::with_schema(pool, "shop").await?;
//! store.migrate().await?;
//! let repo = Repository::<Counter>::new(store.clone())
//!     .with_snapshots(Arc::new(store.snapshots()), SnapshotPolicy::EveryNEvents(100));
//! repo.execute(CounterCommand::add("visits", 1)).await?;
//! # Ok(()) }
//! ```
//!
//! ## A global order that never skips
//!
//! A log reader (a projection, a relay) remembers the last global position it processed and
//! asks for everything after it. With positions from a sequence, that is subtly wrong: two
//! transactions take positions 10 and 11, the one with 11 commits first, a reader processes
//! 11 and moves on, and 10 appears later *behind* the reader — skipped forever. Several mature
//! event stores shipped exactly this bug, or papered over it with a timeout.
//!
//! Here the position is derived from the **writing transaction's id**:
//! `global_position = (pg_current_xact_id() << 20) + index of the event in the transaction`.
//! A reader only returns positions below a *read bound*: the id of the oldest transaction that
//! may still commit events below it. Every appending transaction takes the store's write gate
//! (a shared advisory lock keyed by its session) before it gets its id, and the bound is the oldest gate holder the
//! reader's snapshot saw in flight (or one that finished since that snapshot; an id whose
//! lock is not in the lock table yet counts too, as it may be a gate holder's). New
//! transactions get higher ids; in-flight writers hold the bound at their id. The reader
//! therefore never skips, and a long transaction that appends no events (a batch update, a
//! session idle in transaction, a write in another database) does not hold it back;
//! [`PgEventStore::read_bound`] shows what does. Writers are not serialised behind any global
//! lock: a single-stream append is one `INSERT ... SELECT` in its own transaction, served by
//! the primary key and the `(stream_id, stream_version)` index; a multi-stream append runs one
//! such statement per stream in one transaction. Each append also takes a per-stream advisory
//! lock (exclusive to write, shared for a stream that is only version-checked, all in one
//! sorted order), so a checked stream cannot change before the checking transaction commits
//! and multi-stream appends cannot deadlock. A transaction that wrote something else before
//! its first append is refused with [`AbortReason::Overtaken`](eventcore::AbortReason) if
//! later transactions' events were committed meanwhile (readers may have passed it); call
//! [`PgTransaction::will_append`] first to avoid that.
//!
//! Per-stream order is kept too: an append must produce positions above the stream's last
//! one, which only fails for a transaction that obtained its id before another transaction
//! appended to the same stream and committed; that append is rejected as a conflict (the
//! store's own `append` retries it in a fresh transaction).
//!
//! **What it costs.** Visibility to log readers waits for the oldest transaction still
//! appending to this store: a long appending transaction delays every subscriber until it
//! ends — delays, never skips. Stream reads (`read_stream`, loading aggregates) are not affected. Positions
//! are not contiguous (they jump by the transaction id), one transaction may append at most
//! 2^20 − 1 events, and transaction ids must stay below 2^43.
//!
//! **What it assumes.** Transaction ids only grow. A dump restored into a new cluster, or a
//! failover to an asynchronous replica, can put the id counter behind stored positions; then
//! new events would land behind readers. [`PgEventStore::migrate`] checks this and refuses such
//! a database; after a restore, advance the counter (for example with `pg_resetwal -x`) past
//! `max(global_position) >> 20` before use.
//!
//! ## Live subscriptions
//! After an append commits, the store wakes its own subscribers at once and sends a
//! `NOTIFY` on `eventcore_events:<schema>` (a hash for schema names too long for a channel
//! name; coalesced under load); every store handle `LISTEN`s on that channel, on a connection
//! of its own outside the caller's pool, so subscribers in other processes wake too. The subscription's
//! fallback poll covers lost notifications and transactions that hold the reader back.
//!
//! A process that only writes (or must not hold the extra connection) turns this off with
//! [`PgEventStore::builder`]: with [`notifications(false)`](PgEventStoreBuilder::notifications)
//! the store neither `LISTEN`s nor `NOTIFY`s. Its appends still wake its own subscribers at
//! once; its subscribers see other processes' appends at their fallback poll.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::PgPool) -> Result<(), eventcore::StoreError> {
//! use eventcore_postgres::PgEventStore;
//!
//! let store = PgEventStore::builder(pool).schema("shop").notifications(false).build().await?;
//! # Ok(()) }
//! ```
//!
//! ## Projections and sagas
//! [`PgTransaction`] is the store's [`StoreTransaction`](eventcore::StoreTransaction) and
//! [`PgEventStore`] its [`TransactionalStore`](eventcore::TransactionalStore): projection
//! checkpoints (locked with `SELECT ... FOR UPDATE` by each batch, so replicas of one
//! projection take turns), dead letters, saga records, deadlines and the consumer inbox live in
//! the same schema, and one transaction covers them, appends and the caller's own SQL.
//!
//! ## Schema and migrations
//! Tables are prefixed `eventcore_` and live in the schema given to
//! [`PgEventStore::with_schema`] (`public` with [`PgEventStore::new`]). Migrations are embedded
//! (`migrations/*.sql`) and run only by an explicit [`PgEventStore::migrate`], tracked in
//! `<schema>.eventcore_migrations` apart from the application's own `_sqlx_migrations`, under an
//! advisory lock so concurrent deployments do not race. Payloads and metadata are stored as
//! `JSON` (verbatim text, queryable with `->>`).

mod append;
mod bound;
mod builder;
mod insert;
mod log_read;
mod migrate;
mod notify;
mod projection;
mod rows;
mod runtime;
mod runtime_sql;
mod schema;
mod session;
mod snapshot;
mod sql;
mod store;
mod transaction;
mod tx_runtime;

pub use bound::{BoundHolder, ReadBound};
pub use builder::PgEventStoreBuilder;
pub use snapshot::PgSnapshotStore;
/// The `sqlx` this crate is built with, for your own SQL in a transaction
/// ([`PgTransaction::connection`]): use `eventcore_postgres::sqlx` rather than a `sqlx` dependency of your
/// own, whose version might differ (and whose connection type would then not match).
pub use sqlx;
pub use sqlx::PgPool;
pub use store::PgEventStore;
pub use transaction::PgTransaction;
