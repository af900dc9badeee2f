//! The backend conformance suite: one async function per behaviour of the
//! [`EventStore`] and [`SnapshotStore`] contracts.
//!
//! Every function takes a [`Backend`] and panics (with a message saying which rule broke) when
//! the backend misbehaves. Functions use fresh, randomly named streams and judge the global log
//! only by the events they wrote themselves, so they may share one database and run in
//! parallel.
//!
//! A storage crate runs the whole suite with [`conformance_tests!`](crate::conformance_tests),
//! which writes one `#[tokio::test]` per function (the crate needs `tokio` with the `macros` and
//! `rt-multi-thread` features among its dev-dependencies):
//!
//! ```
//! use std::sync::Arc;
//!
//! use eventcore::testing::conformance::Backend;
//! use eventcore::{InMemoryEventStore, InMemorySnapshotStore};
//!
//! eventcore::conformance_tests!(|| async {
//!     Backend::new(InMemoryEventStore::new(), Arc::new(InMemorySnapshotStore::new()))
//! });
//! # fn main() {}
//! ```

use std::sync::Arc;

use crate::event::NewEvent;
use crate::id::StreamId;
use crate::snapshot::SnapshotStore;
use crate::store::EventStore;

mod atomicity;
mod domain;
mod hostile;
mod in_transaction;
mod race;
mod reads;
mod subscribe;
mod versions;

pub use atomicity::*;
pub use domain::*;
pub use hostile::*;
pub use in_transaction::*;
pub use race::*;
pub use reads::*;
pub use subscribe::*;
pub use versions::*;

/// What the suite runs against: an event store and a snapshot store (usually in the same
/// database).
#[derive(Clone)]
pub struct Backend<S> {
    /// The event store under test.
    pub events: S,
    /// The snapshot store under test.
    pub snapshots: Arc<dyn SnapshotStore>,
}

impl<S: EventStore + Clone + 'static> Backend<S> {
    /// Bundles the stores under test.
    pub fn new(events: S, snapshots: Arc<dyn SnapshotStore>) -> Self {
        Self { events, snapshots }
    }
}

/// A fresh stream id with a recognisable prefix.
pub fn fresh_stream(prefix: &str) -> StreamId {
    StreamId::new(format!("{prefix}-{}", uuid::Uuid::new_v4())).expect("valid stream id")
}

/// A small raw event whose payload records `n`.
pub fn numbered(n: u64) -> NewEvent {
    NewEvent::raw(
        "Numbered",
        1,
        serde_json::value::to_raw_value(&serde_json::json!({ "n": n })).expect("valid json"),
    )
}

/// The `n` recorded in a [`numbered`] event's payload.
pub fn number_of(payload: &serde_json::value::RawValue) -> u64 {
    let value: serde_json::Value = serde_json::from_str(payload.get()).expect("payload is json");
    value["n"].as_u64().expect("payload has n")
}

/// Waits (up to 10 s) until `read_all` can return `position`: backends may expose an append to
/// log readers only once older in-flight transactions have finished.
pub async fn wait_until_visible<S: crate::EventReader + ?Sized>(store: &S, position: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.head_position().await.expect("head_position") < position {
        assert!(
            std::time::Instant::now() < deadline,
            "position {position} did not become visible to log readers within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Writes one `#[tokio::test]` per conformance function, each with a fresh backend from
/// `$factory` (a closure returning a future of [`Backend`]).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@each $factory;
            append_to_new_stream_assigns_versions_from_one,
            no_stream_on_existing_stream_conflicts_and_writes_nothing,
            stream_exists_on_missing_stream_conflicts,
            exact_version_accepts_current_and_rejects_stale,
            exact_zero_means_empty_stream,
            any_version_appends_to_new_and_existing_streams,
            extreme_versions_are_conflicts_or_empty_reads,
            multi_stream_append_commits_all_streams_together,
            multi_stream_conflict_writes_nothing_to_any_stream,
            version_check_without_events_guards_an_append,
            duplicate_event_id_is_reported_and_writes_nothing,
            duplicate_event_id_within_one_append_is_reported,
            bad_input_is_rejected_and_writes_nothing,
            read_stream_returns_versions_in_order_from_version,
            read_all_returns_global_order_from_position,
            event_by_id_finds_committed_events_only,
            read_for_command_finds_a_handled_command_or_reads_the_stream,
            fold_for_command_hands_over_what_read_for_command_reads,
            payload_and_metadata_round_trip_verbatim,
            hostile_stream_ids_round_trip_verbatim,
            subscription_catches_up_then_follows_live,
            subscription_from_a_middle_position_starts_there,
            following_reads_show_what_read_all_shows,
            repository_commands_are_idempotent_by_command_id,
            snapshots_round_trip_and_never_go_backwards,
            stale_snapshot_schema_is_ignored,
            snapshot_plus_tail_equals_full_replay,
            upcasters_lift_old_payloads_on_read,
            undecodable_stored_events_are_typed_errors,
            concurrent_appends_with_retry_yield_contiguous_versions,
            concurrent_writers_keep_a_gap_free_global_order,
            deeply_nested_json_is_refused_and_what_is_accepted_reads_back,
            an_append_naming_too_many_streams_is_refused,
            snapshot_schema_versions_round_trip_in_full,
            a_cancelled_append_poisons_its_transaction_and_stores_nothing,
            commands_execute_inside_a_transaction_with_its_other_writes,
            commands_in_a_transaction_and_a_plain_command_on_one_instance_do_not_deadlock,
            a_long_stream_keeps_its_committed_state_between_transactions_and_never_an_uncommitted_one,
        );
    };
    (@each $factory:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let backend = ($factory)().await;
                $crate::testing::conformance::$name(&backend).await;
            }
        )*
    };
}
