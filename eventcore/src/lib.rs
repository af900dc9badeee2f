//! # eventcore
//!
//! Event sourcing, CQRS and sagas for Rust. This crate holds the contracts every backend
//! implements, an in-memory backend that implements all of them, the repository that runs
//! commands against aggregates, and (feature `testing`) the kit storage crates test themselves
//! with.
//!
//! ## A guided tour
//!
//! **Events** are facts. A serde enum is the usual shape; each variant's name is stored as the
//! event type and its content as the JSON payload:
//!
//! ```
//! use eventcore::Event;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! pub enum AccountEvent {
//!     Opened { owner: String },
//!     Deposited { cents: u64 },
//!     Withdrawn { cents: u64 },
//! }
//! impl Event for AccountEvent {}
//! ```
//!
//! **Aggregates** fold their events into state (`apply`) and decide on **commands**
//! (`handle`), purely. Commands carry the id of the instance they target and a command id that
//! makes handling idempotent:
//!
//! ```
//! # use eventcore::Event;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! # pub enum AccountEvent { Opened { owner: String }, Deposited { cents: u64 }, Withdrawn { cents: u64 } }
//! # impl Event for AccountEvent {}
//! use eventcore::{Aggregate, Command, CommandId};
//!
//! #[derive(Default, Serialize, Deserialize)]
//! pub struct Account { open: bool, balance: u64 }
//!
//! pub struct AccountCommand { pub account: String, pub id: CommandId, pub action: Action }
//! pub enum Action { Open(String), Deposit(u64), Withdraw(u64) }
//!
//! impl Command for AccountCommand {
//!     fn aggregate_id(&self) -> &str { &self.account }
//!     fn command_id(&self) -> CommandId { self.id }
//! }
//!
//! /// A domain error: any `std::error::Error + Send + Sync` (derive it with `thiserror` if you
//! /// use it; written out here).
//! #[derive(Debug)]
//! pub enum AccountError { NotOpen, InsufficientFunds { balance: u64, asked: u64 } }
//!
//! impl std::fmt::Display for AccountError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         match self {
//!             Self::NotOpen => f.write_str("account is not open"),
//!             Self::InsufficientFunds { balance, asked } => {
//!                 write!(f, "insufficient funds: balance {balance}, asked {asked}")
//!             }
//!         }
//!     }
//! }
//! impl std::error::Error for AccountError {}
//!
//! impl Aggregate for Account {
//!     const TYPE: &'static str = "account";
//!     type Event = AccountEvent;
//!     type Command = AccountCommand;
//!     type Error = AccountError;
//!
//!     fn apply(&mut self, event: &AccountEvent) {
//!         match event {
//!             AccountEvent::Opened { .. } => self.open = true,
//!             AccountEvent::Deposited { cents } => self.balance += cents,
//!             AccountEvent::Withdrawn { cents } => self.balance -= cents,
//!         }
//!     }
//!
//!     fn handle(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
//!         match command.action {
//!             Action::Open(ref owner) => Ok(vec![AccountEvent::Opened { owner: owner.clone() }]),
//!             _ if !self.open => Err(AccountError::NotOpen),
//!             Action::Deposit(cents) => Ok(vec![AccountEvent::Deposited { cents }]),
//!             Action::Withdraw(asked) if asked > self.balance => {
//!                 Err(AccountError::InsufficientFunds { balance: self.balance, asked })
//!             }
//!             Action::Withdraw(cents) => Ok(vec![AccountEvent::Withdrawn { cents }]),
//!         }
//!     }
//! }
//!
//! // The **repository** loads the aggregate, runs `handle`, and appends the events with the
//! // version it loaded, retrying if another writer got there first.
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use eventcore::{InMemoryEventStore, Repository, RepositoryError};
//!
//! let repo = Repository::<Account>::new(InMemoryEventStore::new());
//! let cmd = |action| AccountCommand { account: "acc-1".into(), id: CommandId::new_random(), action };
//! repo.execute(cmd(Action::Open("ada".into()))).await.unwrap();
//! let committed = repo.execute(cmd(Action::Deposit(500))).await.unwrap();
//! assert_eq!(committed[0].stream_version, 2);
//! assert_eq!(committed[0].stream_id.as_str(), "account-acc-1");
//!
//! // Domain errors are typed, and nothing is written.
//! let err = repo.execute(cmd(Action::Withdraw(900))).await.unwrap_err();
//! assert!(matches!(err, RepositoryError::Domain(AccountError::InsufficientFunds { .. })));
//! assert_eq!(repo.load("acc-1").await.unwrap().state.balance, 500);
//! # });
//! ```
//!
//! **The event store** is the contract backends implement: [`EventAppender::append`] writes to
//! one or several streams atomically, each with an [`ExpectedVersion`]; a mismatch is a
//! [`Conflict`] and nothing is written. [`EventReader`] reads a stream, or the whole log in
//! global order, and [`EventReaderExt::subscribe`] catches up and then follows live appends.
//! The contract is spelled out on each trait; [`InMemoryEventStore`] implements it in memory,
//! and `eventcore-sqlite` / `eventcore-postgres` on disk.
//!
//! **Snapshots** ([`SnapshotStore`]) shortcut loading long streams; a snapshot written under
//! another [`Aggregate::SNAPSHOT_VERSION`] is ignored. **Upcasters** ([`Upcasters`]) lift
//! payloads stored under an older schema version to the current form on read; the stored
//! events never change.
//!
//! **Projections** ([`projection`]) keep read models up to date from the log, committing each
//! batch with its checkpoint in one transaction of the store ([`TransactionalStore`]), so a
//! model in the store's database is exactly right after any crash; they rebuild beside the
//! live model while it keeps running. **Sagas** ([`saga`]) coordinate flows across aggregates
//! with durable state, deterministic command ids, compensation in reverse order and durable
//! deadlines; **policies** are their stateless, choreographed form.
//!
//! ## Feature flags
// Links to the `testing` module only where it exists (without the feature, plain names).
#![cfg_attr(
    feature = "testing",
    doc = "- `testing`: [`testing::AggregateFixture`] (given/when/then), [`testing::SagaFixture`],
  [`testing::counter`] (a small sample aggregate) and the suites every backend passes:
  [`testing::conformance`], [`testing::projections`] and [`testing::sagas`]; the broker
  adapters' suite [`testing::brokers`]."
)]
#![cfg_attr(
    not(feature = "testing"),
    doc = "- `testing`: `testing::AggregateFixture` (given/when/then), `testing::SagaFixture`,
  `testing::counter` (a small sample aggregate) and the suites every backend passes:
  `testing::conformance`, `testing::projections` and `testing::sagas`; the broker
  adapters' suite `testing::brokers`."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aggregate;
