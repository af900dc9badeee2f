//! How saga steps reach their aggregates: [`StepMode::Local`] runs each step inside the
//! transaction that records it (one commit per step, exactly once by construction);
//! [`StepMode::Claimed`] claims the step, sends the order saga's commands through the
//! repositories (snapshots, group commit on the hot inventory stream) and records the outcome
//! after (command ids keep a re-sent step to one effect).
//!
//! Why both: `Repository::execute_in` reads no snapshot, so a local step on the warehouse's one
//! inventory stream folds the whole stream inside the writer's transaction; under load that
//! cost grows with every order. See the crate's load figures.

use std::sync::atomic::Ordering;

use eventcore::TransactionalStore;
use eventcore::saga::{CommandBus, DispatchError, LocalBus, LocalCommands, LocalDispatch};
use eventcore::{CommandId, Metadata};

use super::cancellation::UndoSale;
use super::steps::Steps;
use crate::inventory::ExpiryCommand;
use crate::notification::Message;
use crate::saga::OrderSagaCommand;

/// How saga steps run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StepMode {
    /// In the transaction that records the step's outcome (the default).
    #[default]
    Local,
    /// Claimed, sent through the repositories, then recorded.
    Claimed,
}

/// The bus every saga of the shop runs with, over the shop's store `St`.
pub struct ShopBus<St> {
    local: LocalBus<St, Steps>,
    steps: Steps,
    mode: StepMode,
}

impl<St> ShopBus<St> {
    /// A bus over `store` and `steps`, running steps as `mode` says.
    pub fn new(store: St, steps: Steps, mode: StepMode) -> Self {
        Self {
            local: LocalBus::new(store, steps.clone()),
            steps,
            mode,
        }
    }
}

/// Sending a command outside the saga's transaction.
#[eventcore::async_trait]
pub trait ClaimedCommands<C>: Send + Sync {
    /// Executes `command` with id `id` and the flow's `metadata`; `local` runs it in a
    /// transaction of its own.
    async fn send(
        &self,
        command: &C,
        id: CommandId,
        metadata: &Metadata,
        local: &dyn CommandBus<C>,
    ) -> Result<(), DispatchError>;
}

#[eventcore::async_trait]
impl<C, St> CommandBus<C> for ShopBus<St>
where
    C: Send + Sync + 'static,
    St: TransactionalStore,
    Steps: LocalCommands<C, St::Transaction> + ClaimedCommands<C>,
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
        match self.mode {
            StepMode::Local => self.local.dispatch_with(command, id, metadata).await,
            StepMode::Claimed => self.steps.send(command, id, metadata, &self.local).await,
        }
    }

    fn local(&self) -> Option<&dyn LocalDispatch<C>> {
        match self.mode {
            StepMode::Local => Some(&self.local),
            StepMode::Claimed => None,
        }
    }
}

#[eventcore::async_trait]
impl ClaimedCommands<OrderSagaCommand> for Steps {
    async fn send(
        &self,
        command: &OrderSagaCommand,
        id: CommandId,
        metadata: &Metadata,
        _: &dyn CommandBus<OrderSagaCommand>,
    ) -> Result<(), DispatchError> {
        let paying = matches!(command, OrderSagaCommand::ProcessPayment { .. });
        if paying && self.payments_down.load(Ordering::Relaxed) {
            return Err(DispatchError::transient("payment provider unavailable"));
        }
        let bus = crate::saga::bus(
            self.inventory.clone(),
            self.orders.clone(),
            self.payments.clone(),
            self.provider.clone(),
        );
        bus.dispatch_with(command, id, metadata).await
    }
}

macro_rules! in_own_transaction {
    ($($command:ty),*) => {$(
        #[eventcore::async_trait]
        impl ClaimedCommands<$command> for Steps {
            async fn send(
                &self,
                command: &$command,
                id: CommandId,
                metadata: &Metadata,
                local: &dyn CommandBus<$command>,
            ) -> Result<(), DispatchError> {
                local.dispatch_with(command, id, metadata).await
            }
        }
    )*};
}

in_own_transaction!(ExpiryCommand, Message, UndoSale);
