//! The projection suite: the runner's guarantees checked against a backend with a read model
//! in the backend's own database.
//!
//! A backend supplies a [`ModelHarness`]: a fresh store (its log empty) and four small SQL
//! operations on a per-stream counting table. The suite's [`Counting`] projection uses them,
//! with no idempotency guard of its own, so a model that comes out exact proves that the
//! model's rows and the checkpoint commit together. [`projection_tests!`](crate::projection_tests)
//! writes one `#[tokio::test]` per function.

mod cases;
pub mod catchup;
mod counting;
mod failures;
mod skipping;

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::BoxError;
use crate::store::EventAppender;
use crate::transaction::{RuntimeStore, TransactionalStore};

pub use cases::{
    abort_mid_batch_then_restart_equals_a_fresh_rebuild, catches_up_then_follows_live,
    concurrent_writers_lose_nothing, rebuild_swaps_in_while_live, resumes_from_its_checkpoint,
    runs_several_projections_side_by_side, two_runners_apply_each_event_once,
};
pub use counting::{Counting, FailPlan, Gate};
pub use failures::{
    dead_letters_a_poison_event, retries_a_transient_failure,
    retrying_forever_is_visible_and_recovers, stops_before_a_poison_event,
};
pub use skipping::{
    lingering_gathers_appends_into_one_batch, skips_batches_it_does_not_want,
    waiting_cuts_the_linger_short,
};

/// A read model: per stream, how many events were applied and the last position applied.
pub type Model = BTreeMap<String, (u64, u64)>;

/// A backend under the projection suite.
#[async_trait]
pub trait ModelHarness: Send + Sync + 'static {
    /// The store (empty when the harness is made).
    type Store: RuntimeStore + EventAppender;

    /// The store under test.
    fn store(&self) -> Self::Store;

    /// Creates the table `model` (stream, count, last position), emptying it if it exists.
    async fn create(
        &self,
        tx: &mut <Self::Store as TransactionalStore>::Transaction,
        model: &str,
    ) -> Result<(), BoxError>;

    /// Adds one to `stream`'s count in `model` and sets its last position.
    async fn bump(
        &self,
        tx: &mut <Self::Store as TransactionalStore>::Transaction,
        model: &str,
        stream: &str,
        position: u64,
    ) -> Result<(), BoxError>;

    /// Replaces table `to` by table `from` (drop `to`, rename `from`).
    async fn replace(
        &self,
        tx: &mut <Self::Store as TransactionalStore>::Transaction,
        from: &str,
        to: &str,
    ) -> Result<(), BoxError>;

    /// The committed contents of `model`.
    async fn read(&self, model: &str) -> Result<Model, BoxError>;
}

/// Writes one `#[tokio::test]` per function of the projection suite; `$harness` is an
/// expression for a closure returning a future of a fresh [`ModelHarness`].
#[macro_export]
macro_rules! projection_tests {
    ($harness:expr) => {
        $crate::projection_tests!(@tests $harness;
            catches_up_then_follows_live,
            resumes_from_its_checkpoint,
            abort_mid_batch_then_restart_equals_a_fresh_rebuild,
            concurrent_writers_lose_nothing,
            two_runners_apply_each_event_once,
            retries_a_transient_failure,
            dead_letters_a_poison_event,
            stops_before_a_poison_event,
            retrying_forever_is_visible_and_recovers,
            rebuild_swaps_in_while_live,
            runs_several_projections_side_by_side,
            skips_batches_it_does_not_want,
            lingering_gathers_appends_into_one_batch,
            waiting_cuts_the_linger_short,
        );
    };
    (@tests $harness:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let harness = ($harness)().await;
                $crate::testing::projections::$name(std::sync::Arc::new(harness)).await;
            }
        )*
    };
}
