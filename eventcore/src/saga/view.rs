//! What operators see of a saga instance.

use std::time::SystemTime;

use super::Saga;
use super::document::Document;
use super::status::SagaStatus;
use super::step::{Phase, StepRecord};
use crate::backend::from_unix_micros;

/// One saga instance as operator queries return it.
pub struct SagaView<S: Saga> {
    /// The instance id.
    pub id: String,
    /// Where it stands (operator queries filter by it).
    pub status: SagaStatus,
    /// Its phase.
    pub phase: Phase,
    /// Its state.
    pub state: S::State,
    /// Its steps in the order they were planned, with attempts and errors.
    pub steps: Vec<StepRecord<S::Command>>,
    /// Pending deadlines: name and due time, earliest first.
    pub deadlines: Vec<(String, SystemTime)>,
    /// Why it is parked, if it is.
    pub parked: Option<String>,
    /// Notable moments, oldest first.
    pub history: Vec<(SystemTime, String)>,
    /// The record's version.
    pub version: u64,
}

// By hand: a derive would ask `S` itself (the saga logic) to be `Clone` and `Debug`.
impl<S: Saga> Clone for SagaView<S> {
    fn clone(&self) -> Self {
        Self {
            id: self.id.clone(),
            status: self.status,
            phase: self.phase,
            state: self.state.clone(),
            steps: self.steps.clone(),
            deadlines: self.deadlines.clone(),
            parked: self.parked.clone(),
            history: self.history.clone(),
            version: self.version,
        }
    }
}

impl<S: Saga> std::fmt::Debug for SagaView<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaView")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("phase", &self.phase)
            .field("state", &self.state)
            .field("steps", &self.steps)
            .field("deadlines", &self.deadlines)
            .field("parked", &self.parked)
            .field("history", &self.history)
            .field("version", &self.version)
            .finish()
    }
}

impl<S: Saga> SagaView<S> {
    pub(crate) fn new(id: String, version: u64, document: Document<S>) -> Self {
        let mut deadlines: Vec<_> = document
            .deadlines
            .iter()
            .map(|(name, due)| (name.clone(), from_unix_micros(*due)))
            .collect();
        deadlines.sort_by_key(|(_, due)| *due);
        Self {
            id,
            status: document.saga_status(),
            phase: document.phase,
            state: document.state,
            steps: document.steps,
            deadlines,
            parked: document.parked,
            history: document
                .history
                .into_iter()
                .map(|(at, what)| (from_unix_micros(at), what))
                .collect(),
            version,
        }
    }
}
