//! Hostile requests and cancelled operations: what a store accepts it can read back, no
//! request can starve other clients, and a cancelled operation never commits half of itself.

use std::future::Future;
use std::task::Poll;

use serde_json::value::{RawValue, to_raw_value};

use crate::{
    AbortReason, AppendRequest, EventStore, ExpectedVersion, InputError, MAX_JSON_DEPTH,
    MAX_STREAMS_PER_APPEND, Metadata, NewEvent, Snapshot, StoreError, StoreTransaction, StreamId,
    TransactionalStore,
};

use super::{Backend, fresh_stream, numbered};

/// JSON nested `depth` levels deep: `[[[...1...]]]`.
fn nested(depth: usize) -> Box<RawValue> {
    RawValue::from_string(format!("{}1{}", "[".repeat(depth), "]".repeat(depth)))
        .expect("valid json")
}

fn nested_value(depth: usize) -> serde_json::Value {
    serde_json::from_str(nested(depth).get()).expect("within serde_json's recursion limit")
}

/// A payload or metadata value nested up to [`MAX_JSON_DEPTH`] is stored and reads back through
/// every read; one level deeper is refused with [`InputError::TooDeeplyNested`] before anything
/// is written (a store must never accept what it cannot read back).
pub async fn deeply_nested_json_is_refused_and_what_is_accepted_reads_back<
    S: EventStore + Clone + 'static,
>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("nested");
    let with_metadata = |depth| {
        let mut metadata = Metadata::default();
        metadata.extra.insert("deep".into(), nested_value(depth));
        numbered(2).with_metadata(metadata)
    };
    let deep_payload = NewEvent::raw("Nested", 1, nested(MAX_JSON_DEPTH));
    let deep_metadata = with_metadata(MAX_JSON_DEPTH);
    let recorded = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            vec![deep_payload.clone(), deep_metadata.clone()],
        ))
        .await
        .expect("nesting up to the limit is accepted");
    super::wait_until_visible(store, recorded[1].global_position).await;
    let by_stream = store.read_stream(&stream, 1, 10).await.expect("reads back");
    assert_eq!(by_stream.len(), 2);
    assert_eq!(by_stream[0].payload.get(), deep_payload.payload.get());
    assert_eq!(by_stream[1].metadata, deep_metadata.metadata);
    let by_log = store
        .read_all(recorded[0].global_position, 2)
        .await
        .expect("the log reads past them");
    assert_eq!(by_log.len(), 2);
    assert!(
        store
            .event_by_id(recorded[1].event_id)
            .await
            .unwrap()
            .is_some()
    );

    let too_deep = [
        (
            "payload",
            NewEvent::raw("Nested", 1, nested(MAX_JSON_DEPTH + 1)),
        ),
        ("metadata", with_metadata(MAX_JSON_DEPTH + 1)),
        ("metadata", with_metadata(126)),
    ];
    for (what, event) in too_deep {
        match store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                vec![numbered(3), event],
            ))
            .await
        {
            Err(StoreError::InvalidInput(InputError::TooDeeplyNested {
                what: reported,
                max,
                ..
            })) => assert_eq!((reported, max), (what, MAX_JSON_DEPTH)),
            other => panic!("{what} too deep: expected TooDeeplyNested, got {other:?}"),
        }
    }
    assert_eq!(
        store.stream_version(&stream).await.unwrap(),
        2,
        "nothing more was written"
    );
}

/// One append may name at most [`MAX_STREAMS_PER_APPEND`] streams (each is locked until the
/// append commits, and a database's lock table is shared by every client); more is
/// [`InputError::TooManyStreams`] and writes nothing.
pub async fn an_append_naming_too_many_streams_is_refused<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let streams: Vec<StreamId> = (0..=MAX_STREAMS_PER_APPEND)
        .map(|_| fresh_stream("many"))
        .collect();
    let request = |streams: &[StreamId]| {
        streams
            .iter()
            .zip(0..)
            .fold(AppendRequest::new(), |request, (s, n)| {
                request.stream(s.clone(), ExpectedVersion::NoStream, vec![numbered(n)])
            })
    };
    match store.append(request(&streams)).await {
        Err(StoreError::InvalidInput(InputError::TooManyStreams { count, max })) => {
            assert_eq!(
                (count, max),
                (MAX_STREAMS_PER_APPEND + 1, MAX_STREAMS_PER_APPEND)
            );
        }
        other => panic!("expected TooManyStreams, got {other:?}"),
    }
    assert_eq!(
        store.stream_version(&streams[0]).await.unwrap(),
        0,
        "nothing written"
    );
    let recorded = store
        .append(request(&streams[..MAX_STREAMS_PER_APPEND]))
        .await
        .expect("the limit itself is fine");
    assert_eq!(recorded.len(), MAX_STREAMS_PER_APPEND);
}

