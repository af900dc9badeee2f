//! A saga that names its stream categories reads only those streams: an event of another
//! aggregate with the same type name never reaches it.

use eventcore::saga::{InProcessBus, Reaction, Saga, SagaManager};
use eventcore::testing::counter::CounterEvent;
use eventcore::{
    AppendRequest, EventAppender, ExpectedVersion, InMemoryEventStore, NewEvent, RecordedEvent,
    StreamId,
};

/// Completes one instance per counter stream it reads.
struct CountersOnly;

impl Saga for CountersOnly {
    const TYPE: &'static str = "counters-only";
    const CATEGORIES: &'static [&'static str] = &["counter"];
    type State = ();
    type Event = CounterEvent;
    type Command = ();
    type Error = std::convert::Infallible;

    fn correlate(&self, _: &CounterEvent, envelope: &RecordedEvent) -> Option<String> {
        Some(envelope.stream_id.to_string())
    }

    fn on_event(&self, _: &(), _: &CounterEvent) -> Result<Reaction<Self>, Self::Error> {
        Ok(Reaction::new().complete())
    }
}

#[tokio::test]
async fn events_of_other_categories_are_skipped_even_when_their_type_names_match() {
    let store = InMemoryEventStore::new();
    // `Added` of a counter, and an `Added` of another aggregate whose payload is not a
    // counter's: decoding it as a counter event would fail.
    let counter = NewEvent::from_event(&CounterEvent::Added { amount: 1 }).unwrap();
    let foreign = NewEvent::raw(
        "Added",
        2,
        serde_json::value::to_raw_value(&serde_json::json!({ "sku": "mug" })).unwrap(),
    );
    for (stream, event) in [("basket-1", foreign), ("counter-1", counter)] {
        let stream = StreamId::new(stream).unwrap();
        store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::NoStream,
                vec![event],
            ))
            .await
            .unwrap();
    }
    let bus = InProcessBus::new(|(), _| async { Ok(()) });
    let manager = SagaManager::new(CountersOnly, store, bus);
    assert_eq!(
        manager.process_events(10).await.expect("no decode error"),
        2
    );
    assert!(manager.get("counter-1").await.unwrap().is_some());
    assert!(manager.get("basket-1").await.unwrap().is_none());
}
