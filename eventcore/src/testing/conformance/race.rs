//! Concurrency: racing writers on one stream, and many writers against a live reader.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt;

use crate::backoff::Backoff;
use crate::testing::counter::{Counter, CounterCommand};
use crate::{
    AppendRequest, EventId, EventReaderExt, EventStore, ExpectedVersion, Repository, RetryPolicy,
    StoreError, StreamId, SubscriptionOptions,
};

use super::{Backend, fresh_stream, numbered};

const TASKS: u64 = 16;
const PER_TASK: u64 = 12;

/// Many tasks appending to one stream with `Exact` versions and retry (plus separate
/// repositories racing on one aggregate) end with contiguous versions, nothing lost, nothing
/// duplicated.
pub async fn concurrent_appends_with_retry_yield_contiguous_versions<
    S: EventStore + Clone + 'static,
>(
    backend: &Backend<S>,
) {
    let stream = fresh_stream("race");
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = backend.events.clone();
        let stream = stream.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                let event = numbered(task * 1000 + i);
                ids.push(event.event_id);
                loop {
                    let version = store.stream_version(&stream).await.unwrap();
                    let request = AppendRequest::single(
                        stream.clone(),
                        ExpectedVersion::Exact(version),
                        vec![event.clone()],
                    );
                    match store.append(request).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict(_)) => tokio::task::yield_now().await,
                        Err(other) => panic!("unexpected append error: {other}"),
                    }
                }
            }
            ids
        }));
    }
    let mut expected: HashSet<EventId> = HashSet::new();
    for task in tasks {
        expected.extend(task.await.expect("writer task"));
    }
    let events = backend
        .events
        .read_stream(&stream, 1, 100_000)
        .await
        .unwrap();
    assert_eq!(
        events.len() as u64,
        TASKS * PER_TASK,
        "nothing lost, nothing duplicated"
    );
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event.stream_version,
            i as u64 + 1,
            "versions are contiguous"
        );
    }
    let seen: HashSet<EventId> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(seen, expected, "exactly the appended events");

    // The same through repositories that share no lock (as separate processes would).
    let id = uuid::Uuid::new_v4().to_string();
    let retry = RetryPolicy {
        max_attempts: 1000,
        backoff: Backoff::new(Duration::from_micros(100), Duration::from_millis(5)).with_jitter(),
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let repo = Repository::<Counter>::new(backend.events.clone())
            .with_retry(retry)
            .with_own_locks();
        let id = id.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                repo.execute(CounterCommand::add(&id, 1))
                    .await
                    .expect("retried to success");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let loaded = Repository::<Counter>::new(backend.events.clone())
        .load(&id)
        .await
        .unwrap();
    assert_eq!((loaded.state.total, loaded.version), (80, 80));
}

/// Many writers on many streams, some of whose appends fail and roll back, while a
/// subscriber follows live from the start: it sees every committed event exactly once,
/// positions strictly increase, each stream arrives in version order, and nothing of a failed
/// append ever appears.
pub async fn concurrent_writers_keep_a_gap_free_global_order<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let start = store.head_position().await.unwrap() + 1;
    let prefix = format!("gapfree-{}", uuid::Uuid::new_v4());
    let options = SubscriptionOptions {
        batch_size: 16,
        fallback_poll: Duration::from_millis(50),
    };
    let mut subscription = store.subscribe_with(start, options);
    let (total_tx, total_rx) = tokio::sync::oneshot::channel::<usize>();
    let reader_prefix = prefix.clone();
    // The reader consumes while the writers write, so an event committed behind it would be
    // skipped for good.
    let reader = tokio::spawn(async move {
        let mut total_rx = total_rx;
        let mut total: Option<usize> = None;
        let mut seen: HashSet<EventId> = HashSet::new();
        let mut last_position = 0;
        let mut stream_versions: HashMap<StreamId, u64> = HashMap::new();
        loop {
            if total.is_none() {
                if let Ok(n) = total_rx.try_recv() {
                    total = Some(n);
                }
            }
            if total.is_some_and(|n| seen.len() >= n) {
                return seen;
            }
            let next = tokio::time::timeout(Duration::from_millis(100), subscription.next()).await;
            let Ok(next) = next else { continue };
            let event = next
                .expect("subscription open")
                .expect("subscription healthy");
            assert!(
                event.global_position > last_position,
                "global order strictly increases"
            );
            last_position = event.global_position;
            if !event.stream_id.as_str().starts_with(&reader_prefix) {
                continue;
            }
            assert!(
                seen.insert(event.event_id),
                "event {} delivered twice",
                event.event_id
            );
            let previous = stream_versions.insert(event.stream_id.clone(), event.stream_version);
            assert_eq!(
                event.stream_version,
                previous.unwrap_or(0) + 1,
                "stream {} delivered in version order",
                event.stream_id
            );
        }
    });
    let mut writers = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let prefix = prefix.clone();
        writers.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            let mut failed = Vec::new();
            for i in 0..PER_TASK {
                let stream = StreamId::new(format!("{prefix}-{}", (task + i) % 5)).unwrap();
                let size = 1 + (i % 3);
                let events: Vec<_> = (0..size)
                    .map(|k| numbered(task * 1000 + i * 10 + k))
                    .collect();
                let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
                if i % 4 == 3 {
                    // Written first, then rolled back because the guard stream conflicts.
                    let guard = StreamId::new(format!("{prefix}-guard-{task}-{i}")).unwrap();
                    let result = store
                        .append(
                            AppendRequest::new()
                                .stream(stream, ExpectedVersion::Any, events)
                                .stream(guard, ExpectedVersion::StreamExists, vec![]),
                        )
                        .await;
                    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
                    failed.extend(ids);
                    continue;
                }
                store
                    .append(AppendRequest::single(stream, ExpectedVersion::Any, events))
                    .await
                    .expect("append with Any");
                committed.extend(ids);
            }
            (committed, failed)
        }));
    }
    let mut committed: HashSet<EventId> = HashSet::new();
    let mut failed: HashSet<EventId> = HashSet::new();
    for writer in writers {
        let (ok, rolled_back) = writer.await.unwrap();
        committed.extend(ok);
        failed.extend(rolled_back);
    }
    total_tx.send(committed.len()).unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the subscriber caught up")
        .expect("the subscriber's checks held");
    assert_eq!(seen, committed, "every committed event, nothing else");
    assert!(
        seen.is_disjoint(&failed),
        "nothing of a failed append was delivered"
    );
}
