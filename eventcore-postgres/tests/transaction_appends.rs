//! Appends inside a caller's transaction run without savepoints: a failed append (a version
//! conflict on its second stream, a duplicate event id after events that went in) leaves
//! nothing behind and the transaction goes on.

mod common;

use eventcore::testing::conformance::numbered as event;
use eventcore::{AppendRequest, EventReader, ExpectedVersion, StoreError, StreamId};

fn stream(name: &str) -> StreamId {
    StreamId::new(name).unwrap()
}

#[tokio::test]
async fn a_failed_append_in_a_transaction_leaves_nothing_and_the_transaction_goes_on() {
    let store = common::fresh_store(4).await;
    let mut tx = store.begin().await.unwrap();
    let first = tx
        .append(AppendRequest::single(
            stream("a-1"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        ))
        .await
        .unwrap();

    // Two streams: the first goes in, the second's expectation fails.
    let conflict = tx
        .append(
            AppendRequest::new()
                .stream(
                    stream("b-1"),
                    ExpectedVersion::NoStream,
                    vec![event(2), event(3)],
                )
                .stream(stream("a-1"), ExpectedVersion::NoStream, vec![event(4)]),
        )
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict(ref c)) if c.actual == 1),
        "{conflict:?}"
    );

    // Three events, the last one's id already stored: the first two went in, then clashed.
    let duplicate = tx
        .append(AppendRequest::single(
            stream("c-1"),
            ExpectedVersion::NoStream,
            vec![event(5), event(6), {
                let mut again = event(7);
                again.event_id = first[0].event_id;
                again
            }],
        ))
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::DuplicateEventId { event_id }) if event_id == first[0].event_id),
        "{duplicate:?}"
    );

    // The transaction goes on, and its later events follow the first without a gap in
    // versions.
    let later = tx
        .append(AppendRequest::single(
            stream("b-1"),
            ExpectedVersion::NoStream,
            vec![event(8)],
        ))
        .await
        .expect("b-1 is still new: the failed append left nothing in it");
    assert_eq!(later[0].stream_version, 1);
    tx.commit().await.unwrap();

    eventcore::testing::conformance::wait_until_visible(&store, later[0].global_position).await;
    let all = store.read_all(first[0].global_position, 100).await.unwrap();
    let stored: Vec<(String, u64)> = all
        .iter()
        .map(|e| (e.stream_id.to_string(), e.stream_version))
        .collect();
    assert_eq!(
        stored,
        [("a-1".to_owned(), 1), ("b-1".to_owned(), 1)],
        "only the appends that succeeded"
    );
    assert_eq!(store.stream_version(&stream("c-1")).await.unwrap(), 0);
}
