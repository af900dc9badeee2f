//! The suite's test functions (the failure policies' are in `failures`), and the helpers
//! they share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::{Counting, Model, ModelHarness};
use crate::backoff::Backoff;
use crate::projection::{
    ErrorPolicy, ProjectionError, ProjectionOptions, ProjectionRunner, ProjectionStatus,
    RunningProjections,
};
use crate::store::{AppendRequest, EventAppender, EventReader};
use crate::testing::conformance::{fresh_stream, numbered};
use crate::transaction::{RuntimeStore, StoreTransaction, TransactionalStore};
use crate::version::ExpectedVersion;

pub(super) const LIVE: &str = "per_stream";
pub(super) const WAIT: Duration = Duration::from_secs(30);

pub(super) fn options(policy: ErrorPolicy) -> ProjectionOptions {
    ProjectionOptions::default()
        .with_batch_size(7)
        .with_policy(policy.with_backoff(Backoff::new(
            Duration::from_millis(1),
            Duration::from_millis(5),
        )))
}

/// Creates (empties) the table `model`.
pub(super) async fn create<H: ModelHarness>(harness: &Arc<H>, model: &str) {
    let store = harness.store();
    let mut tx = store.begin().await.expect("begin");
    harness.create(&mut tx, model).await.expect("create model");
    tx.commit().await.expect("commit");
}

/// Appends `rounds` single-event appends to each of `streams` new streams (round-robin);
/// returns the position of the last one.
pub(super) async fn append<S: EventAppender>(store: &S, streams: usize, rounds: u64) -> u64 {
    let ids: Vec<_> = (0..streams).map(|_| fresh_stream("proj")).collect();
    let mut last = 0;
    for n in 0..rounds {
        for id in &ids {
            let request =
                AppendRequest::single(id.clone(), ExpectedVersion::Any, vec![numbered(n)]);
            let recorded = store.append(request).await.expect("append");
            last = last.max(recorded[0].global_position);
        }
    }
    last
}

/// The model the log up to `through` implies: what an exact projection must hold. (Readers
/// of some backends see a commit a little later: it waits for `through` to be visible.)
pub(super) async fn truth<S: EventReader>(store: &S, through: u64) -> Model {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut model = Model::new();
    let mut next = 1;
    while next <= through {
        let events = store.read_all(next, 1000).await.expect("read_all");
        if events.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "position {through} never became visible"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        for event in events.iter().take_while(|e| e.global_position <= through) {
            let entry = model
                .entry(event.stream_id.as_str().to_owned())
                .or_default();
            entry.0 += 1;
            entry.1 = event.global_position;
        }
        next = events.last().map_or(next, |e| e.global_position + 1);
    }
    model
}

/// The events up to `through`, once all are visible.
pub(super) async fn visible<S: EventReader>(
    store: &S,
    through: u64,
) -> Vec<crate::event::RecordedEvent> {
    crate::testing::conformance::wait_until_visible(store, through).await;
    store.read_all(1, 10_000).await.expect("read_all")
}

/// The position of the `index`-th event (0-based) of the log up to `through`.
pub(super) async fn nth_position<S: EventReader>(store: &S, through: u64, index: usize) -> u64 {
    visible(store, through).await[index].global_position
}

pub(super) async fn read<H: ModelHarness>(harness: &H, model: &str) -> Model {
    harness.read(model).await.expect("read model")
}

pub(super) fn start<H: ModelHarness>(
    harness: &Arc<H>,
    projection: Counting<H>,
    policy: ErrorPolicy,
) -> RunningProjections<H::Store> {
    ProjectionRunner::new(harness.store())
        .add(LIVE, projection, options(policy))
        .start()
        .expect("start")
}

pub(super) async fn caught_up<S: RuntimeStore>(running: &RunningProjections<S>, position: u64) {
    tokio::time::timeout(WAIT, running.wait_until(LIVE, position))
        .await
        .expect("projection reaches the position in time")
        .expect("projection reaches the position");
}

