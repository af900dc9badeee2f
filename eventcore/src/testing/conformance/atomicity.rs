//! Multi-stream atomicity, duplicate ids and bad input: all or nothing.

use crate::{AppendRequest, EventStore, ExpectedVersion, InputError, NewEvent, StoreError};

use super::{Backend, fresh_stream, numbered};

/// One append to several streams commits every stream's events, with positions in request order.
pub async fn multi_stream_append_commits_all_streams_together<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (a, b) = (fresh_stream("multi-a"), fresh_stream("multi-b"));
    let recorded = store
        .append(
            AppendRequest::new()
                .stream(
                    a.clone(),
                    ExpectedVersion::NoStream,
                    vec![numbered(1), numbered(2)],
                )
                .stream(b.clone(), ExpectedVersion::NoStream, vec![numbered(3)]),
        )
        .await
        .expect("multi-stream append");
    assert_eq!(recorded.len(), 3);
    assert_eq!(
        (recorded[0].stream_id.clone(), recorded[0].stream_version),
        (a.clone(), 1)
    );
    assert_eq!(
        (recorded[1].stream_id.clone(), recorded[1].stream_version),
        (a.clone(), 2)
    );
    assert_eq!(
        (recorded[2].stream_id.clone(), recorded[2].stream_version),
        (b.clone(), 1)
    );
    assert!(
        recorded
            .windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    assert_eq!(store.stream_version(&a).await.unwrap(), 2);
    assert_eq!(store.stream_version(&b).await.unwrap(), 1);
}

/// When one stream's check fails, no stream of the append gets anything.
pub async fn multi_stream_conflict_writes_nothing_to_any_stream<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (a, b) = (fresh_stream("atomic-a"), fresh_stream("atomic-b"));
    store
        .append(AppendRequest::single(
            b.clone(),
            ExpectedVersion::Any,
            vec![numbered(1)],
        ))
        .await
        .unwrap();
    let (first, second) = (numbered(2), numbered(3));
    let ids = [first.event_id, second.event_id];
    let result = store
        .append(
            AppendRequest::new()
                .stream(a.clone(), ExpectedVersion::NoStream, vec![first])
                .stream(b.clone(), ExpectedVersion::NoStream, vec![second]),
        )
        .await;
    match result {
        Err(StoreError::Conflict(conflict)) => {
            assert_eq!(conflict.stream, b);
            assert_eq!(conflict.actual, 1);
        }
        other => panic!("expected a conflict on the second stream, got {other:?}"),
    }
    assert_eq!(
        store.stream_version(&a).await.unwrap(),
        0,
        "first stream untouched"
    );
    assert_eq!(
        store.stream_version(&b).await.unwrap(),
        1,
        "second stream untouched"
    );
    for id in ids {
        assert!(
            store.event_by_id(id).await.unwrap().is_none(),
            "no event of the failed append reached the log"
        );
    }
}

/// A stream with no events in an append is a pure version check that guards the others.
pub async fn version_check_without_events_guards_an_append<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (guard, target) = (fresh_stream("guard"), fresh_stream("guarded"));
    store
        .append(AppendRequest::single(
            guard.clone(),
            ExpectedVersion::Any,
            vec![numbered(1)],
        ))
        .await
        .unwrap();
    let stale = store
        .append(
            AppendRequest::new()
                .stream(guard.clone(), ExpectedVersion::Exact(0), vec![])
                .stream(target.clone(), ExpectedVersion::Any, vec![numbered(2)]),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(ref c)) if c.stream == guard));
    assert_eq!(store.stream_version(&target).await.unwrap(), 0);
    let ok = store
        .append(
            AppendRequest::new()
                .stream(guard.clone(), ExpectedVersion::Exact(1), vec![])
                .stream(target.clone(), ExpectedVersion::Any, vec![numbered(2)]),
        )
        .await
        .expect("the guard holds");
    assert_eq!(ok.len(), 1);
    assert_eq!(
        store.stream_version(&guard).await.unwrap(),
        1,
        "the guard got no event"
    );
}

