//! The suite's projection: counts events per stream into a harness table, and fails or stalls
//! on command.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::ModelHarness;
use crate::error::BoxError;
use crate::event::RecordedEvent;
use crate::projection::Projection;
use crate::transaction::TransactionalStore;

/// Which positions fail, and how many more times.
#[derive(Debug, Default)]
pub struct FailPlan {
    remaining: Mutex<HashMap<u64, u32>>,
}

impl FailPlan {
    /// Makes the event at `position` fail its next `times` applications (`u32::MAX`: always).
    pub fn fail(&self, position: u64, times: u32) {
        self.lock().insert(position, times);
    }

    /// Lets every event through from now on.
    pub fn heal(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, u32>> {
        self.remaining
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn should_fail(&self, position: u64) -> bool {
        let mut remaining = self.lock();
        match remaining.get_mut(&position) {
            Some(0) | None => false,
            Some(n) => {
                *n = n.saturating_sub(u32::from(*n != u32::MAX));
                true
            }
        }
    }
}

/// Stalls the projection forever right after it applied the event at `position` (inside the
/// open batch transaction), telling the test it got there.
#[derive(Debug, Default)]
pub struct Gate {
    position: Mutex<Option<u64>>,
    /// Notified when the projection stalls.
    pub reached: Notify,
}

impl Gate {
    /// Stalls after the event at `position`.
    pub fn close_after(&self, position: u64) {
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = Some(position);
    }

    fn stalls_at(&self, position: u64) -> bool {
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) == Some(position)
    }
}

/// Counts events per stream into the harness table `model`.
pub struct Counting<H: ModelHarness> {
    harness: Arc<H>,
    model: String,
    /// Failures to inject.
    pub fails: Arc<FailPlan>,
    /// A stall to inject.
    pub gate: Arc<Gate>,
    /// How many times `apply` was called (batches, or single events after a failure).
    pub applies: Arc<AtomicU64>,
    /// The table to become on promotion, if this instance is a rebuild.
    promote_to: Option<String>,
    /// The one stream category counted (and wanted), if not every one.
    only: Option<String>,
}

impl<H: ModelHarness> Counting<H> {
    /// Writes into `model`.
    pub fn new(harness: &Arc<H>, model: &str) -> Self {
        Self {
            harness: harness.clone(),
            model: model.to_owned(),
            fails: Arc::default(),
            gate: Arc::default(),
            applies: Arc::default(),
            promote_to: None,
            only: None,
        }
    }

    /// Counts (and wants) only events of streams in `category`.
    pub fn only(self, category: &str) -> Self {
        Self {
            only: Some(category.to_owned()),
            ..self
        }
    }

    /// A rebuild instance: writes into `<live>_next` and replaces `live` on promotion.
    pub fn rebuild_of(harness: &Arc<H>, live: &str) -> Self {
        Self {
            promote_to: Some(live.to_owned()),
            ..Self::new(harness, &format!("{live}_next"))
        }
    }
}

type Tx<H> = <<H as ModelHarness>::Store as TransactionalStore>::Transaction;

#[async_trait]
impl<H: ModelHarness> Projection<Tx<H>> for Counting<H> {
    fn wants(&self, event: &RecordedEvent) -> bool {
        self.only
            .as_deref()
            .is_none_or(|category| event.stream_id.category() == category)
    }

    async fn apply(&mut self, tx: &mut Tx<H>, events: &[RecordedEvent]) -> Result<(), BoxError> {
        self.applies.fetch_add(1, Ordering::Relaxed);
        for event in events {
            if !self.wants(event) {
                continue;
            }
            let position = event.global_position;
            if self.fails.should_fail(position) {
                return Err(format!("injected failure at position {position}").into());
            }
            self.harness
                .bump(tx, &self.model, event.stream_id.as_str(), position)
                .await?;
            if self.gate.stalls_at(position) {
                self.gate.reached.notify_one();
                std::future::pending::<()>().await;
            }
        }
        Ok(())
    }

    async fn prepare(&mut self, tx: &mut Tx<H>) -> Result<(), BoxError> {
        self.harness.create(tx, &self.model).await
    }

    async fn promote(&mut self, tx: &mut Tx<H>) -> Result<(), BoxError> {
        if let Some(live) = self.promote_to.take() {
            self.harness.replace(tx, &self.model, &live).await?;
            self.model = live;
        }
        Ok(())
    }
}
