//! The repository's unit tests: retries, serialisation per instance, re-sent commands and
//! what errors say; what it reports (observer, tracing) is in `observed`.

mod cached;
mod group;
mod in_tx;
mod observed;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::backoff::Backoff;
use crate::testing::counter::{Counter, CounterCommand, CounterError};
use crate::{CodecError, Conflict, InputError};
use crate::{EventAppender, InMemoryEventStore};
use observed::Recorder;

type AppendHook = Box<
    dyn Fn(
            InMemoryEventStore,
            AppendRequest,
        ) -> futures::future::BoxFuture<
            'static,
            std::result::Result<Vec<RecordedEvent>, StoreError>,
        > + Send
        + Sync,
>;

/// An in-memory store whose appends go through `hook` (reads go straight to the store).
struct Hooked(InMemoryEventStore, AppendHook);

#[async_trait]
impl crate::EventReader for Hooked {
    async fn read_stream(
        &self,
        s: &StreamId,
        v: u64,
        n: usize,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_stream(s, v, n).await
    }
    async fn read_all(
        &self,
        p: u64,
        n: usize,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        self.0.read_all(p, n).await
    }
    async fn stream_version(&self, s: &StreamId) -> std::result::Result<u64, StoreError> {
        self.0.stream_version(s).await
    }
    async fn event_by_id(
        &self,
        id: EventId,
    ) -> std::result::Result<Option<RecordedEvent>, StoreError> {
        self.0.event_by_id(id).await
    }
    async fn head_position(&self) -> std::result::Result<u64, StoreError> {
        self.0.head_position().await
    }
    fn head_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.head_watch()
    }
}

#[async_trait]
impl EventAppender for Hooked {
    async fn append(
        &self,
        request: AppendRequest,
    ) -> std::result::Result<Vec<RecordedEvent>, StoreError> {
        (self.1)(self.0.clone(), request).await
    }
}

/// The conflict a losing append reports.
fn lost(request: &AppendRequest) -> StoreError {
    Conflict {
        stream: request.streams[0].stream.clone(),
        expected: request.streams[0].expected,
        actual: 99,
    }
    .into()
}

/// A store whose appends always lose the race.
fn always_conflicting() -> Hooked {
    conflicting_first(u32::MAX)
}

/// A store whose first `losses` appends lose the race; later ones go through.
fn conflicting_first(losses: u32) -> Hooked {
    let appends = AtomicU32::new(0);
    Hooked(
        InMemoryEventStore::new(),
        Box::new(move |inner, request| {
            let lose = appends.fetch_add(1, Ordering::SeqCst) < losses;
            Box::pin(async move {
                if lose {
                    Err(lost(&request))
                } else {
                    inner.append(request).await
                }
            })
        }),
    )
}

/// Quick retries.
fn retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff: Backoff::new(Duration::from_micros(10), Duration::from_micros(50)),
    }
}

/// Emits two events per command (the counter emits one).
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Pair {
    applied: u64,
}

impl Aggregate for Pair {
    const TYPE: &'static str = "pair";
    type Event = crate::testing::counter::CounterEvent;
    type Command = CounterCommand;
    type Error = CounterError;

    fn apply(&mut self, _: &Self::Event) {
        self.applied += 1;
    }

    fn handle(&self, _: &CounterCommand) -> std::result::Result<Vec<Self::Event>, CounterError> {
        use crate::testing::counter::CounterEvent::Added;
        Ok(vec![Added { amount: 1 }, Added { amount: 2 }])
    }
}

