//! What operators see of a saga instance.

use std::time::SystemTime;

use super::Saga;
use super::document::{Document, Phase, StepRecord};
use crate::backend::from_unix_micros;

/// One saga instance as operator queries return it.
#[derive(Clone, Debug)]
pub struct SagaView<S: Saga> {
    /// The instance id.
    pub id: String,
    /// `active`, `dispatching`, `compensating`, `parked`, `completed` or `compensated`.
    pub status: String,
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
            status: document.status().to_owned(),
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
