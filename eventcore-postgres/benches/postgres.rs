//! PostgreSQL benchmark against the real server, each append figure beside a raw sqlx baseline
//! that writes the same rows into a table of the same shape, in the same run.
//!
//! Run with `cargo bench -p eventcore-postgres --bench postgres` (`-- --quick` for a short run,
//! `-- --appends-only` for the append figures alone).
//! Uses `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`); each run works in
//! fresh schemas and drops them at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::testing::projections::catchup;
use eventcore::{
    AppendRequest, EventAppender, ExpectedVersion, NewEvent, Repository, SnapshotPolicy, StreamId,
};
use eventcore_postgres::PgEventStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn payload(n: u64) -> String {
    format!(
        r#"{{"order_id":"o-{n}","amount":{},"currency":"USD"}}"#,
        n % 10_000
    )
}

fn new_event(n: u64) -> NewEvent {
    NewEvent::raw(
        "OrderPlaced",
        1,
        serde_json::value::RawValue::from_string(payload(n)).unwrap(),
    )
}

struct Bench {
    pool: PgPool,
    schemas: Vec<String>,
}

impl Bench {
    async fn store(&mut self, tag: &str) -> PgEventStore {
        let schema = format!("ec_bench_{tag}_{}", uuid::Uuid::new_v4().simple());
        self.schemas.push(schema.clone());
        let store = PgEventStore::with_schema(self.pool.clone(), &schema)
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// The same tables, for the raw baseline, plus a plain sequence for positions.
    async fn raw(&mut self) -> String {
        let store = self.store("raw").await;
        let schema = format!("\"{}\"", store.schema());
        sqlx::query(&format!("CREATE SEQUENCE {schema}.raw_positions"))
            .execute(&self.pool)
            .await
            .unwrap();
        schema
    }

    async fn cleanup(&self) {
        for schema in &self.schemas {
            sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                .execute(&self.pool)
                .await
                .unwrap();
        }
    }
}

/// Inserts `count` events of one new stream in one statement, as a raw sqlx user would.
async fn raw_append(pool: &PgPool, schema: &str, stream: &str, first: u64, count: u64) {
    raw_append_at(pool, schema, stream, first, count, 1).await;
}

/// Inserts `count` events of `stream` with versions from `first_version`.
async fn raw_append_at(
    pool: &PgPool,
    schema: &str,
    stream: &str,
    first: u64,
    count: u64,
    first_version: i64,
) {
    let ids: Vec<uuid::Uuid> = (0..count).map(|_| uuid::Uuid::new_v4()).collect();
    let versions: Vec<i64> = (first_version..first_version + count as i64).collect();
    let payloads: Vec<String> = (0..count).map(|i| payload(first + i)).collect();
    sqlx::query(&format!(
        "INSERT INTO {schema}.eventcore_events (global_position, event_id, stream_id,
             stream_version, event_type, schema_version, recorded_at, metadata, payload)
         SELECT nextval('{schema}.raw_positions'), e.id, $1, e.v, 'OrderPlaced', 1, now(), NULL,
                e.pl::JSON
         FROM unnest($2::UUID[], $3::BIGINT[], $4::TEXT[]) AS e(id, v, pl)"
    ))
    .bind(stream)
    .bind(&ids)
    .bind(&versions)
    .bind(&payloads)
    .execute(pool)
    .await
    .unwrap();
}

/// Runs `writers` tasks, each making `per_writer` appends of `batch` events to fresh streams;
/// returns events per second.
async fn ours(store: &PgEventStore, writers: u64, per_writer: u64, batch: u64) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let n = (w * per_writer + i) * batch;
                    let stream = StreamId::new(format!("order-{}", uuid::Uuid::new_v4())).unwrap();
                    let events = (0..batch).map(|k| new_event(n + k)).collect();
                    store
                        .append(AppendRequest::single(
                            stream,
                            ExpectedVersion::NoStream,
                            events,
                        ))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (writers * per_writer * batch) as f64 / start.elapsed().as_secs_f64()
}

