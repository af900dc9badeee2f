//! The suite's sample saga: a three-step money transfer between two counters (withdraw,
//! deposit, fee), confirmed by a second event or compensated when the confirmation deadline
//! passes. It copes with its events arriving in either order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::event::{Event, NewEvent, RecordedEvent};
use crate::id::{CommandId, StreamId};
use crate::repository::Repository;
use crate::saga::{CommandBus, DispatchError, InProcessBus, Reaction, Saga, Step};
use crate::store::{AppendRequest, EventAppender, EventStore};
use crate::testing::counter::{Counter, CounterAction, CounterCommand};
use crate::version::ExpectedVersion;

/// How long a transfer waits for its confirmation.
pub const CONFIRM_WITHIN: Duration = Duration::from_secs(30);

/// The events the transfer saga reacts to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum TransferEvent {
    /// A transfer was asked for.
    Requested {
        /// Transfer id.
        transfer: String,
        /// Counter to take from.
        from: String,
        /// Counter to add to.
        to: String,
        /// Amount.
        amount: u64,
        /// Counter that collects the fee.
        fees: String,
        /// Fee (0 is rejected by the counter: a failing third step).
        fee: u64,
    },
    /// The transfer was confirmed.
    Confirmed {
        /// Transfer id.
        transfer: String,
    },
}

impl Event for TransferEvent {}

/// A change to one counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The counter.
    pub counter: String,
    /// Add (`true`) or subtract.
    pub add: bool,
    /// Amount.
    pub amount: u64,
}

/// The transfer's state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// The request, once seen.
    pub requested: bool,
    /// A confirmation arrived before the request.
    pub confirmed_early: bool,
    /// The fee step's command, kept until confirmation plans it.
    pub fee: Option<Move>,
}

/// The saga.
#[derive(Clone, Copy, Debug, Default)]
pub struct TransferSaga;

fn step(name: &str, counter: &str, add: bool, amount: u64) -> Step<Move> {
    let undo = Move {
        counter: counter.to_owned(),
        add: !add,
        amount,
    };
    let command = Move {
        counter: counter.to_owned(),
        add,
        amount,
    };
    Step::new(name, command).compensate_with(undo)
}

impl Saga for TransferSaga {
    const TYPE: &'static str = "transfer";
    type State = Transfer;
    type Event = TransferEvent;
    type Command = Move;
    type Error = std::convert::Infallible;

    fn correlate(&self, event: &TransferEvent, _envelope: &RecordedEvent) -> Option<String> {
        match event {
            TransferEvent::Requested { transfer, .. } | TransferEvent::Confirmed { transfer } => {
                Some(transfer.clone())
            }
        }
    }

    fn on_event(
        &self,
        state: &Transfer,
        event: &TransferEvent,
    ) -> Result<Reaction<Self>, Self::Error> {
        Ok(match event {
            TransferEvent::Requested {
                from,
                to,
                amount,
                fees,
                fee,
                ..
            } => {
                let fee = Move {
                    counter: fees.clone(),
                    add: true,
                    amount: *fee,
                };
                let reaction = Reaction::new()
                    .step(step("withdraw", from, false, *amount))
                    .step(step("deposit", to, true, *amount));
                if state.confirmed_early {
                    reaction
                        .state(Transfer {
                            requested: true,
                            ..state.clone()
                        })
                        .step(Step::new("fee", fee))
                        .complete()
                } else {
                    reaction
                        .state(Transfer {
                            requested: true,
                            confirmed_early: false,
                            fee: Some(fee),
                        })
                        .deadline("confirm", CONFIRM_WITHIN)
                }
            }
            TransferEvent::Confirmed { .. } => match &state.fee {
                Some(fee) => Reaction::new()
                    .state(Transfer {
                        fee: None,
                        ..state.clone()
                    })
                    .cancel_deadline("confirm")
                    .step(Step::new("fee", fee.clone()))
                    .complete(),
                // Before the request: remember it. After the fee was planned: nothing new.
                None if !state.requested => Reaction::new().state(Transfer {
                    confirmed_early: true,
                    ..state.clone()
                }),
                None => Reaction::new(),
            },
        })
    }
}

/// Counts how often each command id reached the counters.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Dispatches that reached a repository.
    pub reached: AtomicU64,
}

/// A bus that applies [`Move`]s to counters through a repository on `store`.
pub fn counter_bus<T: EventStore + Clone + 'static>(
    store: T,
    deliveries: Arc<Deliveries>,
) -> InProcessBus<Move> {
    let counters = Repository::<Counter>::new(store);
    InProcessBus::with_metadata(move |command: Move, id: CommandId, metadata| {
        let counters = counters.clone();
        let deliveries = deliveries.clone();
        async move {
            deliveries.reached.fetch_add(1, Ordering::Relaxed);
            let action = if command.add {
                CounterAction::Add(command.amount)
            } else {
                CounterAction::Subtract(command.amount)
            };
            let command = CounterCommand::new(command.counter, action).with_id(id);
            counters
                .execute_with(command, metadata)
                .await
                .map(drop)
                .map_err(DispatchError::from)
        }
    })
}

/// Applies [`Move`]s to counters inside the saga's transaction
/// ([`Repository::execute_in`](crate::Repository::execute_in)).
pub struct CounterCommands {
    counters: Repository<Counter>,
    deliveries: Arc<Deliveries>,
}

