//! What a saga decides: a [`Reaction`], built fluently.

use std::time::Duration;

use super::Saga;

/// A command to run as a named step of a saga instance, with what undoes it.
///
/// # Step names make steps idempotent
///
/// The manager sends a step's command with a command id derived from the saga type
/// ([`Saga::TYPE`]), the instance id and the step name, and from nothing else:
///
/// ```text
/// instance   = UUIDv5(NAMESPACE_OID, "eventcore-saga/<Saga::TYPE>/<instance id>")
/// command id = CommandId::derived(instance, <step name>)
/// ```
///
/// ([`SagaManager::command_id`](super::SagaManager::command_id) computes it.) A step sent
/// again (after a crash between sending it and recording the outcome, a timeout, a lapsed
/// claim) carries the same id, so a receiver that remembers command ids (a
/// [`Repository`](crate::Repository) does) returns the first outcome instead of acting twice.
/// A compensation is the step `undo:<name>`, with an id of its own. The name is stored with
/// the step when the reaction is saved, so every send of it uses the same name, even after
/// the code that chose it changed. What this asks of you:
///
/// - **Names unique within an instance.** A reaction that reuses a name fails with
///   [`SagaError::DuplicateStep`](super::SagaError::DuplicateStep); to run the same command
///   twice, give the two steps two names (`charge-1`, `charge-2`).
/// - **A stable `TYPE`.** The id is computed from the saga's current `TYPE` each time a step
///   is sent (and records, deadlines and the checkpoint are keyed by it): renaming it orphans
///   the running instances.
/// - **A receiver that deduplicates by command id**, or a bus that hands the id on (see
///   [`CommandBus`](super::CommandBus)).
///
/// ```
/// use eventcore::saga::{InProcessBus, Reaction, Saga, SagaManager};
/// # use eventcore::{Event, RecordedEvent};
/// # #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)] enum E { A }
/// # impl Event for E {}
/// # struct Pay;
/// # impl Saga for Pay {
/// #     const TYPE: &'static str = "pay"; type State = (); type Event = E; type Command = u64;
/// #     type Error = std::convert::Infallible;
/// #     fn correlate(&self, _: &E, _: &RecordedEvent) -> Option<String> { None }
/// #     fn on_event(&self, _: &(), _: &E) -> Result<Reaction<Self>, Self::Error> { Ok(Reaction::new()) }
/// # }
/// type Manager = SagaManager<Pay, eventcore::InMemoryEventStore, InProcessBus<u64>>;
/// // The same instance and step: the same id, however often it is sent.
/// assert_eq!(Manager::command_id("order-1", "charge"), Manager::command_id("order-1", "charge"));
/// assert_ne!(Manager::command_id("order-1", "charge"), Manager::command_id("order-2", "charge"));
/// assert_ne!(Manager::command_id("order-1", "charge"), Manager::command_id("order-1", "undo:charge"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Step<C> {
    /// Unique within the instance: it names the step in the history and derives the command
    /// id (see above).
    pub name: String,
    /// The command.
    pub command: C,
    /// The command that undoes it, run in reverse order if the saga compensates.
    pub compensation: Option<C>,
}

impl<C> Step<C> {
    /// A step without compensation.
    pub fn new(name: impl Into<String>, command: C) -> Self {
        Self {
            name: name.into(),
            command,
            compensation: None,
        }
    }

    /// The same step, undone by `compensation`.
    pub fn compensate_with(self, compensation: C) -> Self {
        Self {
            compensation: Some(compensation),
            ..self
        }
    }
}

/// How a saga instance ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Done once its pending steps have run.
    Complete,
    /// Undo the completed steps, newest first.
    Compensate,
}

/// A saga's decision about one input.
pub struct Reaction<S: Saga> {
    /// The new state (`None`: unchanged).
    pub state: Option<S::State>,
    /// Steps to run, in order, after the pending ones.
    pub steps: Vec<Step<S::Command>>,
    /// Deadlines to set (or move) by name, due after the given time from now.
    pub deadlines: Vec<(String, Duration)>,
    /// Deadlines to cancel by name.
    pub cancel: Vec<String>,
    /// Whether the instance ends.
    pub end: Option<End>,
    /// Steps sent earlier that had no effect (their command was refused, say): compensation
    /// does not run their undo.
    pub nothing_to_undo: Vec<String>,
}

impl<S: Saga> std::fmt::Debug for Reaction<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reaction")
            .field("state", &self.state)
            .field("steps", &self.steps)
            .field("deadlines", &self.deadlines)
            .field("cancel", &self.cancel)
            .field("end", &self.end)
            .field("nothing_to_undo", &self.nothing_to_undo)
            .finish()
    }
}

impl<S: Saga> Default for Reaction<S> {
    fn default() -> Self {
        Self {
            state: None,
            steps: Vec::new(),
            deadlines: Vec::new(),
            cancel: Vec::new(),
            end: None,
            nothing_to_undo: Vec::new(),
        }
    }
}

impl<S: Saga> Reaction<S> {
    /// Nothing to do (yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the new state.
    pub fn state(mut self, state: S::State) -> Self {
        self.state = Some(state);
        self
    }

    /// Adds a step.
    pub fn step(mut self, step: Step<S::Command>) -> Self {
        self.steps.push(step);
        self
    }

    /// Sets (or moves) the deadline `name` to `after` from now.
    pub fn deadline(mut self, name: impl Into<String>, after: Duration) -> Self {
        self.deadlines.push((name.into(), after));
        self
    }

    /// Cancels the deadline `name`.
    pub fn cancel_deadline(mut self, name: impl Into<String>) -> Self {
        self.cancel.push(name.into());
        self
    }

    /// Ends the instance once its pending steps have run.
    pub fn complete(mut self) -> Self {
        self.end = Some(End::Complete);
        self
    }

    /// Compensates the completed steps, newest first.
    pub fn compensate(mut self) -> Self {
        self.end = Some(End::Compensate);
        self
    }

    /// Says that the step `name`, sent earlier, had nothing to undo: its command was refused
    /// (a reservation rejected, a payment declined) or a later step undid it already. Should
    /// the instance compensate, that step's undo is not sent: no message to another service
    /// for an undo that would find nothing to do. A name no step has changes nothing.
    ///
    /// ```
    /// use eventcore::saga::{Reaction, Saga, Step};
    /// # use eventcore::{Event, RecordedEvent};
    /// # #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)] enum E { Rejected }
    /// # impl Event for E {}
    /// # struct Order;
    /// # impl Saga for Order {
    /// #     const TYPE: &'static str = "order"; type State = (); type Event = E; type Command = String;
    /// #     type Error = std::convert::Infallible;
    /// #     fn correlate(&self, _: &E, _: &RecordedEvent) -> Option<String> { None }
    /// #     fn on_event(&self, _: &(), _: &E) -> Result<Reaction<Self>, Self::Error> { Ok(Reaction::new()) }
    /// # }
    /// // The reservation was rejected: cancel, and do not release what was never reserved.
    /// let reaction: Reaction<Order> = Reaction::new()
    ///     .step(Step::new("cancel-order", "cancel".to_owned()))
    ///     .nothing_to_undo("reserve-stock")
    ///     .compensate();
    /// assert_eq!(reaction.nothing_to_undo, ["reserve-stock"]);
    /// ```
    pub fn nothing_to_undo(mut self, name: impl Into<String>) -> Self {
        self.nothing_to_undo.push(name.into());
        self
    }
}
