//! # eventcore-sqlite
//!
//! The embedded default backend of [`eventcore`]: the whole
//! [`EventStore`](eventcore::EventStore) contract, snapshots, projection checkpoints, saga
//! state, durable deadlines and a consumer inbox in one SQLite database (a file, or memory),
//! with no server.
//!
//! The examples on this crate's pages use the sample aggregate `eventcore::testing::counter`,
//! which comes with eventcore's `testing` feature (`eventcore = { ..., features = ["testing"] }`
//! among your dev-dependencies); your own aggregates need no feature. The walk-through in the
//! workspace's `docs/guide.md` builds an application of its own from scratch.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//!
//! use eventcore::testing::counter::{Counter, CounterCommand};
//! use eventcore::{Repository, SnapshotPolicy};
//! use eventcore_sqlite::SqliteEventStore;
//!
//! let dir = std::env::temp_dir().join(format!("eventcore-doc-{}", uuid::Uuid::new_v4()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let store = SqliteEventStore::open(dir.join("shop.db")).await.unwrap();
//! let repo = Repository::<Counter>::new(store.clone())
//!     .with_snapshots(Arc::new(store.snapshots()), SnapshotPolicy::EveryNEvents(100));
//! repo.execute(CounterCommand::add("visits", 3)).await.unwrap();
//! assert_eq!(repo.load("visits").await.unwrap().state.total, 3);
//! # std::fs::remove_dir_all(dir).unwrap();
//! # });
//! ```
//!
//! ## How it works
//! - **Tables** are prefixed `eventcore_` so they live beside the application's own. The
//!   schema is embedded (`migrations/*.sql`) and applied by [`SqliteEventStore::migrate`], which
//!   [`SqliteEventStore::open`] and [`SqliteEventStore::open_in_memory`] call; it is tracked in
//!   `eventcore_migrations`, apart from any `_sqlx_migrations` of the application, and an older
//!   database is brought up to date on open.
//! - **One writer.** Every write in the process goes through a single writer connection, so
//!   tasks queue instead of seeing "database is locked"; writers in other processes are waited
//!   for (busy timeout, 30 s). File databases use WAL, so readers (a pool of read-only
//!   connections) never block the writer, and `synchronous = FULL` by default, so a commit is
//!   on disk before the append returns.
//! - **Appends.** Events go in with plain multi-row `INSERT`s carrying the versions the append
//!   expects to write; a trigger (`eventcore_events_contiguous_versions`) aborts any statement
//!   whose versions do not follow the stream's current one. So a single-stream append of up to
//!   1,000 events with `Exact` or `NoStream` is one statement, checked atomically even against
//!   other processes; `Any` and `StreamExists` read the version first (two statements, retried
//!   if the trigger reports that the stream moved); larger and multi-stream appends run in one
//!   `BEGIN IMMEDIATE` transaction. Global positions are the table's row ids, assigned by the
//!   one writer in commit order, so the log has no gaps a reader could skip. (An application
//!   trigger on `eventcore_events` that uses `RAISE(ABORT)` would be read as a moved stream.)
//! - **One transaction for everything.** [`SqliteEventStore::begin`] gives a
//!   [`SqliteTransaction`] in which appends, snapshots, checkpoints, saga state, deadlines,
//!   inbox records and the caller's own SQL commit together. It holds the writer connection:
//!   while it is open, do everything through it — a write through the store (or, for an
//!   in-memory database, any call on the store, since reads share that one connection) waits
//!   for the transaction to end.
//! - **Projections and sagas.** [`SqliteTransaction`] is the store's
//!   [`StoreTransaction`](eventcore::StoreTransaction) and [`SqliteEventStore`] its
//!   [`TransactionalStore`](eventcore::TransactionalStore): the projection runner and the saga
//!   manager commit read models, checkpoints, dead letters, saga records and deadlines with it.
//! - **Live subscriptions** are woken by the appending handle in the same process (no polling
//!   delay); writes from other processes are picked up by the subscription's fallback poll.

mod append;
mod migrate;
mod projection;
mod reads;
mod rows;
mod runtime;
mod runtime_batch;
mod snapshot;
mod store;
mod transaction;

pub use snapshot::SqliteSnapshotStore;
/// The `sqlx` this crate is built with, for your own SQL in a transaction
/// ([`SqliteTransaction::connection`]): use `eventcore_sqlite::sqlx` rather than a `sqlx` dependency of your
/// own, whose version might differ (and whose connection type would then not match).
pub use sqlx;
pub use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
pub use store::SqliteEventStore;
pub use transaction::SqliteTransaction;
