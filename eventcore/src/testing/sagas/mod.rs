//! The saga suite: the manager's guarantees (durable steps, compensation in reverse order,
//! parking, deadlines across restarts, no second effect after a crash, duplicate and early
//! deliveries, policies, waiting for an instance to settle) and a seeded crash simulation,
//! against any backend.
//! [`saga_tests!`](crate::saga_tests) writes one `#[tokio::test]` per function.

mod cases;
mod correlation;
mod failures;
mod harness;
mod own_events;
mod records;
mod simulation;
mod throughput;
pub mod transfer;

pub use cases::*;
pub use correlation::steps_carry_the_correlation_id_of_their_flow;
pub use failures::*;
pub use harness::SagaStore;
pub use own_events::a_steps_own_events_are_handled_in_its_transaction_once;
pub use records::{
    counts_report_events_sagas_and_dead_letters, runtime_records_persist_for_another_handle,
};
pub use simulation::{
    SimulationReport, simulate, simulate_grouped, simulate_local,
    simulation_with_crashes_at_every_boundary,
    simulation_with_crashes_at_every_boundary_with_grouped_local_steps,
    simulation_with_crashes_at_every_boundary_with_local_steps,
};
pub use throughput::{Throughput, throughput};

pub use super::rng::Rng;

/// Writes one `#[tokio::test]` per function of the saga suite; `$store` is an expression for a
/// closure returning a future of a fresh store (its log empty).
#[macro_export]
macro_rules! saga_tests {
    ($store:expr) => {
        $crate::saga_tests!(@tests $store;
            completes_a_three_step_saga,
            runs_in_the_background,
            waiting_returns_a_saga_once_it_completed,
            waiting_returns_a_saga_once_it_compensated,
            two_managers_share_the_work,
            a_claimed_step_is_left_to_its_dispatcher,
            compensates_in_reverse_order,
            parks_when_a_compensation_keeps_failing,
            deadlines_survive_a_restart_and_cancel,
            redispatch_after_a_crash_has_no_second_effect,
            duplicate_and_early_deliveries_have_one_effect,
            policies_turn_events_into_commands,
            simulation_with_crashes_at_every_boundary,
            simulation_with_crashes_at_every_boundary_with_local_steps,
            simulation_with_crashes_at_every_boundary_with_grouped_local_steps,
            local_steps_commit_with_the_saga_record,
            a_committed_step_group_goes_on_with_the_next_steps,
            a_steps_own_events_are_handled_in_its_transaction_once,
            counts_report_events_sagas_and_dead_letters,
            steps_carry_the_correlation_id_of_their_flow,
        );
    };
    (@tests $store:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = ($store)().await;
                $crate::testing::sagas::$name(store).await;
            }
        )*
    };
}
