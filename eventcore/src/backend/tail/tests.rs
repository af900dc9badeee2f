use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::{AppendRequest, EventAppender, EventReader, ExpectedVersion, InMemoryEventStore};
use crate::{NewEvent, StreamId};

/// A store with `n` events, its tail, and a count of the reads that reached the store.
async fn store_with(n: usize) -> (InMemoryEventStore, SharedTail, AtomicUsize) {
    let store = InMemoryEventStore::new();
    append(&store, n).await;
    // Pages serve for long enough here however slowly the tests run; freshness has a test.
    let tail = SharedTail::with_freshness(store.head_watch(), Duration::from_secs(3600));
    (store, tail, AtomicUsize::new(0))
}

async fn append(store: &InMemoryEventStore, n: usize) {
    let payload = || serde_json::value::to_raw_value(&1).unwrap();
    let events = (0..n)
        .map(|_| NewEvent::raw("Added", 1, payload()))
        .collect();
    let stream = StreamId::new("counter-1").unwrap();
    let request = AppendRequest::single(stream, ExpectedVersion::Any, events);
    store.append(request).await.unwrap();
}

/// Reads through `tail`, counting reads of the store.
async fn read(
    tail: &SharedTail,
    store: &InMemoryEventStore,
    reads: &AtomicUsize,
    from: u64,
    max: usize,
) -> Vec<u64> {
    let events = tail
        .read(from, max, |from, max| {
            reads.fetch_add(1, Ordering::SeqCst);
            store.read_all(from, max)
        })
        .await
        .unwrap();
    events.iter().map(|e| e.global_position).collect()
}

#[tokio::test]
async fn followers_at_one_place_share_one_read_until_the_head_moves() {
    let (store, tail, reads) = store_with(3).await;
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1, 2, 3]);
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1, 2, 3]);
    assert_eq!(read(&tail, &store, &reads, 2, 10).await, [2, 3]);
    assert_eq!(read(&tail, &store, &reads, 1, 2).await, [1, 2]);
    // Caught up: the end of what the read saw.
    assert!(read(&tail, &store, &reads, 4, 10).await.is_empty());
    assert_eq!(reads.load(Ordering::SeqCst), 1);

    append(&store, 1).await; // moves the head watch
    assert_eq!(read(&tail, &store, &reads, 4, 10).await, [4]);
    assert_eq!(read(&tail, &store, &reads, 4, 10).await, [4]);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_full_batch_answers_only_batches_it_holds_whole() {
    let (store, tail, reads) = store_with(5).await;
    assert_eq!(read(&tail, &store, &reads, 1, 3).await, [1, 2, 3]);
    assert_eq!(read(&tail, &store, &reads, 2, 2).await, [2, 3]);
    assert_eq!(reads.load(Ordering::SeqCst), 1);
    // Past a page that did not reach the end: the store answers.
    assert_eq!(read(&tail, &store, &reads, 4, 1).await, [4]);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
    assert_eq!(read(&tail, &store, &reads, 4, 1).await, [4]);
    assert_eq!(read(&tail, &store, &reads, 5, 1).await, [5]);
    assert_eq!(reads.load(Ordering::SeqCst), 3);
    // More than a page holds, which did not reach the end: the store answers.
    assert_eq!(read(&tail, &store, &reads, 5, 10).await, [5]);
    assert_eq!(reads.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_follower_behind_the_page_reads_alone_and_keeps_it() {
    let (store, tail, reads) = store_with(4).await;
    assert_eq!(read(&tail, &store, &reads, 3, 10).await, [3, 4]);
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1, 2, 3, 4]);
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1, 2, 3, 4]);
    assert_eq!(reads.load(Ordering::SeqCst), 3);
    assert_eq!(read(&tail, &store, &reads, 4, 10).await, [4]);
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_page_serves_for_a_moment_only() {
    let store = InMemoryEventStore::new();
    append(&store, 1).await;
    let tail = SharedTail::with_freshness(store.head_watch(), Duration::from_millis(1));
    let reads = AtomicUsize::new(0);
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1]);
    assert_eq!(reads.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_failed_read_keeps_nothing() {
    let (store, tail, reads) = store_with(2).await;
    let failed = tail
        .read(1, 10, |_, _| async { Err(StoreError::backend("down")) })
        .await;
    assert!(failed.is_err());
    assert_eq!(read(&tail, &store, &reads, 1, 10).await, [1, 2]);
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn followers_waking_together_wait_for_one_read() {
    let (store, tail, reads) = store_with(2).await;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let store = &store;
    let slow = tail.read(1, 10, |from, max| {
        reads.fetch_add(1, Ordering::SeqCst);
        async move {
            released.await.unwrap();
            store.read_all(from, max).await
        }
    });
    let waiting = read(&tail, store, &reads, 1, 10);
    let releasing = async {
        tokio::task::yield_now().await;
        release.send(()).unwrap();
    };
    let (slow, waiting, ()) = tokio::join!(slow, waiting, releasing);
    assert_eq!(slow.unwrap().len(), 2);
    assert_eq!(waiting, [1, 2]);
    assert_eq!(reads.load(Ordering::SeqCst), 1);
}
