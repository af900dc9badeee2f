//! A writer storm against live readers, sized from the environment, with transactions that
//! append no events held open throughout ([`Unrelated`]).
//!
//! Defaults (CI): 32 writers paced to a few thousand events per second for 30 s. The
//! acceptance run: `EC_STRESS_EVENTS=1000000 EC_STRESS_PACE_MS=0 EC_STRESS_MAX_BATCH=32`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventcore::testing::Rng;
use eventcore::{
    AbortReason, AppendRequest, EventId, EventReader, EventReaderExt, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StreamId, SubscriptionOptions,
};
use eventcore_postgres::PgEventStore;
use futures::StreamExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, PgConnection};

mod unrelated;

pub use unrelated::Unrelated;

/// The run's size.
#[derive(Clone)]
pub struct Config {
    pub writers: u64,
    /// Committed events to reach at least.
    pub events: u64,
    /// Writers go on for at least this long.
    pub hold: Duration,
    /// Events per append: 1 to this.
    pub max_batch: u64,
    /// Writers pause up to this long between transactions.
    pub pace: Duration,
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl Config {
    pub fn from_env() -> Self {
        Self {
            writers: env("EC_STRESS_WRITERS", 32),
            events: env("EC_STRESS_EVENTS", 20_000),
            hold: Duration::from_secs(env("EC_STRESS_HOLD_SECS", 30)),
            max_batch: env("EC_STRESS_MAX_BATCH", 4).max(1),
            pace: Duration::from_millis(env("EC_STRESS_PACE_MS", 40)),
        }
    }
}

/// What the writers did.
#[derive(Default)]
struct Written {
    committed: HashMap<EventId, Instant>,
    rolled_back: HashSet<EventId>,
    retried: u64,
    overtaken: u64,
}

/// One reader's outcome.
pub struct ReaderReport {
    pub name: &'static str,
    pub lag_p50: Duration,
    pub lag_p99: Duration,
    pub lag_max: Duration,
    pub missing: usize,
    pub extra: usize,
}

/// The run's outcome; the order checks (strictly increasing positions, contiguous versions,
/// nothing twice) are asserted while reading.
pub struct Report {
    pub committed: usize,
    pub rolled_back: usize,
    pub retried: u64,
    pub overtaken: u64,
    pub elapsed: Duration,
    pub readers: Vec<ReaderReport>,
    /// Times `read_bound` named one of the unrelated transactions as the holder.
    pub blamed_unrelated: u64,
    /// `read_bound` samples, and those that named a holder.
    pub bound_samples: u64,
    pub bound_held: u64,
}

impl Report {
    pub fn print(&self) {
        println!(
            "stress: {} committed, {} rolled back in {:.1} s ({:.0} ev/s); {} appends retried \
             ({} overtaken); read_bound held in {}/{} samples, unrelated blamed {}",
            self.committed,
            self.rolled_back,
            self.elapsed.as_secs_f64(),
            self.committed as f64 / self.elapsed.as_secs_f64(),
            self.retried,
            self.overtaken,
            self.bound_held,
            self.bound_samples,
            self.blamed_unrelated
        );
        for r in &self.readers {
            println!(
                "  {:<10} lag p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  missing {} extra {}",
                r.name,
                r.lag_p50.as_secs_f64() * 1e3,
                r.lag_p99.as_secs_f64() * 1e3,
                r.lag_max.as_secs_f64() * 1e3,
                r.missing,
                r.extra
            );
        }
    }