async fn raw(pool: &PgPool, schema: &str, writers: u64, per_writer: u64, batch: u64) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let pool = pool.clone();
            let schema = schema.to_owned();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let n = (w * per_writer + i) * batch;
                    let stream = format!("order-{}", uuid::Uuid::new_v4());
                    raw_append(&pool, &schema, &stream, n, batch).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    (writers * per_writer * batch) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn report_paired(name: &str, rounds: &[(f64, f64)]) {
    let ours = median(rounds.iter().map(|r| r.0).collect());
    let raw = median(rounds.iter().map(|r| r.1).collect());
    let ratio = median(rounds.iter().map(|r| r.0 / r.1).collect());
    let (low, high) = rounds
        .iter()
        .map(|r| r.0 / r.1)
        .fold((f64::MAX, 0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    println!(
        "{name:<44} {ours:>10.0} ev/s   raw {raw:>10.0} ev/s   ratio {ratio:.2} (rounds {low:.2}-{high:.2})"
    );
}

async fn seed_counter(store: &PgEventStore, id: &str, events: u64) {
    let stream = <Counter as eventcore::Aggregate>::stream_id(id).unwrap();
    let mut version = 0;
    while version < events {
        let n = (events - version).min(5_000);
        let batch: Vec<NewEvent> = (0..n)
            .map(|i| NewEvent::from_event(&CounterEvent::Added { amount: i % 7 + 1 }).unwrap())
            .collect();
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Exact(version),
                batch,
            ))
            .await
            .unwrap();
        version += n;
    }
}

/// The raw equivalent of a command: read the stream's payloads, insert the next version.
async fn raw_command(pool: &PgPool, schema: &str, stream: &str, n: u64) {
    let payloads = raw_load(pool, schema, stream).await;
    raw_append_at(pool, schema, stream, n, 1, payloads as i64 + 1).await;
}

/// Reads a stream's payloads in version order without decoding them; returns how many.
async fn raw_load(pool: &PgPool, schema: &str, stream: &str) -> usize {
    let rows: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT payload::TEXT FROM {schema}.eventcore_events WHERE stream_id = $1
         ORDER BY stream_version"
    ))
    .bind(stream)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.len()
}

/// Mean load time over `rounds` loads.
async fn load_time(repo: &Repository<Counter>, id: &str, rounds: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(repo.load(id).await.unwrap());
    }
    start.elapsed() / rounds
}