#[async_trait]
impl<Tx: crate::StoreTransaction> crate::saga::LocalCommands<Move, Tx> for CounterCommands {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &Move,
        id: CommandId,
        metadata: &crate::Metadata,
    ) -> Result<(), DispatchError> {
        self.deliveries.reached.fetch_add(1, Ordering::Relaxed);
        let action = if command.add {
            CounterAction::Add(command.amount)
        } else {
            CounterAction::Subtract(command.amount)
        };
        let command = CounterCommand::new(command.counter.clone(), action).with_id(id);
        self.counters
            .execute_in(tx, command, metadata.clone())
            .await
            .map(drop)
            .map_err(DispatchError::from)
    }
}

/// A bus that applies [`Move`]s to counters in `store` inside the saga's own transactions (one
/// commit per step).
pub fn local_counter_bus<T: crate::TransactionalStore + EventStore>(
    store: T,
    deliveries: Arc<Deliveries>,
) -> crate::saga::LocalBus<T, CounterCommands> {
    let counters = Repository::<Counter>::new(store.clone());
    crate::saga::LocalBus::new(
        store,
        CounterCommands {
            counters,
            deliveries,
        },
    )
}

/// A bus that sometimes fails transiently, before or after passing the command on (a timeout
/// after the receiver acted), as the seed decides.
pub struct Flaky<B> {
    inner: B,
    rng: std::sync::Mutex<super::Rng>,
    rate: f64,
    /// Failures are injected only while this is set.
    pub on: Arc<std::sync::atomic::AtomicBool>,
}

impl<B> Flaky<B> {
    /// Wraps `inner`, failing a `rate` share of dispatches while `on` is set.
    pub fn new(inner: B, seed: u64, rate: f64, on: Arc<std::sync::atomic::AtomicBool>) -> Self {
        Self {
            inner,
            rng: std::sync::Mutex::new(super::Rng::new(seed)),
            rate,
            on,
        }
    }

    fn roll(&self) -> (bool, bool) {
        if !self.on.load(Ordering::Relaxed) {
            return (false, false);
        }
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (rng.chance(self.rate), rng.chance(0.5))
    }
}

#[async_trait]
impl<C: Send + Sync + 'static, B: CommandBus<C>> CommandBus<C> for Flaky<B> {
    async fn dispatch(&self, command: &C, id: CommandId) -> Result<(), DispatchError> {
        self.dispatch_with(command, id, &crate::Metadata::default())
            .await
    }

    async fn dispatch_with(
        &self,
        command: &C,
        id: CommandId,
        metadata: &crate::Metadata,
    ) -> Result<(), DispatchError> {
        let (fail, after) = self.roll();
        if fail && !after {
            return Err(DispatchError::transient("injected: unreachable"));
        }
        let outcome = self.inner.dispatch_with(command, id, metadata).await;
        if fail {
            return Err(DispatchError::transient("injected: timed out"));
        }
        outcome
    }

    fn local(&self) -> Option<&dyn crate::saga::LocalDispatch<C>> {
        self.inner
            .local()
            .map(|_| self as &dyn crate::saga::LocalDispatch<C>)
    }
}

#[async_trait]
impl<C: Send + Sync + 'static, B: CommandBus<C>> crate::saga::LocalDispatch<C> for Flaky<B> {
    async fn execute_in(
        &self,
        tx: &mut (dyn std::any::Any + Send),
        command: &C,
        id: CommandId,
        metadata: &crate::Metadata,
    ) -> Result<(), DispatchError> {
        let (fail, after) = self.roll();
        if fail && !after {
            return Err(DispatchError::transient("injected: unreachable"));
        }
        let Some(inner) = self.inner.local() else {
            return Err(DispatchError::rejected("the inner bus is not local"));
        };
        let outcome = inner.execute_in(tx, command, id, metadata).await;
        if fail {
            return Err(DispatchError::transient("injected: timed out"));
        }
        outcome
    }
}

/// Appends one event to stream `transfer-<id>`.
pub async fn publish<S: EventAppender>(
    store: &S,
    transfer: &str,
    event: &TransferEvent,
) -> RecordedEvent {
    publish_with(store, transfer, event, crate::Metadata::default()).await
}

/// Appends one event with `metadata` (a correlation id, say) to stream `transfer-<id>`.
pub async fn publish_with<S: EventAppender>(
    store: &S,
    transfer: &str,
    event: &TransferEvent,
    metadata: crate::Metadata,
) -> RecordedEvent {
    let stream = StreamId::new(format!("transfer-{transfer}")).expect("valid stream id");
    let new = NewEvent::from_event(event)
        .expect("encodes")
        .with_metadata(metadata);
    let request = AppendRequest::single(stream, ExpectedVersion::Any, vec![new]);
    store
        .append(request)
        .await
        .expect("append")
        .pop()
        .expect("one event")
}

/// Sets counter `id` to `amount` (a fresh counter).
pub async fn fund<S: EventStore + Clone + 'static>(store: &S, id: &str, amount: u64) {
    if amount > 0 {
        Repository::<Counter>::new(store.clone())
            .execute(CounterCommand::add(id, amount))
            .await
            .expect("fund");
    }
}

/// Counter `id`'s total and its number of events.
pub async fn balance<S: EventStore + Clone + 'static>(store: &S, id: &str) -> (u64, u64) {
    let loaded = Repository::<Counter>::new(store.clone())
        .load(id)
        .await
        .expect("load counter");
    (loaded.state.total, loaded.version)
}
