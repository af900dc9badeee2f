//! Steps executed in the saga's own store, inside the transaction that records their outcome:
//! the command's events, the step's outcome and the saga record commit together (one commit
//! per step, no claim round trip, exactly once by construction).

use std::any::Any;

use async_trait::async_trait;

use super::bus::{CommandBus, DispatchError};
use crate::event::Metadata;
use crate::id::CommandId;
use crate::transaction::{StoreTransaction, TransactionalStore};

/// Executes a saga's commands inside a transaction of the store the saga runs on, usually
/// with [`Repository::execute_in`](crate::Repository::execute_in). Run it through a
/// [`LocalBus`].
///
/// # Contract
/// Writes go through `tx` only: a write through the store (or a plain `Repository::execute` on
/// an aggregate this step also touches) can wait for what `tx` holds (on SQLite, the one
/// writer) and stall until a timeout. On `Ok`, what the command did commits with the saga's record;
/// on `Err`, the manager rolls `tx` back, so nothing of the command stays, and records the
/// failure (retry, decide, park) in a transaction of its own.
///
/// The events the command appends through
/// [`Repository::execute_in`](crate::Repository::execute_in) that the saga correlates with the
/// step's own instance (a reply it waits for) are handed to its `on_event` in `tx` too, and
/// recorded in its inbox: the instance goes on without waiting for its intake to read them
/// back from the log.
#[async_trait]
pub trait LocalCommands<C, Tx>: Send + Sync + 'static {
    /// Executes `command` (with the step's command id `id`) inside `tx`. `metadata` carries
    /// the flow's correlation id: pass it to
    /// [`Repository::execute_in`](crate::Repository::execute_in) so that the command's events
    /// carry it too.
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError>;
}

/// The in-transaction form of a bus, as the saga manager calls it (the transaction type
/// erased). Implemented by [`LocalBus`]; a wrapper bus hands on its inner bus's.
#[async_trait]
pub trait LocalDispatch<C>: Send + Sync {
    /// Executes `command` inside `tx`, which is the store's transaction, with the flow's
    /// `metadata` (see [`LocalCommands::execute`]).
    async fn execute_in(
        &self,
        tx: &mut (dyn Any + Send),
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError>;
}

/// A [`CommandBus`] whose commands go to aggregates in the saga's own store: the manager runs
/// each step inside the transaction that records its outcome. Sent on its own (outside a
/// manager), a command runs in a transaction of its own.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::saga::{DispatchError, LocalBus, LocalCommands};
/// use eventcore::testing::counter::{Counter, CounterCommand};
/// use eventcore::{CommandId, InMemoryEventStore, Metadata, Repository, StoreTransaction};
///
/// /// Adds to a counter, in the saga's transaction.
/// struct Adds(Repository<Counter>);
///
/// #[eventcore::async_trait]
/// impl<Tx: StoreTransaction> LocalCommands<(String, u64), Tx> for Adds {
///     async fn execute(
///         &self,
///         tx: &mut Tx,
///         (counter, n): &(String, u64),
///         id: CommandId,
///         metadata: &Metadata,
///     ) -> Result<(), DispatchError> {
///         let command = CounterCommand::add(counter.clone(), *n).with_id(id);
///         let events = self.0.execute_in(tx, command, metadata.clone()).await;
///         events.map(drop).map_err(DispatchError::from)
///     }
/// }
///
/// let store = InMemoryEventStore::new();
/// let bus = LocalBus::new(store.clone(), Adds(Repository::new(store.clone())));
/// // A saga manager built with `bus` runs each step in its own transaction; sent directly:
/// use eventcore::saga::CommandBus;
/// bus.dispatch(&("c".to_owned(), 2), CommandId::new_random()).await.unwrap();
/// # });
/// ```
pub struct LocalBus<S, L> {
    store: S,
    commands: L,
}

impl<S, L> std::fmt::Debug for LocalBus<S, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalBus")
    }
}

impl<S, L> LocalBus<S, L> {
    /// Executes commands with `commands` in transactions of `store` (the saga's store).
    pub fn new(store: S, commands: L) -> Self {
        Self { store, commands }
    }
}

#[async_trait]
impl<C, S, L> CommandBus<C> for LocalBus<S, L>
where
    C: Send + Sync + 'static,
    S: TransactionalStore,
    L: LocalCommands<C, S::Transaction>,
{
    async fn dispatch(&self, command: &C, id: CommandId) -> Result<(), DispatchError> {
        self.dispatch_with(command, id, &Metadata::default()).await
    }

    async fn dispatch_with(
        &self,
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let mut tx = self
            .store
            .begin()
            .await
            .map_err(DispatchError::from_store)?;
        self.commands
            .execute(&mut tx, command, id, metadata)
            .await?;
        tx.commit().await.map_err(DispatchError::from_store)
    }

    fn local(&self) -> Option<&dyn LocalDispatch<C>> {
        Some(self)
    }
}

#[async_trait]
impl<C, S, L> LocalDispatch<C> for LocalBus<S, L>
where
    C: Send + Sync + 'static,
    S: TransactionalStore,
    L: LocalCommands<C, S::Transaction>,
{
    async fn execute_in(
        &self,
        tx: &mut (dyn Any + Send),
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let Some(tx) = tx.downcast_mut::<S::Transaction>() else {
            // A wiring mistake, not the command's fault: transient, so the saga retries and
            // then parks (visible) rather than compensating.
            return Err(DispatchError::transient(
                "a LocalBus runs only in transactions of its store's type: build it with the \
                 saga manager's store",
            ));
        };
        self.commands.execute(tx, command, id, metadata).await
    }
}
