//! A local step's own events: the events its command appends that the saga correlates with
//! the step's instance are handled in the step's transaction, once, and the intake skips them.

use super::harness::{SagaStore, run_id};
use crate::saga::{DispatchError, LocalBus, LocalCommands, Reaction, Saga, SagaManager, Step};
use crate::testing::counter::{Counter, CounterCommand, CounterEvent};
use crate::{CommandId, Metadata, RecordedEvent, Repository, StoreTransaction};

/// One instance per counter: the first `Added` asks for 2 more, the `Added` of 2 completes
/// it. Counts the events it handled.
struct Doubles(String);

impl Saga for Doubles {
    const TYPE: &'static str = "doubles";
    const CATEGORIES: &'static [&'static str] = &["counter"];
    type State = u32;
    type Event = CounterEvent;
    type Command = String;
    type Error = std::convert::Infallible;

    fn correlate(&self, _: &CounterEvent, envelope: &RecordedEvent) -> Option<String> {
        Some(envelope.stream_id.to_string())
    }

    fn on_event(&self, seen: &u32, event: &CounterEvent) -> Result<Reaction<Self>, Self::Error> {
        let reaction = Reaction::new().state(seen + 1);
        Ok(match event {
            CounterEvent::Added { amount: 1 } => {
                let counter = self.0.clone();
                reaction.step(Step::new("add-two", counter))
            }
            CounterEvent::Added { amount: 2 } => reaction.complete(),
            _ => reaction,
        })
    }
}

/// Adds 2 to the counter named by the command, in the step's transaction.
struct AddsTwo(Repository<Counter>);

#[async_trait::async_trait]
impl<Tx: StoreTransaction> LocalCommands<String, Tx> for AddsTwo {
    async fn execute(
        &self,
        tx: &mut Tx,
        counter: &String,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let command = CounterCommand::add(counter.clone(), 2).with_id(id);
        let events = self.0.execute_in(tx, command, metadata.clone()).await;
        events.map(drop).map_err(DispatchError::from)
    }
}

/// The step's `Added` completes its instance in the step's own transaction; the intake, reading
/// it from the log later, skips it.
pub async fn a_steps_own_events_are_handled_in_its_transaction_once<T: SagaStore>(store: T) {
    let counter = format!("{}-own", run_id());
    let instance = format!("counter-{counter}");
    let counters = Repository::<Counter>::new(store.clone());
    counters
        .execute(CounterCommand::add(&counter, 1))
        .await
        .unwrap();
    let bus = LocalBus::new(store.clone(), AddsTwo(counters.clone()));
    let manager = SagaManager::new(Doubles(counter), store.clone(), bus);
    while manager.get(&instance).await.unwrap().is_none() {
        manager.process_events(10).await.unwrap();
    }
    let view = manager.get(&instance).await.unwrap().expect("started");
    assert_eq!((view.state, view.status.as_str()), (1, "dispatching"));

    assert_eq!(manager.dispatch_pending(10).await.unwrap(), 1);
    let view = manager.get(&instance).await.unwrap().expect("exists");
    assert_eq!((view.state, view.status.as_str()), (2, "completed"));
    assert_eq!(view.version, 2, "the step and its event: one save");

    // The intake reads the step's event from the log and skips it (in the inbox already).
    let mut read = 0;
    while read == 0 {
        read = manager.process_events(10).await.unwrap();
    }
    let view = manager.get(&instance).await.unwrap().expect("exists");
    assert_eq!((view.state, view.version), (2, 2), "handled once");
}
