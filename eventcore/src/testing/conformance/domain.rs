//! Repository behaviour on top of the backend: idempotency, snapshots, upcasting, decoding.

use std::sync::Arc;

use crate::testing::counter::{self, Counter, CounterCommand, CounterEvent};
use crate::{
    Aggregate, AppendRequest, CodecError, EventStore, ExpectedVersion, NewEvent, Repository,
    RepositoryError, Snapshot, SnapshotPolicy,
};

use super::Backend;

fn counter_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A command handled once appends once: re-sending it returns the first commit, appends nothing.
pub async fn repository_commands_are_idempotent_by_command_id<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let repo = Repository::<Counter>::new(backend.events.clone());
    let id = counter_id();
    let add = CounterCommand::add(&id, 5);
    let first = repo.execute(add.clone()).await.expect("first send");
    assert_eq!(
        first[0].metadata.causation_id,
        Some(add.command_id.as_uuid()),
        "causation is the command"
    );
    repo.execute(CounterCommand::add(&id, 1)).await.unwrap();
    let again = repo
        .execute(add.clone())
        .await
        .expect("re-send is not an error");
    assert_eq!(again.len(), 1);
    assert_eq!(
        again[0].event_id, first[0].event_id,
        "the first commit is returned"
    );
    assert_eq!(again[0].event, CounterEvent::Added { amount: 5 });
    // A second process (another repository, no shared lock) re-sending it too.
    let other = Repository::<Counter>::new(backend.events.clone());
    other.execute(add).await.unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(loaded.state.total, 6, "the command took effect once");
    assert_eq!(loaded.version, 2);
}

/// Saved snapshots load back; an older snapshot of the same schema never replaces a newer one.
pub async fn snapshots_round_trip_and_never_go_backwards<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let snapshots = &backend.snapshots;
    let stream = Counter::stream_id(&counter_id()).unwrap();
    assert!(snapshots.load_snapshot(&stream).await.unwrap().is_none());
    let snap = |version: u64, schema: u32, total: u64| Snapshot {
        stream: stream.clone(),
        version,
        schema_version: schema,
        state: serde_json::value::to_raw_value(&Counter {
            total,
            applied: version,
        })
        .unwrap(),
    };
    snapshots.save_snapshot(snap(10, 1, 100)).await.unwrap();
    snapshots.save_snapshot(snap(5, 1, 50)).await.unwrap();
    let loaded = snapshots
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("saved");
    assert_eq!(
        loaded.version, 10,
        "an older snapshot did not replace a newer one"
    );
    let state: Counter = serde_json::from_str(loaded.state.get()).unwrap();
    assert_eq!(state.total, 100);
    snapshots.save_snapshot(snap(12, 1, 120)).await.unwrap();
    assert_eq!(
        snapshots
            .load_snapshot(&stream)
            .await
            .unwrap()
            .unwrap()
            .version,
        12
    );
    snapshots.save_snapshot(snap(3, 2, 30)).await.unwrap();
    let replaced = snapshots.load_snapshot(&stream).await.unwrap().unwrap();
    assert_eq!(
        (replaced.version, replaced.schema_version),
        (3, 2),
        "a new schema replaces"
    );
}

/// A snapshot written under another schema version is ignored, never misread.
pub async fn stale_snapshot_schema_is_ignored<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let id = counter_id();
    let repo = Repository::<Counter>::new(backend.events.clone());
    for _ in 0..3 {
        repo.execute(CounterCommand::add(&id, 2)).await.unwrap();
    }
    let stream = Counter::stream_id(&id).unwrap();
    // A snapshot that claims to cover everything, under a schema this program does not use,
    // with a shape that would misread if it were believed.
    backend
        .snapshots
        .save_snapshot(Snapshot {
            stream,
            version: 3,
            schema_version: Counter::SNAPSHOT_VERSION + 1,
            state: serde_json::value::to_raw_value(
                &serde_json::json!({"total": 999, "applied": 3}),
            )
            .unwrap(),
        })
        .await
        .unwrap();
    let repo = repo.with_snapshots(backend.snapshots.clone(), SnapshotPolicy::Never);
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(loaded.state.total, 6, "the stale snapshot was ignored");
    assert_eq!(loaded.version, 3);
}