pub(super) async fn wait_status<S: RuntimeStore>(
    running: &RunningProjections<S>,
    what: &str,
    check: impl Fn(&ProjectionStatus) -> bool,
) -> ProjectionStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = running.status(LIVE).expect("status");
        if check(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; status {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Catches up from nothing, then follows appends made while running; lag is 0 when caught up.
pub async fn catches_up_then_follows_live<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let last = append(&store, 3, 10).await;
    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    caught_up(&running, last).await;
    assert_eq!(
        read(&*harness, LIVE).await,
        truth(&store, last).await,
        "after catch-up"
    );
    let last = append(&store, 2, 5).await;
    caught_up(&running, last).await;
    assert_eq!(
        read(&*harness, LIVE).await,
        truth(&store, last).await,
        "after live appends"
    );
    let status = running.status(LIVE).expect("status");
    assert_eq!(status.processed, 40, "every event applied once");
    assert_eq!(status.lag(), 0, "caught up: {status:?}");
    running.shutdown().await.expect("shutdown");
}

/// After a shutdown, a new runner starts from the committed checkpoint, not from the start.
pub async fn resumes_from_its_checkpoint<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let last = append(&store, 2, 6).await;
    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    caught_up(&running, last).await;
    running.shutdown().await.expect("shutdown");
    assert_eq!(
        store.load_checkpoint(LIVE).await.expect("checkpoint"),
        Some(last),
        "the checkpoint is the last applied position"
    );
    let last = append(&store, 1, 5).await;
    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    caught_up(&running, last).await;
    assert_eq!(running.status(LIVE).expect("status").processed, 5);
    assert_eq!(read(&*harness, LIVE).await, truth(&store, last).await);
    running.shutdown().await.expect("shutdown");
}

/// Killing the runner inside a batch (rows written, checkpoint not) and restarting gives the
/// same model as a fresh rebuild: the batch's rows rolled back with it.
pub async fn abort_mid_batch_then_restart_equals_a_fresh_rebuild<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let head = append(&store, 3, 8).await;
    let projection = Counting::new(&harness, LIVE);
    let gate = projection.gate.clone();
    // Stall on an event in the middle of the log, so the batch around it is half applied.
    let middle = nth_position(&store, head, 11).await;
    gate.close_after(middle);
    let running = start(&harness, projection, ErrorPolicy::stop_after(0));
    tokio::time::timeout(WAIT, gate.reached.notified())
        .await
        .expect("the projection reaches the gate");
    let checkpoint_before = running.status(LIVE).expect("status").checkpoint;
    assert!(
        checkpoint_before < middle,
        "the stalled batch is not committed"
    );
    running.abort().await;
    let partial = read(&*harness, LIVE).await;
    let applied: u64 = partial.values().map(|(n, _)| n).sum();
    assert!(
        partial.values().all(|&(_, last)| last <= checkpoint_before),
        "no row of the aborted batch survives: {partial:?} (checkpoint {checkpoint_before})"
    );
    assert!(applied <= 11, "only committed batches are in the model");

    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    caught_up(&running, head).await;
    running.shutdown().await.expect("shutdown");
    create(&harness, "fresh").await;
    let fresh = ProjectionRunner::new(store.clone())
        .add(
            "fresh",
            Counting::new(&harness, "fresh"),
            ProjectionOptions::default(),
        )
        .start()
        .expect("start");
    tokio::time::timeout(WAIT, fresh.wait_until("fresh", head))
        .await
        .expect("in time")
        .expect("fresh rebuild");
    fresh.shutdown().await.expect("shutdown");
    let restarted = read(&*harness, LIVE).await;
    assert_eq!(
        restarted,
        read(&*harness, "fresh").await,
        "restart equals a fresh rebuild"
    );
    assert_eq!(restarted, truth(&store, head).await);
}

/// Writers appending concurrently with the projection lose nothing and double nothing.
pub async fn concurrent_writers_lose_nothing<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { append(&store, 3, 15).await })
        })
        .collect();
    let mut last = 0;
    for writer in writers {
        last = last.max(writer.await.expect("writer"));
    }
    caught_up(&running, last).await;
    let model = read(&*harness, LIVE).await;
    assert_eq!(model.len(), 12, "every stream projected");
    assert!(
        model.values().all(|&(n, _)| n == 15),
        "each stream counted exactly: {model:?}"
    );
    assert_eq!(model, truth(&store, last).await);
    assert_eq!(running.status(LIVE).expect("status").processed, 180);
    running.shutdown().await.expect("shutdown");
}

/// Two runners of one projection (replicas in two processes) over one model, while a writer
/// appends: each event is applied once, by one of them.
pub async fn two_runners_apply_each_event_once<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let first = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    let second = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(0),
    );
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { append(&store, 3, 20).await })
        })
        .collect();
    let mut last = 0;
    for writer in writers {
        last = last.max(writer.await.expect("writer"));
    }
    caught_up(&first, last).await;
    caught_up(&second, last).await;
    assert_eq!(
        read(&*harness, LIVE).await,
        truth(&store, last).await,
        "no event applied twice"
    );
    let processed = first.status(LIVE).expect("status").processed
        + second.status(LIVE).expect("status").processed;
    assert_eq!(processed, 120, "between them, each event once");
    first.shutdown().await.expect("shutdown");
    second.shutdown().await.expect("shutdown");
}