/// Appending an event id that is already stored is `DuplicateEventId`; nothing is written.
pub async fn duplicate_event_id_is_reported_and_writes_nothing<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (a, b) = (fresh_stream("dup-a"), fresh_stream("dup-b"));
    let first = numbered(1);
    let id = first.event_id;
    store
        .append(AppendRequest::single(
            a.clone(),
            ExpectedVersion::Any,
            vec![first.clone()],
        ))
        .await
        .unwrap();
    for target in [&a, &b] {
        let result = store
            .append(AppendRequest::single(
                target.clone(),
                ExpectedVersion::Any,
                vec![numbered(2), first.clone()],
            ))
            .await;
        match result {
            Err(StoreError::DuplicateEventId { event_id }) => assert_eq!(event_id, id),
            other => panic!("expected DuplicateEventId, got {other:?}"),
        }
    }
    assert_eq!(store.stream_version(&a).await.unwrap(), 1);
    assert_eq!(store.stream_version(&b).await.unwrap(), 0);
}

/// The same event id twice in one append is `DuplicateEventId`; nothing is written.
pub async fn duplicate_event_id_within_one_append_is_reported<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("dup-within");
    let event = numbered(1);
    let result = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![event.clone(), event.clone()],
        ))
        .await;
    assert!(
        matches!(result, Err(StoreError::DuplicateEventId { event_id }) if event_id == event.event_id),
        "got {result:?}"
    );
    assert_eq!(store.stream_version(&stream).await.unwrap(), 0);
}

/// Oversized payloads, empty or oversized type names, zero schema versions, repeated streams,
/// empty appends and reads from 0 are typed errors, and no part of such an append is written.
pub async fn bad_input_is_rejected_and_writes_nothing<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("bad");
    let big = "x".repeat(crate::MAX_PAYLOAD_BYTES + 1);
    let oversized = NewEvent::raw(
        "Big",
        1,
        serde_json::value::to_raw_value(&big).expect("json string"),
    );
    let mut empty_type = numbered(1);
    empty_type.event_type.clear();
    let mut long_type = numbered(1);
    long_type.event_type = "t".repeat(crate::MAX_EVENT_TYPE_BYTES + 1);
    let mut zero_schema = numbered(1);
    zero_schema.schema_version = 0;
    let mut huge_schema = numbered(1);
    huge_schema.schema_version = u32::MAX;
    let mut nul_type = numbered(1);
    nul_type.event_type = "a\0b".into();

    let cases: Vec<(&str, AppendRequest)> = vec![
        (
            "oversized payload",
            AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                vec![numbered(0), oversized],
            ),
        ),
        (
            "empty event type",
            AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                vec![numbered(0), empty_type],
            ),
        ),
        (
            "oversized event type",
            AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![long_type]),
        ),
        (
            "NUL in event type",
            AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![nul_type]),
        ),
        (
            "zero schema version",
            AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![zero_schema]),
        ),
        (
            "huge schema version",
            AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![huge_schema]),
        ),
        (
            "stream named twice",
            AppendRequest::new()
                .stream(stream.clone(), ExpectedVersion::Any, vec![numbered(1)])
                .stream(stream.clone(), ExpectedVersion::Any, vec![numbered(2)]),
        ),
        ("no stream at all", AppendRequest::new()),
        (
            "too many events",
            AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                (0..=crate::MAX_EVENTS_PER_APPEND as u64)
                    .map(numbered)
                    .collect(),
            ),
        ),
    ];
    for (case, request) in cases {
        match store.append(request).await {
            Err(StoreError::InvalidInput(_)) => {}
            other => panic!("{case}: expected InvalidInput, got {other:?}"),
        }
    }
    assert_eq!(
        store.stream_version(&stream).await.unwrap(),
        0,
        "nothing was written"
    );
    assert!(matches!(
        store.read_stream(&stream, 0, 10).await,
        Err(StoreError::InvalidInput(InputError::ZeroVersion))
    ));
    assert!(matches!(
        store.read_all(0, 10).await,
        Err(StoreError::InvalidInput(InputError::ZeroVersion))
    ));
}
