//! Expected-version semantics.

use crate::{AppendRequest, EventStore, ExpectedVersion, StoreError};

use super::{Backend, fresh_stream, numbered};

fn conflict_of(result: Result<Vec<crate::RecordedEvent>, StoreError>) -> crate::Conflict {
    match result {
        Err(StoreError::Conflict(conflict)) => conflict,
        other => panic!("expected a version conflict, got {other:?}"),
    }
}

/// The first events of a stream get versions 1, 2, 3, ... and increasing positions.
pub async fn append_to_new_stream_assigns_versions_from_one<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("versions");
    let recorded = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![numbered(1), numbered(2), numbered(3)],
        ))
        .await
        .expect("append to a new stream");
    let versions: Vec<u64> = recorded.iter().map(|e| e.stream_version).collect();
    assert_eq!(
        versions,
        [1, 2, 3],
        "versions start at 1 and are contiguous"
    );
    assert!(
        recorded
            .windows(2)
            .all(|w| w[0].global_position < w[1].global_position),
        "global positions increase within an append"
    );
    assert!(recorded.iter().all(|e| e.stream_id == stream));
    assert_eq!(store.stream_version(&stream).await.unwrap(), 3);
}

/// `NoStream` on a stream with events is a conflict naming the actual version; nothing written.
pub async fn no_stream_on_existing_stream_conflicts_and_writes_nothing<
    S: EventStore + Clone + 'static,
>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("nostream");
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![numbered(1)],
        ))
        .await
        .unwrap();
    let conflict = conflict_of(
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![numbered(2)],
            ))
            .await,
    );
    assert_eq!(conflict.stream, stream);
    assert_eq!(conflict.expected, ExpectedVersion::NoStream);
    assert_eq!(conflict.actual, 1);
    assert_eq!(store.read_stream(&stream, 1, 10).await.unwrap().len(), 1);
}

/// `StreamExists` on a stream without events is a conflict with actual version 0.
pub async fn stream_exists_on_missing_stream_conflicts<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("exists");
    let conflict = conflict_of(
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::StreamExists,
                vec![numbered(1)],
            ))
            .await,
    );
    assert_eq!(conflict.actual, 0);
    assert_eq!(conflict.expected, ExpectedVersion::StreamExists);
    assert_eq!(store.stream_version(&stream).await.unwrap(), 0);
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![numbered(1)],
        ))
        .await
        .unwrap();
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::StreamExists,
            vec![numbered(2)],
        ))
        .await
        .expect("StreamExists holds once the stream has events");
    assert_eq!(store.stream_version(&stream).await.unwrap(), 2);
}

/// `Exact(n)` succeeds at version n and conflicts otherwise, reporting expected and actual.
pub async fn exact_version_accepts_current_and_rejects_stale<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("exact");
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![numbered(1), numbered(2)],
        ))
        .await
        .unwrap();
    let recorded = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Exact(2),
            vec![numbered(3)],
        ))
        .await
        .expect("append at the current version");
    assert_eq!(recorded[0].stream_version, 3);
    for stale in [1, 2, 4] {
        let conflict = conflict_of(
            store
                .append(AppendRequest::single(
                    stream.clone(),
                    ExpectedVersion::Exact(stale),
                    vec![numbered(99)],
                ))
                .await,
        );
        assert_eq!(conflict.expected, ExpectedVersion::Exact(stale));
        assert_eq!(conflict.actual, 3);
    }
    let events = store.read_stream(&stream, 1, 100).await.unwrap();
    assert_eq!(events.len(), 3, "rejected appends wrote nothing");
}

/// `Exact(0)` means "no events yet", like `NoStream`.
pub async fn exact_zero_means_empty_stream<S: EventStore + Clone + 'static>(backend: &Backend<S>) {
    let store = &backend.events;
    let stream = fresh_stream("exact0");
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Exact(0),
            vec![numbered(1)],
        ))
        .await
        .expect("Exact(0) on a new stream");
    let conflict = conflict_of(
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Exact(0),
                vec![numbered(2)],
            ))
            .await,
    );
    assert_eq!(conflict.actual, 1);
}

/// `Any` appends whatever the version.
pub async fn any_version_appends_to_new_and_existing_streams<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("any");
    for n in 1..=3 {
        let recorded = store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                vec![numbered(n)],
            ))
            .await
            .unwrap();
        assert_eq!(recorded[0].stream_version, n);
    }
    assert_eq!(store.stream_version(&stream).await.unwrap(), 3);
}

/// Versions and positions beyond anything stored are a conflict or an empty read, not an error.
pub async fn extreme_versions_are_conflicts_or_empty_reads<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("extreme");
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![numbered(1)],
        ))
        .await
        .unwrap();
    for huge in [u64::MAX, i64::MAX as u64 + 1, i64::MAX as u64] {
        let conflict = conflict_of(
            store
                .append(AppendRequest::single(
                    stream.clone(),
                    ExpectedVersion::Exact(huge),
                    vec![numbered(2)],
                ))
                .await,
        );
        assert_eq!(conflict.actual, 1);
        assert!(
            store
                .read_stream(&stream, huge, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.read_all(huge, 10).await.unwrap().is_empty());
    }
    assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
}
