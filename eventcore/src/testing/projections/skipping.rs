//! Batches a projection does not want (no transaction, the checkpoint stored later) and
//! lingering for more appends (fewer, larger batches).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::cases::{LIVE, append, caught_up, create, options, read, truth};
use super::{Counting, Model, ModelHarness};
use crate::projection::{ErrorPolicy, ProjectionRunner, RunningProjections};
use crate::store::{AppendRequest, EventAppender, EventReader};
use crate::testing::conformance::{fresh_stream, numbered};
use crate::transaction::TransactionalStore;
use crate::version::ExpectedVersion;

/// The category the suite's filtered projection wants (`append` writes `proj` streams).
const WANTED: &str = "wanted";

fn start_only<H: ModelHarness>(harness: &Arc<H>) -> RunningProjections<H::Store> {
    let projection = Counting::new(harness, LIVE).only(WANTED);
    ProjectionRunner::new(harness.store())
        .add(LIVE, projection, options(ErrorPolicy::stop_after(0)))
        .start()
        .expect("start")
}

/// Appends `count` events to one new `wanted` stream; the last position.
async fn append_wanted<S: EventAppender>(store: &S, count: u64) -> u64 {
    let id = fresh_stream(WANTED);
    let events = (0..count).map(numbered).collect();
    let request = AppendRequest::single(id, ExpectedVersion::NoStream, events);
    let recorded = store.append(request).await.expect("append");
    recorded.last().expect("appended").global_position
}

/// `truth` restricted to the wanted streams.
async fn wanted_truth<S: EventReader>(store: &S, through: u64) -> Model {
    let mut model = truth(store, through).await;
    model.retain(|stream, _| stream.starts_with("wanted-"));
    model
}

/// A projection that wants no event of a batch gets no transaction: the status follows the
/// log while the stored checkpoint stays; the next batch it wants stores the checkpoint with
/// its rows (from where it was stored), and a shutdown stores where the skipping got to.
pub async fn skips_batches_it_does_not_want<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let unwanted = append(&store, 2, 10).await;
    let running = start_only(&harness);
    caught_up(&running, unwanted).await;
    assert_eq!(
        store.load_checkpoint(LIVE).await.expect("checkpoint"),
        None,
        "no batch it wanted: nothing stored"
    );
    assert_eq!(running.status(LIVE).expect("status").checkpoint, unwanted);

    let wanted = append_wanted(&store, 3).await;
    caught_up(&running, wanted).await;
    assert_eq!(
        store.load_checkpoint(LIVE).await.expect("checkpoint"),
        Some(wanted),
        "a batch it wanted stores the checkpoint"
    );
    assert_eq!(
        read(&*harness, LIVE).await,
        wanted_truth(&store, wanted).await
    );

    let skipped = append(&store, 1, 4).await;
    caught_up(&running, skipped).await;
    assert_eq!(
        store.load_checkpoint(LIVE).await.expect("checkpoint"),
        Some(wanted),
        "skipped batches store nothing"
    );
    running.shutdown().await.expect("shutdown");
    assert_eq!(
        store.load_checkpoint(LIVE).await.expect("checkpoint"),
        Some(skipped),
        "a shutdown stores where skipping got to"
    );

    let wanted = append_wanted(&store, 2).await;
    let running = start_only(&harness);
    caught_up(&running, wanted).await;
    assert_eq!(running.status(LIVE).expect("status").processed, 2);
    assert_eq!(
        read(&*harness, LIVE).await,
        wanted_truth(&store, wanted).await,
        "each wanted event applied once across the restart"
    );
    running.shutdown().await.expect("shutdown");
}

/// With a linger, appends made one by one while the runner waits are applied together: fewer
/// batches than appends, and the model still exact.
pub async fn lingering_gathers_appends_into_one_batch<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let projection = Counting::new(&harness, LIVE);
    let applies = projection.applies.clone();
    let mut options = options(ErrorPolicy::stop_after(0)).with_linger(Duration::from_secs(1));
    options.fallback_poll = Duration::from_secs(60);
    let running = ProjectionRunner::new(store.clone())
        .add(LIVE, projection, options)
        .start()
        .expect("start");
    // Let the runner find the empty log and wait for news.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let before = applies.load(Ordering::Relaxed);
    let last = append(&store, 1, 5).await;
    caught_up(&running, last).await;
    let batches = applies.load(Ordering::Relaxed) - before;
    assert!(
        (1..=2).contains(&batches),
        "5 appends within the linger took {batches} batches"
    );
    assert_eq!(read(&*harness, LIVE).await, truth(&store, last).await);
    running.shutdown().await.expect("shutdown");
}

/// A `wait_until` for a position the projection has not reached cuts its linger short:
/// read-your-writes does not wait out the linger.
pub async fn waiting_cuts_the_linger_short<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let mut options = options(ErrorPolicy::stop_after(0)).with_linger(Duration::from_secs(60));
    options.fallback_poll = Duration::from_secs(60);
    let running = ProjectionRunner::new(store.clone())
        .add(LIVE, Counting::new(&harness, LIVE), options)
        .start()
        .expect("start");
    tokio::time::sleep(Duration::from_millis(100)).await;
    for round in 0..3 {
        let last = append(&store, 1, 1).await;
        tokio::time::timeout(Duration::from_secs(10), running.wait_until(LIVE, last))
            .await
            .unwrap_or_else(|_| panic!("round {round}: waited out the 60 s linger"))
            .expect("reaches the position");
    }
    assert_eq!(running.status(LIVE).expect("status").processed, 3);
    running.shutdown().await.expect("shutdown");
}
