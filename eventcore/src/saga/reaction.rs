//! What a saga decides: a [`Reaction`], built fluently.

use std::time::Duration;

use super::Saga;

/// A command to run as a named step of a saga instance, with what undoes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Step<C> {
    /// Unique within the instance: it names the step in the history and derives the command id.
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
}

impl<S: Saga> std::fmt::Debug for Reaction<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reaction")
            .field("state", &self.state)
            .field("steps", &self.steps)
            .field("deadlines", &self.deadlines)
            .field("cancel", &self.cancel)
            .field("end", &self.end)
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
}
