//! Sagas and process managers: long-running flows across aggregates, driven by events, that
//! send commands, wait with durable deadlines, and undo what they did when a later step fails.
//!
//! A [`Saga`] is pure decision logic: given its state and an event (or a deadline, or a failed
//! step) it returns a [`Reaction`]: a new state, [`Step`]s to run (each with an optional
//! compensating command), deadlines to set or cancel, and whether it is done or must
//! compensate. The [`SagaManager`] makes that durable:
//!
//! - **One transaction per event batch.** The saga's new record (state, pending steps, step
//!   history), its deadlines and the checkpoint of the events that caused them commit together.
//!   The event's id goes into the consumer inbox in the same transaction, so an event delivered
//!   twice (or out of order, through [`SagaManager::deliver`]) has effect once.
//! - **Deterministic command ids.** A step's command id is derived from the saga type, the
//!   instance id and the step name (the rule, and what it asks of step names, is on
//!   [`Step`]), so dispatching it again after a crash carries the same id and the receiving
//!   [`Repository`](crate::Repository) returns the first outcome instead of acting twice.
//! - **Steps run in order, one at a time per saga.** A failing step is retried with backoff;
//!   once it is rejected (or out of retries) the saga decides ([`Saga::on_step_failed`], by
//!   default: compensate). Compensation runs the compensating commands of the completed steps in
//!   reverse order, each retried likewise; a compensation that keeps failing **parks** the saga
//!   ([`SagaStatus::Parked`], with the error), never marks it compensated.
//!   [`SagaManager::retry`] sends a parked saga back to work.
//! - **Durable deadlines** fire at or after their due time, across restarts, exactly once
//!   (firing removes the deadline in the transaction that applies its reaction).
//!
//! Operators and callers see an instance as a [`SagaView`] with a typed [`SagaStatus`]:
//! [`SagaManager::get`], [`SagaManager::list`] (by status), and
//! [`SagaManager::wait_until_settled`], which returns once the instance is completed,
//! compensated or parked (put a `tokio::time::timeout` around it).
//!
//! [`Policy`] is the choreography form: a stateless event handler that turns events into
//! commands, with the same guarantees. Commands go through a [`CommandBus`]: in-process
//! ([`InProcessBus`], routing to repositories) or through a broker.
//!
//! With the `testing` feature, `FaultInjector`, `CRASH_POINTS`, `NoFaults` and
//! `SagaManager::with_faults` let the testing kit's crash simulation make the manager "crash"
//! at every step boundary.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use eventcore::saga::{Reaction, Saga, SagaStatus, Step};
//! use eventcore::testing::SagaFixture;
//! use eventcore::{Event, RecordedEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, Serialize, Deserialize)]
//! enum ShopEvent { OrderPlaced { order: String }, PaymentCaptured { order: String } }
//! impl Event for ShopEvent {}
//!
//! #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
//! enum ShopCommand { Reserve(String), Release(String), Ship(String) }
//!
//! #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
//! struct Checkout { order: String }
//!
//! struct CheckoutSaga;
//! impl Saga for CheckoutSaga {
//!     const TYPE: &'static str = "checkout";
//!     type State = Checkout;
//!     type Event = ShopEvent;
//!     type Command = ShopCommand;
//!     type Error = std::convert::Infallible;
//!
//!     fn correlate(&self, event: &ShopEvent, _: &RecordedEvent) -> Option<String> {
//!         match event {
//!             ShopEvent::OrderPlaced { order } | ShopEvent::PaymentCaptured { order } => Some(order.clone()),
//!         }
//!     }
//!
//!     fn on_event(&self, state: &Checkout, event: &ShopEvent) -> Result<Reaction<Self>, Self::Error> {
//!         Ok(match event {
//!             ShopEvent::OrderPlaced { order } => Reaction::new()
//!                 .state(Checkout { order: order.clone() })
//!                 .step(Step::new("reserve", ShopCommand::Reserve(order.clone()))
//!                     .compensate_with(ShopCommand::Release(order.clone())))
//!                 .deadline("payment", Duration::from_secs(900)),
//!             ShopEvent::PaymentCaptured { .. } => Reaction::new()
//!                 .cancel_deadline("payment")
//!                 .step(Step::new("ship", ShopCommand::Ship(state.order.clone())))
//!                 .complete(),
//!         })
//!     }
//!
//!     fn on_deadline(&self, _: &Checkout, _: &str) -> Result<Reaction<Self>, Self::Error> {
//!         Ok(Reaction::new().compensate())
//!     }
//! }
//!
//! let mut fixture = SagaFixture::new(CheckoutSaga);
//! fixture.given(&[ShopEvent::OrderPlaced { order: "o-1".into() }]);
//! assert_eq!(fixture.commands(), [ShopCommand::Reserve("o-1".into())]);
//! fixture.step_succeeds("reserve");
//! fixture.advance(Duration::from_secs(901)); // no payment in time
//! assert_eq!(fixture.commands(), [ShopCommand::Release("o-1".into())]);
//! assert_eq!(fixture.status(), SagaStatus::Compensating);
//! fixture.step_succeeds("undo:reserve");
//! assert_eq!(fixture.status(), SagaStatus::Compensated);
//! # });
//! ```

