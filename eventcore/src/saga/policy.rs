//! Choreography: stateless policies that turn events into commands, run as one-event sagas so
//! they get the same guarantees (recorded with the checkpoint, deterministic command ids,
//! retries, dead letters).

use super::reaction::{Reaction, Step};
use super::{Message, Saga};
use crate::event::{Event, RecordedEvent};

/// "When this happens, do that": a plain event handler.
pub trait Policy: Send + Sync + 'static {
    /// The policy's stable name.
    const NAME: &'static str;
    /// The stream categories whose events it reads (as [`Saga::CATEGORIES`]; every category
    /// if empty, the default).
    const CATEGORIES: &'static [&'static str] = &[];
    /// The events it reacts to.
    type Event: Event;
    /// The commands it sends.
    type Command: Message;

    /// The commands to send for `event`, each with a name unique for this event (the names
    /// derive the command ids, with the event's id).
    fn react(&self, event: &Self::Event) -> Vec<(String, Self::Command)>;
}

/// Runs a [`Policy`] as a saga with one instance per handled event (its id is the event's id),
/// which completes once its commands ran. A command that fails for good leaves the instance
/// `completed` with the step marked failed (see [`SagaManager::get`](super::SagaManager::get)):
/// there is nothing to compensate.
#[derive(Debug)]
pub struct PolicySaga<P: Policy> {
    policy: P,
}

impl<P: Policy> PolicySaga<P> {
    /// Wraps `policy`.
    pub fn new(policy: P) -> Self {
        Self { policy }
    }
}

impl<P: Policy> Saga for PolicySaga<P> {
    const TYPE: &'static str = P::NAME;
    const CATEGORIES: &'static [&'static str] = P::CATEGORIES;
    type State = ();
    type Event = P::Event;
    type Command = P::Command;
    type Error = std::convert::Infallible;

    fn correlate(&self, event: &P::Event, envelope: &RecordedEvent) -> Option<String> {
        // An event that asks for nothing creates no instance.
        (!self.policy.react(event).is_empty()).then(|| envelope.event_id.to_string())
    }

    fn on_event(&self, _state: &(), event: &P::Event) -> Result<Reaction<Self>, Self::Error> {
        let steps = self.policy.react(event);
        Ok(steps
            .into_iter()
            .fold(Reaction::new(), |reaction, (name, command)| {
                reaction.step(Step::new(name, command))
            })
            .complete())
    }

    fn on_step_failed(&self, _state: &(), _step: &str, _error: &str) -> Reaction<Self> {
        Reaction::new().complete()
    }
}
