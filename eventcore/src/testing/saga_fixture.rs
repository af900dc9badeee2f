//! A given/when/then fixture for sagas: feed events, advance time, report step outcomes, and
//! look at the commands, state and deadlines that result, with no store.

use std::time::{Duration, SystemTime};

use crate::backend::RecordedEventExt;
use crate::backoff::Backoff;
use crate::event::{NewEvent, RecordedEvent};
use crate::id::StreamId;
use crate::saga::document::{AfterFailure, Document};
use crate::saga::{Phase, Saga, SagaStatus, StepStatus};

/// Drives one saga instance through its decisions, in memory. Steps are not run: the test
/// says how each ended ([`step_succeeds`](Self::step_succeeds),
/// [`step_fails`](Self::step_fails)). Panics (failing the test) on saga errors.
pub struct SagaFixture<S: Saga> {
    saga: S,
    document: Document<S>,
    now: SystemTime,
    position: u64,
}

impl<S: Saga> std::fmt::Debug for SagaFixture<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaFixture")
            .field("state", &self.document.state)
            .field("phase", &self.document.phase)
            .finish()
    }
}

impl<S: Saga> SagaFixture<S> {
    /// A fixture at a fixed start time with a new instance.
    pub fn new(saga: S) -> Self {
        Self {
            saga,
            document: Document::default(),
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            position: 0,
        }
    }

    /// Feeds `events` in order (the saga must correlate each with some instance).
    #[track_caller]
    pub fn given(&mut self, events: &[S::Event]) -> &mut Self {
        for event in events {
            self.when(event);
        }
        self
    }

    /// Feeds one event (the saga must correlate it with some instance).
    #[track_caller]
    pub fn when(&mut self, event: &S::Event) -> &mut Self {
        self.position += 1;
        let new = NewEvent::from_event(event).expect("event encodes");
        let stream = StreamId::new("saga-fixture").expect("valid stream id");
        let envelope = RecordedEvent::from_new(new, stream, self.position, self.position, self.now);
        let correlated = self.saga.correlate(event, &envelope);
        assert!(
            correlated.is_some(),
            "the saga does not correlate event {}",
            self.position
        );
        let reaction = self
            .saga
            .on_event(&self.document.state, event)
            .expect("saga reacts");
        self.document
            .react(reaction, self.now, "event")
            .expect("valid reaction");
        self
    }

    /// Moves time forward, firing every deadline that falls due, earliest first.
    pub fn advance(&mut self, by: Duration) -> &mut Self {
        let until = self.now + by;
        loop {
            let due = self
                .document
                .deadlines
                .iter()
                .map(|(name, at)| (*at, name.clone()))
                .filter(|(at, _)| crate::backend::from_unix_micros(*at) <= until)
                .min();
            let Some((at, name)) = due else { break };
            self.now = self.now.max(crate::backend::from_unix_micros(at));
            self.document.take_deadline(&name);
            let reaction = self
                .saga
                .on_deadline(&self.document.state, &name)
                .expect("saga reacts to the deadline");
            self.document
                .react(reaction, self.now, "deadline")
                .expect("valid reaction");
        }
        self.now = until;
        self
    }

    /// Panics unless `name` is the step the manager would send next (steps run one at a time,
    /// in order).
    #[track_caller]
    fn assert_next(&self, name: &str) {
        let next = self.next_step();
        assert!(
            next == Some(name),
            "step {name} is not the next step to run (next: {next:?}; pending commands: {:?})",
            self.commands()
        );
    }

    /// Reports that step `name` ran. It must be the next step (see
    /// [`next_step`](Self::next_step)): steps run one at a time, in order.
    #[track_caller]
    pub fn step_succeeds(&mut self, name: &str) -> &mut Self {
        self.assert_next(name);
        assert!(
            self.document.step_done(name, self.now).is_some(),
            "step {name} is not pending"
        );
        self
    }

    /// Reports that step `name` was rejected with `error` (the text `on_step_failed` gets: in
    /// production the rejection's message, e.g. the aggregate's domain error). It must be the
    /// next step.
    #[track_caller]
    pub fn step_fails(&mut self, name: &str, error: &str) -> &mut Self {
        self.assert_next(name);
        let outcome = self.document.step_failed(
            name,
            error,
            true,
            (0, Backoff::new(Duration::ZERO, Duration::ZERO)),
            self.now,
        );
        assert!(outcome.is_some(), "step {name} is not pending");
        if outcome == Some(AfterFailure::Decide) {
            let reaction = self.saga.on_step_failed(&self.document.state, name, error);
            self.document
                .react_to_failure(reaction, self.now, "step failed")
                .expect("valid reaction");
        }
        self
    }

    /// Sends a parked instance back to work, as an operator's retry does; `false` if it was
    /// not parked.
    pub fn retry(&mut self) -> bool {
        self.document.unpark(self.now)
    }

    /// The commands of the pending steps, in the order they will run.
    pub fn commands(&self) -> Vec<S::Command> {
        self.document
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Pending)
            .map(|s| s.command.clone())
            .collect()
    }

    /// The name of the step that runs next, if one is pending (none while parked).
    pub fn next_step(&self) -> Option<&str> {
        if self.document.parked.is_some() {
            return None;
        }
        self.document
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Pending)
            .map(|s| s.name.as_str())
    }

    /// The instance's state.
    pub fn state(&self) -> &S::State {
        &self.document.state
    }

    /// The instance's status, as the manager would store it (and
    /// [`SagaView::status`](crate::saga::SagaView::status) would show it).
    pub fn status(&self) -> SagaStatus {
        self.document.saga_status()
    }

    /// The instance's phase.
    pub fn phase(&self) -> Phase {
        self.document.phase
    }

    /// Pending deadlines: name and time left, earliest first.
    pub fn deadlines(&self) -> Vec<(String, Duration)> {
        let mut left: Vec<_> = self
            .document
            .deadlines
            .iter()
            .map(|(name, at)| {
                let due = crate::backend::from_unix_micros(*at);
                (
                    name.clone(),
                    due.duration_since(self.now).unwrap_or_default(),
                )
            })
            .collect();
        left.sort_by_key(|(_, d)| *d);
        left
    }
}
