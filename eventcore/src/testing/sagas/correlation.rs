//! A saga's steps carry the correlation id of the flow that started it, whether sent through a
//! bus or run in the saga's own transaction.

use std::sync::Arc;

use super::harness::{Accounts, SagaStore, confirmed, drive, options, run_id, terminal};
use super::transfer::{Deliveries, Move, TransferSaga, fund, publish_with};
use crate::aggregate::Aggregate;
use crate::event::Metadata;
use crate::saga::{CommandBus, ManualClock, SagaManager, SagaStatus};
use crate::testing::counter::Counter;

/// Runs one transfer to its end with `bus` and checks that the events its three steps appended
/// carry the correlation id of the events that started it, and the step's command id as
/// causation id.
async fn transfer_keeps_its_correlation<T, B>(store: &T, bus: B, name: &str)
where
    T: SagaStore,
    B: CommandBus<Move>,
{
    let (run, clock) = (run_id(), ManualClock::default());
    let id = format!("{run}-{name}");
    let accounts = Accounts::new(&run, name);
    fund(store, &accounts.from, 100).await;
    let correlation = uuid::Uuid::new_v4();
    let metadata = Metadata {
        correlation_id: Some(correlation),
        ..Metadata::default()
    };
    publish_with(store, &id, &accounts.request(&id, 30, 1), metadata.clone()).await;
    publish_with(store, &id, &confirmed(&id), metadata).await;
    let manager = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_options(options());
    drive(&manager, &clock, std::slice::from_ref(&id), terminal).await;
    let view = manager.get(&id).await.expect("get").expect("exists");
    assert_eq!(view.status, SagaStatus::Completed, "{name}");
    for (account, step) in [
        (&accounts.from, "withdraw"),
        (&accounts.to, "deposit"),
        (&accounts.fees, "fee"),
    ] {
        let stream = Counter::stream_id(account).expect("stream id");
        let events = store.read_stream(&stream, 1, 10).await.expect("read");
        let last = events.last().expect("the step's event");
        let command = SagaManager::<TransferSaga, T, B>::command_id(&id, step);
        assert_eq!(
            (last.metadata.correlation_id, last.metadata.causation_id),
            (Some(correlation), Some(command.into())),
            "{name}: the {step} step's event"
        );
    }
}

/// Every step's command carries the flow's correlation id (from the events that started the
/// saga) into the events it appends: sent through a bus ([`InProcessBus::with_metadata`]) and
/// run in the saga's transaction ([`LocalBus`]).
///
/// [`InProcessBus::with_metadata`]: crate::saga::InProcessBus::with_metadata
/// [`LocalBus`]: crate::saga::LocalBus
///
/// # Panics
/// When a step's event lacks the correlation id.
pub async fn steps_carry_the_correlation_id_of_their_flow<T: SagaStore>(store: T) {
    let deliveries = Arc::new(Deliveries::default());
    let sent = super::transfer::counter_bus(store.clone(), deliveries.clone());
    transfer_keeps_its_correlation(&store, sent, "sent").await;
    let local = super::transfer::local_counter_bus(store.clone(), deliveries);
    transfer_keeps_its_correlation(&store, local, "local").await;
}
