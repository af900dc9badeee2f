//! The catch-up measurement the storage crates' benchmarks share: seed a large log, time the
//! store's `read_all` over it, and time a projection from an empty checkpoint to the head. The
//! raw read and the projection's SQL are the backend's own.

use std::time::{Duration, Instant};

use crate::event::NewEvent;
use crate::id::StreamId;
use crate::projection::{Projection, ProjectionOptions, ProjectionRunner};
use crate::store::{AppendRequest, EventAppender, EventReader};
use crate::transaction::RuntimeStore;
use crate::version::ExpectedVersion;

/// Streams in the seeded log; each gets 100 events per 100,000.
pub const STREAMS: usize = 1000;

/// Appends `total` (a multiple of 100,000) small events: rounds of 100-event appends to each of
/// [`STREAMS`] streams. Returns how long it took.
pub async fn seed<S: EventAppender>(store: &S, total: u64) -> Duration {
    let start = Instant::now();
    let streams: Vec<StreamId> = (0..STREAMS)
        .map(|i| StreamId::new(format!("order-{i}")).expect("valid stream id"))
        .collect();
    for round in 0..total / 100_000 {
        for stream in &streams {
            let events = (0..100)
                .map(|i| {
                    let payload = format!(r#"{{"round":{round},"i":{i},"amount":{}}}"#, i * 7);
                    let payload =
                        serde_json::value::RawValue::from_string(payload).expect("valid json");
                    NewEvent::raw("OrderLine", 1, payload)
                })
                .collect();
            let request = AppendRequest::single(stream.clone(), ExpectedVersion::Any, events);
            store.append(request).await.expect("seed append");
        }
    }
    start.elapsed()
}

/// Reads the whole log with `read_all` in pages of `batch`; returns events per second.
///
/// # Panics
/// If it does not read `expected` events.
pub async fn read_all_rate<S: EventReader>(store: &S, batch: usize, expected: u64) -> f64 {
    let start = Instant::now();
    let (mut next, mut read) = (1u64, 0u64);
    loop {
        let events = store.read_all(next, batch).await.expect("read_all");
        let Some(last) = events.last() else { break };
        next = last.global_position + 1;
        read += events.len() as u64;
    }
    assert_eq!(read, expected, "read_all read the whole log");
    expected as f64 / start.elapsed().as_secs_f64()
}

/// Runs `projection` (named `name`, batches of `batch`) from an empty checkpoint to the log's
/// head; returns events per second over `total` events.
pub async fn catchup_rate<S: RuntimeStore>(
    store: &S,
    name: &str,
    projection: impl Projection<S::Transaction>,
    batch: usize,
    total: u64,
) -> f64 {
    let head = store.head_position().await.expect("head");
    let start = Instant::now();
    let running = ProjectionRunner::new(store.clone())
        .add(
            name,
            projection,
            ProjectionOptions::default().with_batch_size(batch),
        )
        .start()
        .expect("start");
    running.wait_until(name, head).await.expect("caught up");
    let rate = total as f64 / start.elapsed().as_secs_f64();
    running.shutdown().await.expect("shutdown");
    rate
}

/// Prints the three rates and their ratios to the raw read.
pub fn report(batch: usize, raw: f64, read_all: f64, catchup: f64) {
    println!("raw SELECT pages of {batch}             {raw:>10.0} ev/s");
    println!(
        "store read_all, pages of {batch}        {read_all:>10.0} ev/s   ({:.2} of raw)",
        read_all / raw
    );
    println!(
        "projection catch-up, batches of {batch} {catchup:>10.0} ev/s   ({:.2} of raw)",
        catchup / raw
    );
}