/// `read_all` in pages of 1,000 beside the raw keyset read, paired rounds.
async fn read_all_section(bench: &mut Bench, pool: &PgPool, scale: u64) {
    let store = bench.store("read").await;
    let total = 100_000 / scale;
    for chunk in 0..total / 1000 {
        let stream = StreamId::new(format!("r-{chunk}")).unwrap();
        let events = (0..1000).map(|k| new_event(chunk * 1000 + k)).collect();
        store
            .append(AppendRequest::single(
                stream,
                ExpectedVersion::NoStream,
                events,
            ))
            .await
            .unwrap();
    }
    let table = format!("\"{}\".eventcore_events", store.schema());
    let mut rounds = Vec::new();
    for round in 0..9 {
        if round % 2 == 0 {
            let ours = catchup::read_all_rate(&store, 1000, total).await;
            rounds.push((ours, common::raw_read_all(pool, &table, 1000, total).await));
        } else {
            let raw = common::raw_read_all(pool, &table, 1000, total).await;
            rounds.push((catchup::read_all_rate(&store, 1000, total).await, raw));
        }
    }
    report_paired("read_all, pages of 1,000", &rounds);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 5 } else { 1 };
    let pool = PgPoolOptions::new()
        .max_connections(24)
        .connect(&url())
        .await
        .unwrap();
    let mut bench = Bench {
        pool: pool.clone(),
        schemas: Vec::new(),
    };
    println!("eventcore-postgres benchmark (raw = plain sqlx INSERT of the same rows)");
    let commands_only = std::env::args().any(|a| a == "--commands-only");
    let reads_only = std::env::args().any(|a| a == "--reads-only");
    if reads_only {
        read_all_section(&mut bench, &pool, scale).await;
        bench.cleanup().await;
        return;
    }

    // Appends.
    for (name, writers, per_writer, batch) in [
        ("append 1 event/append, 1 writer", 1, 1000 / scale, 1),
        ("append 1 event/append, 16 writers", 16, 1000 / scale, 1),
        ("append 100 events/append, 1 writer", 1, 300 / scale, 100),
        (
            "append 100 events/append, 16 writers",
            16,
            40 / scale.min(4),
            100,
        ),
    ] {
        if commands_only {
            break;
        }
        let store = bench.store("ours").await;
        let schema = bench.raw().await;
        // Paired rounds: ours and raw back to back, so drift on the machine hits both; the
        // figures are medians over the rounds, the ratio the median of the paired ratios.
        let mut rounds = Vec::new();
        for round in 0..7 {
            // Alternate which side goes first, so neither always meets a freshly checkpointed
            // or freshly vacuumed server.
            let (a, b) = if round % 2 == 0 {
                let a = ours(&store, writers, per_writer, batch).await;
                (a, raw(&pool, &schema, writers, per_writer, batch).await)
            } else {
                let b = raw(&pool, &schema, writers, per_writer, batch).await;
                (ours(&store, writers, per_writer, batch).await, b)
            };
            rounds.push((a, b));
        }
        report_paired(name, &rounds);
    }

    if std::env::args().any(|a| a == "--appends-only") {
        bench.cleanup().await;
        return;
    }

    // Repository command execution.
    let store = bench.store("repo").await;
    let repo = Repository::<Counter>::new(store.clone());
    let commands = 1000 / scale;
    let start = Instant::now();
    for i in 0..commands {
        repo.execute(CounterCommand::add(format!("new-{i}"), 1))
            .await
            .unwrap();
    }
    let new_rate = commands as f64 / start.elapsed().as_secs_f64();
    for i in 0..50 {
        seed_counter(&store, &format!("old-{i}"), 20).await;
    }
    let start = Instant::now();
    for i in 0..commands {
        repo.execute(CounterCommand::add(format!("old-{}", i % 50), 1))
            .await
            .unwrap();
    }
    let existing_rate = commands as f64 / start.elapsed().as_secs_f64();
    let raw_schema = bench.raw().await;
    let start = Instant::now();
    for i in 0..commands {
        raw_command(&pool, &raw_schema, &format!("counter-new-{i}"), i).await;
    }
    let raw_new = commands as f64 / start.elapsed().as_secs_f64();
    for i in 0..50 {
        raw_append(&pool, &raw_schema, &format!("counter-old-{i}"), 0, 20).await;
    }
    let start = Instant::now();
    for i in 0..commands {
        raw_command(&pool, &raw_schema, &format!("counter-old-{}", i % 50), i).await;
    }
    let raw_existing = commands as f64 / start.elapsed().as_secs_f64();
    let per_command = |name: &str, ours: f64, raw: f64| {
        println!(
            "{name:<44} {ours:>10.0} cmd/s  raw {raw:>10.0} cmd/s  ratio {:.2}",
            ours / raw
        );
    };
    per_command("repository execute, new aggregate", new_rate, raw_new);
    per_command(
        "repository execute, existing (20+ events)",
        existing_rate,
        raw_existing,
    );

    read_all_section(&mut bench, &pool, scale).await;
    if reads_only {
        bench.cleanup().await;
        return;
    }

    // Aggregate load times, with and without a snapshot.
    let store = bench.store("load").await;
    let plain = Repository::<Counter>::new(store.clone());
    let snapshots = Arc::new(store.snapshots());
    let snapshotting = Repository::<Counter>::new(store.clone())
        .with_snapshots(snapshots.clone(), SnapshotPolicy::EveryNEvents(1000));
    let mut rows = Vec::new();
    for size in [10u64, 1_000, 10_000] {
        let id = format!("load-{size}");
        seed_counter(&store, &id, size).await;
        let without = load_time(&plain, &id, 20).await;
        // Write the snapshot the repository would have written, at the last event.
        let state = plain.load(&id).await.unwrap();
        eventcore::SnapshotStore::save_snapshot(
            &*snapshots,
            eventcore::Snapshot {
                stream: state.stream.clone(),
                version: state.version,
                schema_version: <Counter as eventcore::Aggregate>::SNAPSHOT_VERSION,
                state: serde_json::value::to_raw_value(&state.state).unwrap(),
            },
        )
        .await
        .unwrap();
        let with = load_time(&snapshotting, &id, 20).await;
        let schema = format!("\"{}\"", store.schema());
        let stream = format!("counter-{id}");
        let start = Instant::now();
        for _ in 0..20 {
            assert_eq!(raw_load(&pool, &schema, &stream).await as u64, size);
        }
        let raw = start.elapsed() / 20;
        rows.push((size, without, with, raw));
    }
    let base = rows[0].1;
    for (size, without, with, raw) in &rows {
        println!(
            "load {size:>6}-event aggregate: {:>8.2} ms without snapshot, {:>6.2} ms with \
             ({:.2}x the 10-event load); raw SELECT of its rows {:>8.2} ms",
            without.as_secs_f64() * 1000.0,
            with.as_secs_f64() * 1000.0,
            with.as_secs_f64() / base.as_secs_f64(),
            raw.as_secs_f64() * 1000.0
        );
    }
    bench.cleanup().await;
}