#[tokio::test]
async fn a_command_committed_meanwhile_elsewhere_returns_its_events_whichever_id_collides() {
    // Another process commits the very same command while this append is in flight, and
    // the store names the command's *second* event id as the duplicate (PostgreSQL reports
    // whichever colliding id it finds first).
    let store = Hooked(
        InMemoryEventStore::new(),
        Box::new(|inner, request| {
            Box::pin(async move {
                let second = request.streams[0].events[1].event_id;
                inner.append(request).await?;
                Err(StoreError::DuplicateEventId { event_id: second })
            })
        }),
    );
    let inner = store.0.clone();
    let repo = Repository::<Pair>::new(store);
    let command = CounterCommand::add("p", 1);
    let committed = repo
        .execute(command.clone())
        .await
        .expect("the first commit's events");
    assert_eq!(committed.len(), 2);
    assert_eq!(
        committed
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let stream = Pair::stream_id("p").unwrap();
    assert_eq!(
        committed[1].event_id,
        EventId::derived(command.command_id, &stream, 1)
    );
    assert_eq!(
        crate::EventReader::stream_version(&inner, &stream)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn persistent_conflicts_end_in_retries_exhausted() {
    let repo = Repository::<Counter>::new(always_conflicting()).with_retry(retry(3));
    match repo.execute(CounterCommand::add("c", 1)).await {
        Err(RepositoryError::RetriesExhausted { attempts: 3, last }) => {
            assert_eq!(last.actual, 99)
        }
        other => panic!("expected RetriesExhausted after 3 attempts, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_for_one_instance_are_serialised_within_a_repository() {
    // With a single attempt allowed, any conflict would surface as an error.
    let retry = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let repo = Repository::<Counter>::new(InMemoryEventStore::new()).with_retry(retry);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.execute(CounterCommand::add("hot", 1)).await })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("no conflict within one repository");
    }
    let loaded = repo.load("hot").await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (64, 64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commands_for_one_instance_are_serialised_across_independently_built_repositories() {
    // Two repositories built apart (as two request handlers would), over one store, with a
    // single attempt allowed: any conflict between them would surface as an error.
    let store = InMemoryEventStore::new();
    let recorder = Arc::new(Recorder::default());
    let build = || {
        Repository::<Counter>::new(store.clone())
            .with_retry(retry(1))
            .with_observer(recorder.clone())
    };
    let (first, second) = (build(), build());
    let id = format!("hot-{}", uuid::Uuid::new_v4());
    let tasks: Vec<_> = (0..64)
        .map(|n| {
            let repo = if n % 2 == 0 { &first } else { &second }.clone();
            let id = id.clone();
            tokio::spawn(async move { repo.execute(CounterCommand::add(id, 1)).await })
        })
        .collect();
    for task in tasks {
        task.await
            .unwrap()
            .expect("no conflict between repositories of one process");
    }
    let loaded = first.load(&id).await.unwrap();
    assert_eq!((loaded.state.total, loaded.version), (64, 64));
    let calls = recorder.calls();
    assert_eq!(calls.len(), 64);
    assert!(
        calls.iter().all(|call| call.ends_with("by attempt 1")),
        "{calls:?}"
    );
}

#[tokio::test]
async fn a_domain_error_writes_nothing() {
    let store = InMemoryEventStore::new();
    let repo = Repository::<Counter>::new(store.clone());
    let error = repo
        .execute(CounterCommand::subtract("c", 1))
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        RepositoryError::Domain(CounterError::WouldGoNegative { .. })
    ));
    assert_eq!(crate::EventReader::head_position(&store).await.unwrap(), 0);
}

#[tokio::test]
async fn hostile_and_empty_aggregate_ids_are_typed_errors() {
    let repo = Repository::<Counter>::new(InMemoryEventStore::new());
    assert!(matches!(
        repo.load("").await,
        Err(RepositoryError::InvalidId(InputError::EmptyId { .. }))
    ));
    let long = "x".repeat(crate::MAX_STREAM_ID_BYTES);
    assert!(matches!(
        repo.execute(CounterCommand::add(long, 1)).await,
        Err(RepositoryError::InvalidId(InputError::IdTooLong { .. }))
    ));
    let hostile = "'; DROP TABLE x; -- 🦀\n";
    repo.execute(CounterCommand::add(hostile, 2)).await.unwrap();
    assert_eq!(repo.load(hostile).await.unwrap().state.total, 2);
}

#[test]
fn snapshot_policy_fires_when_an_append_crosses_a_multiple() {
    let every = SnapshotPolicy::EveryNEvents(10);
    assert!(every.due(9, 10));
    assert!(every.due(8, 13));
    assert!(!every.due(10, 19));
    assert!(!SnapshotPolicy::Never.due(0, 1000));
    assert!(!SnapshotPolicy::EveryNEvents(0).due(0, 1000));
}

#[test]
fn backoff_grows_and_stays_capped() {
    let retry = RetryPolicy {
        max_attempts: 10,
        backoff: Backoff::new(Duration::from_millis(2), Duration::from_millis(20)).with_jitter(),
    };
    let first = retry.backoff.delay(1);
    assert!(first >= Duration::from_millis(1) && first <= Duration::from_millis(2));
    let late = retry.backoff.delay(30);
    assert!(late >= Duration::from_millis(10) && late <= Duration::from_millis(20));
}

#[test]
fn the_default_retry_policy_keeps_its_attempts_and_jittered_waits() {
    let default = RetryPolicy::default();
    assert_eq!(default.max_attempts, 8);
    assert_eq!(
        default.backoff,
        Backoff::new(Duration::from_millis(1), Duration::from_millis(200)).with_jitter()
    );
}

#[test]
fn errors_that_wrap_a_cause_show_its_text_and_keep_it_as_the_source() {
    use std::error::Error as _;
    type E = RepositoryError<CounterError>;
    let store = E::Store(StoreError::backend("connection refused"));
    assert_eq!(
        store.to_string(),
        "store error: backend error: connection refused"
    );
    assert!(store.source().is_some());
    let encode = E::Encode(CodecError::Unencodable {
        reason: "not an enum".into(),
    });
    assert_eq!(
        encode.to_string(),
        "event cannot be encoded: not an enum",
        "the codec's error, said once"
    );
    let stream = Counter::stream_id("c").unwrap();
    let exhausted = E::RetriesExhausted {
        attempts: 2,
        last: Conflict {
            stream: stream.clone(),
            expected: ExpectedVersion::Exact(1),
            actual: 2,
        },
    };
    assert_eq!(
        exhausted.to_string(),
        "conflict persisted after 2 attempts: version conflict on stream counter-c: expected version 1, actual version 2"
    );
    let decode = E::Decode {
        stream,
        version: 3,
        position: 7,
        source: CodecError::UnknownEventType {
            event_type: "Gone".into(),
        },
    };
    assert!(
        decode
            .to_string()
            .ends_with("cannot be decoded: unknown event type Gone")
    );
    assert!(decode.source().is_some());
}

#[tokio::test]
async fn a_broken_connection_is_retried_once_and_a_lost_reply_is_not_applied_twice() {
    // The first append commits, then its reply is lost (the connection broke): the retry
    // reads the command's first event back and returns it.
    let calls = Arc::new(AtomicU32::new(0));
    let seen = calls.clone();
    let store = Hooked(
        InMemoryEventStore::new(),
        Box::new(move |inner, request| {
            let first = seen.fetch_add(1, Ordering::Relaxed) == 0;
            Box::pin(async move {
                let recorded = inner.append(request).await?;
                if first {
                    return Err(StoreError::backend("connection reset by peer"));
                }
                Ok(recorded)
            })
        }),
    );
    let inner = store.0.clone();
    let repo = Repository::<Counter>::new(store);
    let committed = repo
        .execute(CounterCommand::add("flaky", 4))
        .await
        .expect("the first outcome, read back");
    assert_eq!(committed[0].stream_version, 1);
    let stream = Counter::stream_id("flaky").unwrap();
    assert_eq!(
        crate::EventReader::stream_version(&inner, &stream)
            .await
            .unwrap(),
        1,
        "applied once"
    );
    assert_eq!(
        calls.load(Ordering::Relaxed),
        1,
        "the retry's read found the first commit: no second append"
    );

    // Failing every time: the second failure is the caller's.
    let always = Hooked(
        InMemoryEventStore::new(),
        Box::new(|_, _| Box::pin(async { Err(StoreError::backend("down")) })),
    );
    let repo = Repository::<Counter>::new(always);
    assert!(matches!(
        repo.execute(CounterCommand::add("down", 1)).await,
        Err(RepositoryError::Store(StoreError::Backend { .. }))
    ));
}
