//! The stored form of a saga instance and its state machine: pure functions from inputs to
//! the next document, so the manager's only job is to load, call, and save.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::Saga;
use super::reaction::{End, Reaction, Step};
use super::status::SagaStatus;
use super::step::{Phase, StepKind, StepRecord, StepStatus};
use crate::backend::unix_micros;
use crate::backoff::Backoff;

/// The stored document of one instance.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "S::State: Serialize, S::Command: Serialize",
    deserialize = "S::State: Deserialize<'de>, S::Command: Deserialize<'de>"
))]
pub(crate) struct Document<S: Saga> {
    pub(crate) state: S::State,
    pub(crate) phase: Phase,
    pub(crate) steps: Vec<StepRecord<S::Command>>,
    /// Pending deadlines: name to due time (unix micros).
    pub(crate) deadlines: BTreeMap<String, i64>,
    /// Set when a compensation keeps failing: the saga waits for an operator.
    pub(crate) parked: Option<String>,
    /// Whether the compensations have been planned.
    pub(crate) planned: bool,
    /// Notable moments, oldest first (at most [`HISTORY`]).
    pub(crate) history: Vec<(i64, String)>,
    /// The correlation id of the flow: the first one carried by an event the instance
    /// handled. Every step's command is sent with it (see [`Self::step_metadata`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) correlation_id: Option<uuid::Uuid>,
}

// By hand: a derive would ask `S` itself to be `Clone`.
impl<S: Saga> Clone for Document<S> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            phase: self.phase,
            steps: self.steps.clone(),
            deadlines: self.deadlines.clone(),
            parked: self.parked.clone(),
            planned: self.planned,
            history: self.history.clone(),
            correlation_id: self.correlation_id,
        }
    }
}

/// The most history entries kept per instance.
const HISTORY: usize = 200;

/// Deadline changes a transition asks the store for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct DeadlineChanges {
    /// Name and due time.
    pub(crate) set: Vec<(String, SystemTime)>,
    /// Names.
    pub(crate) cancel: Vec<String>,
}

impl DeadlineChanges {
    /// Adds `later`'s changes after these, as if saved one after the other: a later set
    /// undoes an earlier cancel of the name and the other way round (within `later`, a name
    /// both set and cancelled ends up cancelled, as [`save`](super::SagaManager) does it).
    pub(crate) fn then(&mut self, later: DeadlineChanges) {
        for (name, due_at) in later.set {
            self.cancel.retain(|n| *n != name);
            self.set.retain(|(n, _)| *n != name);
            self.set.push((name, due_at));
        }
        for name in later.cancel {
            self.set.retain(|(n, _)| *n != name);
            if !self.cancel.contains(&name) {
                self.cancel.push(name);
            }
        }
    }
}

/// What a failed step leads to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterFailure {
    /// Try again later.
    Retry,
    /// A forward step failed for good: the saga decides (`on_step_failed`).
    Decide,
    /// A compensation failed for good: the saga is parked.
    Parked,
}

/// A reaction that cannot be applied.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("step name {0:?} is used twice in one saga instance (it derives the command id)")]
pub(crate) struct DuplicateStep(pub(crate) String);

impl<S: Saga> Default for Document<S> {
    fn default() -> Self {
        Self {
            state: S::State::default(),
            phase: Phase::Active,
            steps: Vec::new(),
            deadlines: BTreeMap::new(),
            parked: None,
            planned: false,
            history: Vec::new(),
            correlation_id: None,
        }
    }
}

impl<S: Saga> Document<S> {
    /// The status stored beside the document, for operator queries and the dispatcher.
    pub(crate) fn saga_status(&self) -> SagaStatus {
        if self.parked.is_some() {
            return SagaStatus::Parked;
        }
        match self.phase {
            Phase::Completed => SagaStatus::Completed,
            Phase::Compensated => SagaStatus::Compensated,
            Phase::Compensating => SagaStatus::Compensating,
            Phase::Active | Phase::Completing if self.has_pending() => SagaStatus::Dispatching,
            Phase::Active | Phase::Completing => SagaStatus::Active,
        }
    }

    /// The metadata a step's command is sent with: the flow's correlation id (the repository
    /// adds the command id as the causation id).
    pub(crate) fn step_metadata(&self) -> crate::event::Metadata {
        crate::event::Metadata {
            correlation_id: self.correlation_id,
            ..crate::event::Metadata::default()
        }
    }

    /// Takes the flow's correlation id from `metadata` if none is known yet.
    pub(crate) fn correlate_with(&mut self, metadata: &crate::event::Metadata) {
        self.correlation_id = self.correlation_id.or(metadata.correlation_id);
    }

