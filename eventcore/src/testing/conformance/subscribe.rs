//! Subscriptions: catch up, then follow live.

use std::time::Duration;

use futures::StreamExt;

use crate::{AppendRequest, EventReaderExt, EventStore, ExpectedVersion, RecordedEvent};

use super::{Backend, fresh_stream, number_of, numbered};

/// How long a subscriber may take to see an event before the suite calls it lost.
const PROMPT: Duration = Duration::from_secs(10);

async fn next_of(
    subscription: &mut crate::Subscription,
    stream: &crate::StreamId,
) -> RecordedEvent {
    loop {
        let event = tokio::time::timeout(PROMPT, subscription.next())
            .await
            .expect("the subscription delivered promptly")
            .expect("the subscription did not end")
            .expect("the subscription did not fail");
        if &event.stream_id == stream {
            return event;
        }
    }
}

/// A subscription first delivers what is stored, then events appended after it started.
pub async fn subscription_catches_up_then_follows_live<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("sub");
    let start = store.head_position().await.unwrap() + 1;
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![numbered(1), numbered(2)],
        ))
        .await
        .unwrap();
    let mut subscription = store.subscribe(start);
    assert_eq!(
        number_of(&next_of(&mut subscription, &stream).await.payload),
        1
    );
    assert_eq!(
        number_of(&next_of(&mut subscription, &stream).await.payload),
        2
    );
    let writer = store.clone();
    let live_stream = stream.clone();
    let handle = tokio::spawn(async move {
        for n in 3..=5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer
                .append(AppendRequest::single(
                    live_stream.clone(),
                    ExpectedVersion::Any,
                    vec![numbered(n)],
                ))
                .await
                .unwrap();
        }
    });
    let mut last_position = 0;
    for n in 3..=5 {
        let event = next_of(&mut subscription, &stream).await;
        assert_eq!(number_of(&event.payload), n, "live events arrive in order");
        assert!(event.global_position > last_position);
        last_position = event.global_position;
    }
    handle.await.unwrap();
}

/// A subscription from a position skips everything before it.
pub async fn subscription_from_a_middle_position_starts_there<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("sub-mid");
    let recorded = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            (1..=4).map(numbered).collect(),
        ))
        .await
        .unwrap();
    let mut subscription = store.subscribe(recorded[2].global_position);
    let first = next_of(&mut subscription, &stream).await;
    assert_eq!(first.stream_version, 3);
    assert_eq!(next_of(&mut subscription, &stream).await.stream_version, 4);
}

/// `read_all_following` answers what `read_all` answers, and shows an append made through the
/// same handle as soon as `read_all` does, however recently another follower read the log.
pub async fn following_reads_show_what_read_all_shows<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("following");
    let start = store.head_position().await.unwrap() + 1;
    let ours = |events: Vec<RecordedEvent>| -> Vec<u64> {
        let ours = events.into_iter().filter(|e| e.stream_id == stream);
        ours.map(|e| number_of(&e.payload)).collect()
    };
    let mut expected = Vec::new();
    for n in 1..=4 {
        let request =
            AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![numbered(n)]);
        let recorded = store.append(request).await.unwrap();
        super::wait_until_visible(store, recorded[0].global_position).await;
        expected.push(n);
        // Twice: the second may be answered by the first's page.
        for _ in 0..2 {
            let following = store.read_all_following(start, 10_000).await.unwrap();
            assert_eq!(ours(following), expected, "after appending {n}");
        }
        let read_all = store.read_all(start, 10_000).await.unwrap();
        assert_eq!(ours(read_all), expected);
    }
    let first = store.read_all_following(start, 1).await.unwrap();
    assert_eq!(first.len(), 1, "at most max_count");
    assert!(first[0].global_position >= start, "from the asked position");
}
