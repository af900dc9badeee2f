//! A saga that names its stream categories reads only those streams: an event of another
//! aggregate with the same type name never reaches it.

use eventcore::saga::{InProcessBus, Reaction, Saga, SagaManager};
use eventcore::testing::counter::CounterEvent;
use eventcore::{
    AppendRequest, EventAppender, ExpectedVersion, InMemoryEventStore, NewEvent, RecordedEvent,
    StreamId,
};

/// Completes one instance per stream it reads: counter streams only when `COUNTERS_ONLY`,
/// every stream otherwise.
struct Reads<const COUNTERS_ONLY: bool>;

impl<const COUNTERS_ONLY: bool> Saga for Reads<COUNTERS_ONLY> {
    const TYPE: &'static str = if COUNTERS_ONLY {
        "counters-only"
    } else {
        "every-stream"
    };
    const CATEGORIES: &'static [&'static str] = if COUNTERS_ONLY { &["counter"] } else { &[] };
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
    let manager = SagaManager::new(Reads::<true>, store, bus);
    assert_eq!(
        manager.process_events(10).await.expect("no decode error"),
        2
    );
    assert!(manager.get("counter-1").await.unwrap().is_some());
    assert!(manager.get("basket-1").await.unwrap().is_none());
}

#[tokio::test]
async fn waiting_on_a_started_saga_returns_the_error_when_its_intake_stopped() {
    use eventcore::projection::{ErrorPolicy, ProjectionError};
    use eventcore::saga::{SagaError, SagaOptions};

    let store = InMemoryEventStore::new();
    // Another aggregate's `Added`, which this saga (reading every stream) cannot decode.
    let foreign = NewEvent::raw(
        "Added",
        2,
        serde_json::value::to_raw_value(&serde_json::json!({ "sku": "mug" })).unwrap(),
    );
    let stream = StreamId::new("basket-1").unwrap();
    store
        .append(AppendRequest::single(
            stream,
            ExpectedVersion::NoStream,
            vec![foreign],
        ))
        .await
        .unwrap();
    let options = SagaOptions {
        events: ErrorPolicy::stop_after(0),
        ..SagaOptions::default()
    };
    let bus = InProcessBus::new(|(), _| async { Ok(()) });
    let handle = SagaManager::new(Reads::<false>, store, bus)
        .with_options(options)
        .start()
        .unwrap();
    let waited = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        handle.wait_until_settled("counter-1"),
    )
    .await
    .expect("the wait ends instead of hanging");
    match waited {
        Err(SagaError::Projection(ProjectionError::Stopped {
            position, error, ..
        })) => {
            assert_eq!(position, 1);
            assert!(error.contains("Added"), "the cause is named: {error}");
        }
        other => panic!("expected the intake's stop, got {other:?}"),
    }
    handle.shutdown().await.unwrap();
}
