//! Property tests: the store agrees with a reference model, snapshots agree with replay, and
//! upcasting agrees with current-version events.

use std::collections::HashMap;
use std::sync::Arc;

use eventcore::backend::RecordedEventExt;
use eventcore::testing::counter::{self, Counter, CounterEvent};
use eventcore::{
    Aggregate, AppendRequest, EventAppender, EventReader, ExpectedVersion, InMemoryEventStore,
    InMemorySnapshotStore, NewEvent, RecordedEvent, Repository, Snapshot, SnapshotPolicy,
    SnapshotStore, StoreError, StreamId, Upcasters,
};
use proptest::prelude::*;

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

#[derive(Clone, Debug)]
struct Op {
    stream: usize,
    expected: ExpectedVersion,
    events: usize,
}

fn expected_version() -> impl Strategy<Value = ExpectedVersion> {
    prop_oneof![
        Just(ExpectedVersion::Any),
        Just(ExpectedVersion::NoStream),
        Just(ExpectedVersion::StreamExists),
        (0u64..6).prop_map(ExpectedVersion::Exact),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    (0usize..3, expected_version(), 0usize..4).prop_map(|(stream, expected, events)| Op {
        stream,
        expected,
        events,
    })
}

fn counter_event() -> impl Strategy<Value = CounterEvent> {
    prop_oneof![
        4 => (1u64..1000).prop_map(|amount| CounterEvent::Added { amount }),
        2 => (1u64..1000).prop_map(|amount| CounterEvent::Subtracted { amount }),
        1 => Just(CounterEvent::Reset),
    ]
}

fn fold(events: &[CounterEvent]) -> Counter {
    let mut state = Counter::default();
    for event in events {
        state.apply(event);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Random appends with random expected versions succeed or conflict exactly as a plain
    /// map of stream versions predicts, and reads return exactly what the model holds.
    #[test]
    fn appends_agree_with_a_reference_model(ops in proptest::collection::vec(op(), 1..40)) {
        block_on(async {
            let store = InMemoryEventStore::new();
            let streams: Vec<StreamId> =
                (0..3).map(|i| StreamId::new(format!("s-{i}")).unwrap()).collect();
            let mut model: HashMap<usize, Vec<u64>> = HashMap::new();
            let mut log: Vec<(usize, u64)> = Vec::new();
            let mut next_payload = 0u64;
            for op in ops {
                let current = model.get(&op.stream).map_or(0, Vec::len) as u64;
                let events: Vec<NewEvent> = (0..op.events)
                    .map(|_| {
                        next_payload += 1;
                        NewEvent::raw("N", 1, serde_json::value::to_raw_value(&next_payload).unwrap())
                    })
                    .collect();
                let payloads: Vec<u64> = (next_payload + 1 - op.events as u64..=next_payload).collect();
                let result = store
                    .append(AppendRequest::single(streams[op.stream].clone(), op.expected, events))
                    .await;
                if op.expected.admits(current) {
                    let recorded = result.expect("model says the append succeeds");
                    prop_assert_eq!(recorded.len(), op.events);
                    for (i, record) in recorded.iter().enumerate() {
                        prop_assert_eq!(record.stream_version, current + i as u64 + 1);
                    }
                    model.entry(op.stream).or_default().extend(&payloads);
                    log.extend(payloads.iter().map(|&p| (op.stream, p)));
                } else {
                    match result {
                        Err(StoreError::Conflict(conflict)) => {
                            prop_assert_eq!(conflict.actual, current);
                            prop_assert_eq!(conflict.expected, op.expected);
                        }
                        other => prop_assert!(false, "model says conflict, got {:?}", other),
                    }
                }
            }
            let payload = |e: &RecordedEvent| serde_json::from_str::<u64>(e.payload.get()).unwrap();
            for (i, stream) in streams.iter().enumerate() {
                let read: Vec<u64> = store.read_stream(stream, 1, 10_000).await.unwrap().iter().map(payload).collect();
                let expected = model.get(&i).cloned().unwrap_or_default();
                prop_assert_eq!(&read, &expected);
                prop_assert_eq!(store.stream_version(stream).await.unwrap(), read.len() as u64);
            }
            let all: Vec<(usize, u64)> = store
                .read_all(1, 100_000)
                .await
                .unwrap()
                .iter()
                .map(|e| (streams.iter().position(|s| s == &e.stream_id).unwrap(), payload(e)))
                .collect();
            prop_assert_eq!(all, log);
            Ok(())
        })?;
    }

    /// The state loaded from a snapshot plus the events after it equals a full replay.
    #[test]
    fn snapshot_plus_tail_equals_full_replay(
        events in proptest::collection::vec(counter_event(), 0..60),
        split in any::<prop::sample::Index>(),
    ) {
        block_on(async {
            let store = InMemoryEventStore::new();
            let snapshots = InMemorySnapshotStore::new();
            let stream = Counter::stream_id("p").unwrap();
            let cut = if events.is_empty() { 0 } else { split.index(events.len() + 1) };
            let new: Vec<NewEvent> = events.iter().map(|e| NewEvent::from_event(e).unwrap()).collect();
            if !new.is_empty() {
                store.append(AppendRequest::single(stream.clone(), ExpectedVersion::NoStream, new)).await.unwrap();
            }
            snapshots.save_snapshot(Snapshot {
                stream: stream.clone(),
                version: cut as u64,
                schema_version: Counter::SNAPSHOT_VERSION,
                state: serde_json::value::to_raw_value(&fold(&events[..cut])).unwrap(),
            }).await.unwrap();
            let repo = Repository::<Counter>::new(store)
                .with_snapshots(Arc::new(snapshots), SnapshotPolicy::Never);
            let loaded = repo.load("p").await.unwrap();
            prop_assert_eq!(loaded.state, fold(&events));
            prop_assert_eq!(loaded.version, events.len() as u64);
            Ok(())
        })?;
    }

    /// Folding events stored in their old form, lifted by the upcasters, equals folding the
    /// same events stored in their current form.
    #[test]
    fn upcast_then_fold_equals_folding_current_events(
        events in proptest::collection::vec(counter_event(), 0..60),
    ) {
        let upcasters: Upcasters = counter::upcasters();
        let mut from_old = Counter::default();
        for event in &events {
            let stored = match event {
                CounterEvent::Added { amount } => NewEvent::raw(
                    "Added",
                    1,
                    serde_json::value::to_raw_value(&serde_json::json!({ "n": amount })).unwrap(),
                ),
                other => NewEvent::from_event(other).unwrap(),
            };
            let record = RecordedEvent::from_new(
                stored,
                StreamId::new("counter-u").unwrap(),
                1,
                1,
                std::time::SystemTime::UNIX_EPOCH,
            );
            from_old.apply(&record.decode::<CounterEvent>(&upcasters).unwrap());
        }
        prop_assert_eq!(from_old, fold(&events));
    }
}