    pub fn assert_no_reader_skipped_duplicated_or_reordered(&self) {
        assert!(
            self.rolled_back > 0,
            "the run rolled some transactions back"
        );
        for r in &self.readers {
            assert_eq!(r.missing, 0, "{} skipped committed events", r.name);
            assert_eq!(r.extra, 0, "{} delivered rolled-back events", r.name);
        }
    }
}

async fn writer(
    store: PgEventStore,
    prefix: String,
    seed: u64,
    config: Arc<Config>,
    stop: Arc<AtomicBool>,
    total: Arc<AtomicU64>,
) -> Written {
    let mut rng = Rng::new(seed);
    let mut out = Written::default();
    while !stop.load(Ordering::Relaxed) {
        let mut tx = store.begin().await.expect("begin");
        if rng.below(3) == 0 {
            // An id before any event: readers pass it; its append must not land behind them.
            sqlx::query("SELECT pg_current_xact_id()")
                .execute(tx.connection())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(rng.below(10))).await;
        }
        let stream = StreamId::new(format!("{prefix}-{}", rng.below(64))).unwrap();
        let events: Vec<NewEvent> = (0..1 + rng.below(config.max_batch))
            .map(|i| NewEvent::raw("Stressed", 1, serde_json::value::to_raw_value(&i).unwrap()))
            .collect();
        let ids: Vec<EventId> = events.iter().map(|e| e.event_id).collect();
        match tx
            .append(AppendRequest::single(stream, ExpectedVersion::Any, events))
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => {
                out.retried += 1;
                continue;
            }
            Err(StoreError::TransactionAborted {
                reason: AbortReason::Overtaken,
            }) => {
                out.retried += 1;
                out.overtaken += 1;
                continue;
            }
            // Two transactions that both wrote before appending take turns, and may deadlock
            // with each other on a stream lock: the server fails one, which starts over.
            Err(StoreError::TransactionAborted {
                reason: AbortReason::Deadlock,
            }) => {
                out.retried += 1;
                continue;
            }
            Err(other) => panic!("unexpected append error: {other}"),
        }
        if rng.below(10) == 0 {
            // A slow writer: readers must wait for it (briefly), never skip it.
            tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
        }
        if rng.below(4) == 0 {
            tx.rollback().await.unwrap();
            out.rolled_back.extend(ids);
        } else {
            tx.commit().await.expect("commit");
            let now = Instant::now();
            total.fetch_add(ids.len() as u64, Ordering::Relaxed);
            out.committed.extend(ids.into_iter().map(|id| (id, now)));
        }
        if !config.pace.is_zero() {
            let pause = rng.below(config.pace.as_millis() as u64);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
    out
}

/// One reader's view, checked as it goes: strictly increasing positions, per-stream
/// contiguous versions, nothing twice.
struct View {
    name: &'static str,
    prefix: String,
    last_position: u64,
    versions: HashMap<StreamId, u64>,
    received: HashMap<EventId, Instant>,
}

impl View {
    fn new(name: &'static str, prefix: &str) -> Self {
        Self {
            name,
            prefix: prefix.to_owned(),
            last_position: 0,
            versions: HashMap::new(),
            received: HashMap::new(),
        }
    }

    fn observe(&mut self, event: &RecordedEvent) {
        let name = self.name;
        assert!(
            event.global_position > self.last_position,
            "{name}: position {} after {}",
            event.global_position,
            self.last_position
        );
        self.last_position = event.global_position;
        if !event.stream_id.as_str().starts_with(&self.prefix) {
            return;
        }
        let first = self.received.insert(event.event_id, Instant::now());
        assert!(first.is_none(), "{name}: {} seen twice", event.event_id);
        let previous = self
            .versions
            .insert(event.stream_id.clone(), event.stream_version);
        assert_eq!(
            event.stream_version,
            previous.unwrap_or(0) + 1,
            "{name}: stream {} out of version order",
            event.stream_id
        );
    }

    fn report(self, written: &Written) -> ReaderReport {
        let mut lags: Vec<Duration> = written
            .committed
            .iter()
            .filter_map(|(id, at)| {
                self.received
                    .get(id)
                    .map(|r| r.saturating_duration_since(*at))
            })
            .collect();
        lags.sort();
        let pick = |q: f64| {
            lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1)))
                .copied()
                .unwrap_or_default()
        };
        ReaderReport {
            name: self.name,
            lag_p50: pick(0.5),
            lag_p99: pick(0.99),
            lag_max: lags.last().copied().unwrap_or_default(),
            missing: written
                .committed
                .keys()
                .filter(|id| !self.received.contains_key(id))
                .count(),
            extra: self
                .received
                .keys()
                .filter(|id| written.rolled_back.contains(id))
                .count(),
        }
    }
}

/// Whether a reader is done: the writers stopped and it saw as many events as they committed.
type Done = tokio::sync::watch::Receiver<Option<usize>>;

fn finished(view: &View, done: &Done) -> bool {
    matches!(*done.borrow(), Some(n) if view.received.len() >= n)
}