/// A rebuild replays beside the live model while writers append, reports progress, and swaps
/// in atomically: a reader never sees the model shrink (as a half-built one would).
pub async fn rebuild_swaps_in_while_live<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let first = append(&store, 4, 20).await;
    let progress = Arc::new(AtomicU64::new(0));
    let seen = progress.clone();
    let running = ProjectionRunner::new(store.clone())
        .add(
            LIVE,
            Counting::new(&harness, LIVE),
            options(ErrorPolicy::stop_after(0)),
        )
        .with_metrics(move |status: &ProjectionStatus| {
            if let Some(rebuild) = &status.rebuild {
                assert!(rebuild.done <= rebuild.total, "{rebuild:?}");
                seen.fetch_max(rebuild.done, Ordering::Relaxed);
            }
        })
        .start()
        .expect("start");
    caught_up(&running, first).await;

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (harness, stop) = (harness.clone(), stop.clone());
        tokio::spawn(async move {
            let mut floor = 0;
            while !stop.load(Ordering::Relaxed) {
                let total: u64 = read(&*harness, LIVE).await.values().map(|(n, _)| n).sum();
                assert!(
                    total >= floor,
                    "the live model shrank from {floor} to {total}"
                );
                floor = total;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            floor
        })
    };
    let writer = {
        let store = store.clone();
        tokio::spawn(async move { append(&store, 2, 10).await })
    };
    let report = tokio::time::timeout(
        WAIT,
        running.rebuild(LIVE, Counting::rebuild_of(&harness, LIVE)),
    )
    .await
    .expect("in time")
    .expect("rebuild");
    let last = writer.await.expect("writer");
    assert!(report.events >= 80, "{report:?}");
    assert!(
        progress.load(Ordering::Relaxed) >= 80,
        "progress was reported"
    );
    caught_up(&running, last).await;
    stop.store(true, Ordering::Relaxed);
    reader.await.expect("the reader saw no half-built model");
    assert_eq!(
        read(&*harness, LIVE).await,
        truth(&store, last).await,
        "rebuilt model is exact"
    );
    // The promoted instance is the live one now: it keeps following.
    let last = append(&store, 1, 3).await;
    caught_up(&running, last).await;
    assert_eq!(read(&*harness, LIVE).await, truth(&store, last).await);
    assert_eq!(running.status(LIVE).expect("status").rebuild, None);
    running.shutdown().await.expect("shutdown");
}

/// Several projections run side by side with their own checkpoints; names must be unique.
pub async fn runs_several_projections_side_by_side<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, "first").await;
    create(&harness, "second").await;
    let head = append(&store, 3, 7).await;
    let duplicate = ProjectionRunner::new(store.clone())
        .add(
            "first",
            Counting::new(&harness, "first"),
            ProjectionOptions::default(),
        )
        .add(
            "first",
            Counting::new(&harness, "second"),
            ProjectionOptions::default(),
        )
        .start();
    assert!(matches!(duplicate, Err(ProjectionError::DuplicateName(name)) if name == "first"));
    let running = ProjectionRunner::new(store.clone())
        .add(
            "first",
            Counting::new(&harness, "first"),
            ProjectionOptions::default().with_batch_size(2),
        )
        .add(
            "second",
            Counting::new(&harness, "second"),
            ProjectionOptions::default(),
        )
        .start()
        .expect("start");
    for name in ["first", "second"] {
        tokio::time::timeout(WAIT, running.wait_until(name, head))
            .await
            .expect("in time")
            .expect("caught up");
    }
    let expected = truth(&store, head).await;
    assert_eq!(read(&*harness, "first").await, expected);
    assert_eq!(read(&*harness, "second").await, expected);
    assert_eq!(running.statuses().len(), 2);
    assert!(matches!(
        running.wait_until("third", 1).await,
        Err(ProjectionError::Unknown(_))
    ));
    running.shutdown().await.expect("shutdown");
    assert_eq!(
        store.load_checkpoint("first").await.expect("checkpoint"),
        Some(head)
    );
    assert_eq!(
        store.load_checkpoint("second").await.expect("checkpoint"),
        Some(head)
    );
}