mod bus;
mod clock;
mod deadlines;
mod dispatch;
pub(crate) mod document;
mod error;
mod faults;
mod grouped;
mod intake;
mod local;
mod manager;
mod operator;
mod options;
mod own_events;
mod policy;
mod reaction;
mod record;
mod status;
mod step;
mod view;
mod watched;

use crate::event::{Event, RecordedEvent};

pub use bus::{CommandBus, DispatchCause, DispatchError, InProcessBus};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SagaError;
pub use faults::InjectedCrash;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use faults::{CRASH_POINTS, FaultInjector, NoFaults};
pub use local::{LocalBus, LocalCommands, LocalDispatch};
pub use manager::{SagaHandle, SagaManager};
pub use options::SagaOptions;
pub use policy::{Policy, PolicySaga};
pub use reaction::{End, Reaction, Step};
pub use status::{ParseSagaStatusError, SagaStatus};
pub use step::{Phase, StepKind, StepRecord, StepStatus};
pub use view::SagaView;

/// What saga states and commands must be: stored as JSON, cloned, shown in logs, shared
/// between tasks. Every type with those traits is one.
pub trait Message:
    serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + Send + Sync
{
}

impl<T> Message for T where
    T: serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + Send + Sync
{
}

/// A saga's decision logic. Implementations are pure: everything durable is done by the
/// [`SagaManager`].
pub trait Saga: Send + Sync + Sized + 'static {
    /// The saga type's stable name (stored with every instance).
    const TYPE: &'static str;
    /// The per-instance state.
    type State: Message + Default;
    /// The events it reacts to (other event types in the log are skipped).
    type Event: Event;
    /// The stream categories (aggregate types, see
    /// [`StreamId::category`](crate::StreamId::category)) whose events it reads; events of
    /// other streams are skipped without being decoded, so an event type of another aggregate
    /// that happens to share a variant name with [`Self::Event`] never reaches the saga. Empty
    /// (the default): every stream.
    const CATEGORIES: &'static [&'static str] = &[];
    /// The commands it sends (stored until dispatched, so serializable).
    type Command: Message;
    /// Its own failures (handled by the manager's error policy).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The instance `event` belongs to, or `None` if this saga ignores it.
    fn correlate(&self, event: &Self::Event, envelope: &RecordedEvent) -> Option<String>;

    /// Reacts to an event of the instance (a new instance starts from `State::default()`).
    fn on_event(
        &self,
        state: &Self::State,
        event: &Self::Event,
    ) -> Result<Reaction<Self>, Self::Error>;

    /// Reacts to the deadline named `deadline` falling due. By default: compensate.
    fn on_deadline(
        &self,
        state: &Self::State,
        deadline: &str,
    ) -> Result<Reaction<Self>, Self::Error> {
        let _ = (state, deadline);
        Ok(Reaction::new().compensate())
    }

    /// Reacts to the step named `step` being rejected (or running out of retries) with
    /// `error`. By default: compensate.
    fn on_step_failed(&self, state: &Self::State, step: &str, error: &str) -> Reaction<Self> {
        let _ = (state, step, error);
        Reaction::new().compensate()
    }
}