/// Loading from a snapshot plus the events after it gives the state a full replay gives.
pub async fn snapshot_plus_tail_equals_full_replay<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let id = counter_id();
    let with_snapshots = Repository::<Counter>::new(backend.events.clone())
        .with_snapshots(backend.snapshots.clone(), SnapshotPolicy::EveryNEvents(4));
    for n in 1..=11 {
        let command = if n % 5 == 0 {
            CounterCommand::subtract(&id, 3)
        } else {
            CounterCommand::add(&id, n)
        };
        with_snapshots.execute(command).await.unwrap();
    }
    let stream = Counter::stream_id(&id).unwrap();
    let snapshot = backend
        .snapshots
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("snapshot taken");
    assert_eq!(
        snapshot.version, 8,
        "snapshots at every 4th event; the latest covers 8"
    );
    let replay = Repository::<Counter>::new(backend.events.clone())
        .load(&id)
        .await
        .unwrap();
    let fast = with_snapshots.load(&id).await.unwrap();
    assert_eq!(fast.state, replay.state);
    assert_eq!(fast.version, replay.version);
    assert_eq!(fast.version, 11);
}

/// Events stored under an old schema version are lifted by the upcasters before folding.
pub async fn upcasters_lift_old_payloads_on_read<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let id = counter_id();
    let stream = Counter::stream_id(&id).unwrap();
    let old = |n: u64| {
        NewEvent::raw(
            "Added",
            1,
            serde_json::value::to_raw_value(&serde_json::json!({"n": n})).unwrap(),
        )
    };
    backend
        .events
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![old(4), old(6)],
        ))
        .await
        .unwrap();
    let plain = Repository::<Counter>::new(backend.events.clone());
    match plain.load(&id).await {
        Err(RepositoryError::Decode {
            source: CodecError::MissingUpcaster {
                from_version: 1, ..
            },
            version: 1,
            ..
        }) => {}
        other => panic!("without upcasters an old payload is a typed error, got {other:?}"),
    }
    let repo = plain.with_upcasters(Arc::new(counter::upcasters()));
    repo.execute(CounterCommand::add(&id, 5)).await.unwrap();
    let loaded = repo.load(&id).await.unwrap();
    assert_eq!(loaded.state.total, 15);
    let stored = backend.events.read_stream(&stream, 1, 10).await.unwrap();
    assert_eq!(
        stored[0].schema_version, 1,
        "stored events keep their original form"
    );
    assert_eq!(stored[2].schema_version, 2);
}

/// An unknown event type, a malformed payload or a newer schema in a stream is a typed error
/// naming the stream and position, not a panic.
pub async fn undecodable_stored_events_are_typed_errors<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let repo = Repository::<Counter>::new(backend.events.clone());
    let raw = |t: &str, v: u32, json: &str| {
        NewEvent::raw(
            t,
            v,
            serde_json::value::RawValue::from_string(json.to_owned()).unwrap(),
        )
    };
    let cases = [
        (raw("Exploded", 1, "{}"), "unknown type"),
        (raw("Added", 2, r#"{"amount":"lots"}"#), "malformed"),
        (raw("Subtracted", 9, r#"{"amount":1}"#), "newer schema"),
    ];
    for (event, case) in cases {
        let id = counter_id();
        let stream = Counter::stream_id(&id).unwrap();
        let good = NewEvent::from_event(&CounterEvent::Added { amount: 1 }).unwrap();
        let recorded = backend
            .events
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![good, event],
            ))
            .await
            .unwrap();
        let error = repo.load(&id).await.expect_err(case);
        match (&error, case) {
            (
                RepositoryError::Decode {
                    stream: s,
                    version: 2,
                    position,
                    source: CodecError::UnknownEventType { event_type },
                },
                "unknown type",
            ) => {
                assert_eq!(s, &stream);
                assert_eq!(*position, recorded[1].global_position);
                assert_eq!(event_type, "Exploded");
            }
            (
                RepositoryError::Decode {
                    source: CodecError::MalformedPayload { .. },
                    version: 2,
                    ..
                },
                "malformed",
            ) => {}
            (
                RepositoryError::Decode {
                    source:
                        CodecError::NewerSchema {
                            stored: 9,
                            supported: 1,
                            ..
                        },
                    ..
                },
                "newer schema",
            ) => {}
            _ => panic!("{case}: unexpected error {error:?}"),
        }
        let result = repo.execute(CounterCommand::add(&id, 1)).await;
        assert!(
            matches!(result, Err(RepositoryError::Decode { .. })),
            "{case}: commands fail too"
        );
        assert_eq!(
            backend.events.stream_version(&stream).await.unwrap(),
            2,
            "{case}: nothing appended"
        );
    }
}