pub mod backend;
pub mod backoff;
pub mod broker;
pub mod codec;
mod durable;
mod error;
mod event;
mod id;
mod memory;
mod memory_runtime;
pub mod projection;
mod repository;
pub mod saga;
mod session;
mod snapshot;
mod store;
mod subscription;
mod transaction;
mod tx_states;
mod upcast;
mod version;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

/// The attribute every `impl` of this crate's async traits needs (`Projection`, `CommandBus`,
/// `EventReader`, ...), re-exported so that the version in play is the one eventcore uses:
/// write `#[eventcore::async_trait]` above such an `impl`.
pub use async_trait::async_trait;

pub use aggregate::{Aggregate, Command};
pub use durable::RuntimeCounts;
pub use error::{AbortReason, BoxError, CodecError, InputError, StoreError};
pub use event::{Envelope, Event, FoldEvent, FoldEventRef, Metadata, NewEvent, RecordedEvent};
pub use id::{
    CommandId, EventId, MAX_EVENT_TYPE_BYTES, MAX_EVENTS_PER_APPEND, MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES, MAX_STREAM_ID_BYTES, MAX_STREAMS_PER_APPEND, StreamId,
};
pub use memory::{InMemoryEventStore, InMemorySnapshotStore};
pub use memory_runtime::InMemoryTransaction;
pub use repository::{
    Loaded, Repository, RepositoryError, RepositoryObserver, RetryPolicy, SnapshotPolicy,
};
pub use snapshot::{Snapshot, SnapshotStore};
pub use store::{
    AppendRequest, CommandRead, CommandSession, EventAppender, EventReader, EventStore, FoldSink,
    StreamAppend,
};
pub use subscription::{EventReaderExt, Subscription, SubscriptionOptions};
/// The bound of [`projection::ProjectionRunner`] and [`saga::SagaManager`]: a store that keeps
/// their records beside the log. Every backend implements it; name it in your own generic
/// code that starts runtimes. Its methods are for backends (see [`backend`]), except
/// [`counts`](RuntimeStore::counts), what a store holds now, for metrics.
pub use transaction::RuntimeStore;
pub use transaction::{DeadLetter, StoreTransaction, TransactionalStore};
pub use tx_states::TransactionStates;
pub use upcast::Upcasters;
pub use version::{Conflict, ExpectedVersion};