    fn has_pending(&self) -> bool {
        self.steps.iter().any(|s| s.status == StepStatus::Pending)
    }

    pub(crate) fn note(&mut self, now: SystemTime, what: String) {
        self.history.push((unix_micros(now), what));
        if self.history.len() > HISTORY {
            let excess = self.history.len() - HISTORY;
            self.history.drain(..excess);
        }
    }

    /// Applies a reaction (ignored once the instance compensates or has ended; a completing
    /// instance still reacts, so a failing last step can still compensate).
    pub(crate) fn react(
        &mut self,
        reaction: Reaction<S>,
        now: SystemTime,
        cause: &str,
    ) -> Result<DeadlineChanges, DuplicateStep> {
        self.react_with(reaction, now, cause, true)
    }

    /// Applies the reaction to a step that failed for good. Steps run one at a time, so no
    /// later step can have been sent: compensation skips every pending one.
    pub(crate) fn react_to_failure(
        &mut self,
        reaction: Reaction<S>,
        now: SystemTime,
        cause: &str,
    ) -> Result<DeadlineChanges, DuplicateStep> {
        self.react_with(reaction, now, cause, false)
    }

    /// `in_flight`: the first pending step may have been sent already (the reaction comes from
    /// an event or a deadline, while a dispatcher may be running it).
    fn react_with(
        &mut self,
        reaction: Reaction<S>,
        now: SystemTime,
        cause: &str,
        in_flight: bool,
    ) -> Result<DeadlineChanges, DuplicateStep> {
        if !matches!(self.phase, Phase::Active | Phase::Completing) {
            self.note(now, format!("{cause}: ignored ({:?})", self.phase));
            let cancel = self.settle(now);
            return Ok(DeadlineChanges {
                set: Vec::new(),
                cancel,
            });
        }
        for step in &reaction.steps {
            let taken = self.steps.iter().any(|s| s.name == step.name);
            let twice = reaction
                .steps
                .iter()
                .filter(|s| s.name == step.name)
                .count()
                > 1;
            if taken || twice {
                return Err(DuplicateStep(step.name.clone()));
            }
        }
        self.note(now, cause.to_owned());
        if let Some(state) = reaction.state {
            self.state = state;
        }
        self.steps.extend(reaction.steps.into_iter().map(forward));
        for name in &reaction.nothing_to_undo {
            let mut steps = self.steps.iter_mut();
            if let Some(step) = steps.find(|s| s.kind == StepKind::Forward && s.name == *name) {
                step.compensation = None;
            }
        }
        let mut changes = DeadlineChanges::default();
        for name in reaction.cancel {
            if self.deadlines.remove(&name).is_some() {
                changes.cancel.push(name);
            }
        }
        for (name, after) in reaction.deadlines {
            let due = later(now, after);
            self.deadlines.insert(name.clone(), unix_micros(due));
            changes.cancel.retain(|n| n != &name);
            changes.set.push((name, due));
        }
        match reaction.end {
            None => {}
            Some(End::Complete) => self.phase = Phase::Completing,
            Some(End::Compensate) => self.begin_compensation(now, in_flight),
        }
        changes.cancel.extend(self.settle(now));
        Ok(changes)
    }

    /// Starts compensating: pending forward steps are skipped, except the first one if it may
    /// be in flight (sent before a crash, or by a dispatcher right now): it still runs, so
    /// that its effect, if any, is known and undone.
    fn begin_compensation(&mut self, now: SystemTime, in_flight: bool) {
        self.phase = Phase::Compensating;
        let mut keep = in_flight;
        for step in &mut self.steps {
            if step.status == StepStatus::Pending && step.kind == StepKind::Forward {
                if !keep {
                    step.status = StepStatus::Skipped;
                }
                keep = false;
            }
        }
        self.note(now, "compensating".into());
    }

    /// Moves to the next phase when the current one has nothing left to run; returns the
    /// deadlines to cancel (all of them, once the saga compensates or has ended; a completing
    /// saga keeps them until its last step ran).
    fn settle(&mut self, now: SystemTime) -> Vec<String> {
        if self.phase == Phase::Compensating && !self.planned && !self.has_pending() {
            let undo: Vec<_> = self
                .steps
                .iter()
                .rev()
                .filter(|s| s.kind == StepKind::Forward && s.status == StepStatus::Done)
                .filter_map(|s| {
                    s.compensation.clone().map(|command| StepRecord {
                        name: format!("undo:{}", s.name),
                        kind: StepKind::Compensation,
                        command,
                        compensation: None,
                        status: StepStatus::Pending,
                        attempts: 0,
                        last_error: None,
                        not_before: 0,
                    })
                })
                .collect();
            self.steps.extend(undo);
            self.planned = true;
        }
        if !self.has_pending() {
            match self.phase {
                Phase::Completing => {
                    self.phase = Phase::Completed;
                    self.note(now, "completed".into());
                }
                Phase::Compensating if self.planned => {
                    self.phase = Phase::Compensated;
                    self.note(now, "compensated".into());
                }
                _ => {}
            }
        }
        if matches!(self.phase, Phase::Active | Phase::Completing) {
            Vec::new()
        } else {
            std::mem::take(&mut self.deadlines).into_keys().collect()
        }
    }