/// Snapshot schema versions round-trip as the full `u32`: a schema above `i32::MAX` is neither
/// clamped nor mistaken for another.
pub async fn snapshot_schema_versions_round_trip_in_full<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    for schema_version in [i32::MAX as u32, i32::MAX as u32 + 1, u32::MAX] {
        let stream = fresh_stream("snapshot-schema");
        let state = to_raw_value(&serde_json::json!({ "total": 21 })).unwrap();
        backend
            .snapshots
            .save_snapshot(Snapshot {
                stream: stream.clone(),
                version: 1,
                schema_version,
                state,
            })
            .await
            .expect("any u32 schema version is stored");
        let loaded = backend.snapshots.load_snapshot(&stream).await.unwrap();
        assert_eq!(
            loaded.map(|s| s.schema_version),
            Some(schema_version),
            "schema version {schema_version} round-trips"
        );
    }
}

/// Polls `operation` until it completes or has been pending `pendings` times; in the latter
/// case drops it midway (as a timeout would) and returns `None`.
pub async fn drop_after_pendings<F: Future>(operation: F, pendings: usize) -> Option<F::Output> {
    let mut operation = std::pin::pin!(operation);
    let mut seen = 0;
    std::future::poll_fn(|cx| match operation.as_mut().poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending if seen >= pendings => Poll::Ready(None),
        Poll::Pending => {
            seen += 1;
            Poll::Pending
        }
    })
    .await
}

/// An append inside a transaction whose future is dropped midway poisons the transaction: the
/// next operation and the commit report [`AbortReason::Cancelled`], and nothing of the
/// transaction (not even the chunks or streams the append had written) is stored. An append
/// that completed commits whole. Returns how many of its appends were cancelled midway (a
/// backend whose appends take several round trips should see some: its own tests assert it).
pub async fn a_cancelled_append_poisons_its_transaction_and_stores_nothing<S>(
    backend: &Backend<S>,
) -> usize
where
    S: EventStore + TransactionalStore + Clone + 'static,
{
    let store = &backend.events;
    let per_stream = crate::MAX_EVENTS_PER_APPEND / 2;
    let mut cancelled = 0;
    for pendings in [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144] {
        let (a, b) = (fresh_stream("cancel-a"), fresh_stream("cancel-b"));
        let events = |from: u64| (from..from + per_stream as u64).map(numbered).collect();
        let request = AppendRequest::new()
            .stream(a.clone(), ExpectedVersion::NoStream, events(0))
            .stream(b.clone(), ExpectedVersion::NoStream, events(1_000_000));
        let mut tx = store.begin().await.expect("begin");
        let outcome = drop_after_pendings(tx.append(request), pendings).await;
        let expect_stored = match outcome {
            Some(result) => {
                result.expect("an append that completes succeeds");
                tx.commit().await.expect("a completed append commits");
                per_stream as u64
            }
            None => {
                cancelled += 1;
                let checkpoint = tx.save_checkpoint("cancelled", 1).await;
                assert!(
                    matches!(
                        checkpoint,
                        Err(StoreError::TransactionAborted {
                            reason: AbortReason::Cancelled
                        })
                    ),
                    "after {pendings} pendings: a poisoned transaction refuses further work, \
                     got {checkpoint:?}"
                );
                let commit = tx.commit().await;
                assert!(
                    matches!(
                        commit,
                        Err(StoreError::TransactionAborted {
                            reason: AbortReason::Cancelled
                        })
                    ),
                    "after {pendings} pendings: commit reports the cancelled append, got {commit:?}"
                );
                0
            }
        };
        for stream in [&a, &b] {
            assert_eq!(
                store.stream_version(stream).await.unwrap(),
                expect_stored,
                "after {pendings} pendings: all of the append or none of it is stored"
            );
        }
    }
    tracing::debug!(cancelled, "appends cancelled midway");
    cancelled
}