async fn subscriber(store: PgEventStore, start: u64, mut view: View, done: Done) -> View {
    let options = SubscriptionOptions {
        batch_size: 500,
        fallback_poll: Duration::from_millis(100),
    };
    let mut live = store.subscribe_with(start, options);
    while !finished(&view, &done) {
        if let Ok(next) = tokio::time::timeout(Duration::from_millis(200), live.next()).await {
            view.observe(&next.expect("subscription open").expect("healthy"));
        }
    }
    view
}

async fn poller(store: PgEventStore, start: u64, page: usize, mut view: View, done: Done) -> View {
    let mut next = start;
    while !finished(&view, &done) {
        let events = store.read_all(next, page).await.expect("read_all");
        for event in &events {
            view.observe(event);
            next = event.global_position + 1;
        }
        if events.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    view
}

/// A second handle on the same schema through a pool of its own: woken by NOTIFY only.
async fn other_handle(store: &PgEventStore) -> PgEventStore {
    PgEventStore::with_schema(crate::common::pool(4).await, store.schema())
        .await
        .expect("second handle")
}

/// Samples `read_bound` until `stop`: how often it named a holder, and one of `unrelated`.
async fn sample_bound(store: PgEventStore, unrelated: Vec<i32>, stop: Arc<AtomicBool>) -> [u64; 3] {
    let mut counts = [0; 3];
    while !stop.load(Ordering::Relaxed) {
        let bound = store.read_bound().await.expect("read_bound");
        counts[0] += 1;
        if let Some(holder) = bound.held_by {
            counts[1] += 1;
            if holder.pid.is_some_and(|pid| unrelated.contains(&pid)) {
                counts[2] += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    counts
}

/// Runs the storm against three live readers; panics on any order violation.
pub async fn run(store: &PgEventStore, config: &Config, unrelated: Option<&Unrelated>) -> Report {
    let config = Arc::new(config.clone());
    let prefix = format!("stress-{}", uuid::Uuid::new_v4().simple());
    let start = store.head_position().await.unwrap() + 1;
    let (done_tx, done) = tokio::sync::watch::channel(None);
    let page = if config.events > 100_000 { 500 } else { 7 };
    let readers = vec![
        tokio::spawn(subscriber(
            store.clone(),
            start,
            View::new("subscriber", &prefix),
            done.clone(),
        )),
        tokio::spawn(subscriber(
            other_handle(store).await,
            start,
            View::new("notified", &prefix),
            done.clone(),
        )),
        tokio::spawn(poller(
            store.clone(),
            start,
            page,
            View::new("poller", &prefix),
            done.clone(),
        )),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let pids = unrelated.map(Unrelated::pids).unwrap_or_default();
    let sampler = tokio::spawn(sample_bound(store.clone(), pids, stop.clone()));
    let began = Instant::now();
    let writers: Vec<_> = (0..config.writers)
        .map(|w| {
            let seed = 0x9E37_79B9 * (w + 1);
            tokio::spawn(writer(
                store.clone(),
                prefix.clone(),
                seed,
                config.clone(),
                stop.clone(),
                total.clone(),
            ))
        })
        .collect();
    while total.load(Ordering::Relaxed) < config.events || began.elapsed() < config.hold {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut written = Written::default();
    for w in writers {
        let out = w.await.expect("writer");
        written.committed.extend(out.committed);
        written.rolled_back.extend(out.rolled_back);
        written.retried += out.retried;
        written.overtaken += out.overtaken;
    }
    let elapsed = began.elapsed();
    let [bound_samples, bound_held, blamed_unrelated] = sampler.await.expect("sampler");
    done_tx.send(Some(written.committed.len())).unwrap();
    let mut reports = Vec::new();
    for reader in readers {
        let view = tokio::time::timeout(Duration::from_secs(120), reader)
            .await
            .expect("reader caught up")
            .expect("reader");
        reports.push(view.report(&written));
    }
    Report {
        committed: written.committed.len(),
        rolled_back: written.rolled_back.len(),
        retried: written.retried,
        overtaken: written.overtaken,
        elapsed,
        readers: reports,
        blamed_unrelated,
        bound_samples,
        bound_held,
    }
}

/// A connection to database `name` on the test server.
async fn connect_to(name: &str) -> PgConnection {
    let options: PgConnectOptions = crate::common::database_url().parse().expect("url");
    options.database(name).connect().await.expect("connect")
}