    /// The step to run now, if any: the first pending one, unless it waits for a retry.
    pub(crate) fn next_step(&self, now: SystemTime) -> Option<&StepRecord<S::Command>> {
        if self.parked.is_some() {
            return None;
        }
        let step = self
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Pending)?;
        (step.not_before <= unix_micros(now)).then_some(step)
    }

    /// Claims the pending step `name` until `until`: other dispatchers leave it alone until
    /// then (its outcome, recorded later, replaces the claim).
    pub(crate) fn claim(&mut self, name: &str, until: SystemTime) -> bool {
        match self.pending_mut(name) {
            Some(step) => {
                step.not_before = unix_micros(until);
                true
            }
            None => false,
        }
    }

    fn pending_mut(&mut self, name: &str) -> Option<&mut StepRecord<S::Command>> {
        self.steps
            .iter_mut()
            .find(|s| s.name == name && s.status == StepStatus::Pending)
    }

    /// Records that step `name` ran; returns deadlines to cancel. `false` if it was not
    /// pending (already recorded).
    pub(crate) fn step_done(&mut self, name: &str, now: SystemTime) -> Option<Vec<String>> {
        let step = self.pending_mut(name)?;
        step.status = StepStatus::Done;
        self.note(now, format!("step {name}: done"));
        Some(self.settle(now))
    }

    /// Records a failed attempt of step `name`. `permanent` failures, and transient ones past
    /// `retries`, fail the step; otherwise it waits as `backoff` says for its attempt. `None`
    /// if it was not pending.
    pub(crate) fn step_failed(
        &mut self,
        name: &str,
        error: &str,
        permanent: bool,
        (retries, backoff): (u32, Backoff),
        now: SystemTime,
    ) -> Option<AfterFailure> {
        let step = self.pending_mut(name)?;
        step.attempts += 1;
        step.last_error = Some(error.to_owned());
        let attempts = step.attempts;
        let kind = step.kind;
        if !permanent && attempts <= retries {
            let delay = backoff.delay(attempts);
            step.not_before = unix_micros(later(now, delay));
            self.note(
                now,
                format!("step {name}: attempt {attempts} failed: {error}"),
            );
            return Some(AfterFailure::Retry);
        }
        match kind {
            StepKind::Forward => {
                step.status = StepStatus::Failed;
                self.note(now, format!("step {name}: failed: {error}"));
                Some(AfterFailure::Decide)
            }
            StepKind::Compensation => {
                self.parked = Some(format!("{name}: {error}"));
                self.note(now, format!("parked: {name} failed: {error}"));
                Some(AfterFailure::Parked)
            }
        }
    }

    /// Sends a parked instance back to work: its failed compensation gets fresh attempts.
    pub(crate) fn unpark(&mut self, now: SystemTime) -> bool {
        if self.parked.take().is_none() {
            return false;
        }
        for step in &mut self.steps {
            if step.status == StepStatus::Pending {
                step.attempts = 0;
                step.not_before = 0;
            }
        }
        self.note(now, "retry requested".into());
        true
    }

    /// When the deadline `name` is due, if the instance has it.
    pub(crate) fn deadline_due(&self, name: &str) -> Option<SystemTime> {
        self.deadlines
            .get(name)
            .map(|&due| crate::backend::from_unix_micros(due))
    }

    /// Removes the deadline `name` as it fires; `false` if the instance no longer has it.
    pub(crate) fn take_deadline(&mut self, name: &str) -> bool {
        self.deadlines.remove(name).is_some()
    }
}

/// `now + by`, at most the last second of the year 9999 (every store can keep that; a
/// deadline "never" ends up there).
pub(crate) fn later(now: SystemTime, by: Duration) -> SystemTime {
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    now.checked_add(by).map_or(far, |at| at.min(far))
}

fn forward<C>(step: Step<C>) -> StepRecord<C> {
    StepRecord {
        name: step.name,
        kind: StepKind::Forward,
        command: step.command,
        compensation: step.compensation,
        status: StepStatus::Pending,
        attempts: 0,
        last_error: None,
        not_before: 0,
    }
}

#[cfg(test)]
mod tests;
