//! The everyday command path on PostgreSQL, beside a raw sqlx baseline in the same run:
//!
//! - W1: every command on a new aggregate, 1 and 16 tasks: `Repository::execute` (idempotency
//!   probe + stream read, then the append) against a raw `SELECT` of the stream's payloads
//!   then an `INSERT` of the next version, on the same pool. Paired rounds, alternating order;
//!   client CPU per command from `/proc/self/stat`.
//! - W2: 16 tasks on one aggregate: ok commands per second, p99 latency, errors surfaced to
//!   callers, and the stream checked contiguous.
//!
//! `cargo bench -p eventcore-postgres --bench commands` (PostgreSQL at `DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`); `-- --quick` for a short run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventcore::testing::counter::{Counter, CounterCommand};
use eventcore::{EventReader, Repository};
use eventcore_postgres::PgEventStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// This process's user + system CPU time (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse().ok())
        .collect();
    Duration::from_millis(fields.iter().sum::<u64>() * 10)
}

async fn fresh_store(pool: &PgPool, schemas: &mut Vec<String>) -> PgEventStore {
    let schema = format!("ec_bench_cmd_{}", uuid::Uuid::new_v4().simple());
    schemas.push(schema.clone());
    // A writer-only process may turn NOTIFY off; `EC_BENCH_NOTIFY=0` measures that.
    let notify = std::env::var("EC_BENCH_NOTIFY").map_or(true, |v| v != "0");
    let store = PgEventStore::builder(pool.clone())
        .schema(schema.as_str())
        .notifications(notify)
        .build()
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// What a raw sqlx user would write for a command: read the stream's payloads, decode them,
/// insert the next version (the unique index on the stream version is the only check).
async fn raw_command(pool: &PgPool, table: &str, stream: &str) {
    let payloads: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT payload::TEXT FROM {table} WHERE stream_id = $1 ORDER BY stream_version"
    ))
    .bind(stream)
    .fetch_all(pool)
    .await
    .unwrap();
    for payload in &payloads {
        std::hint::black_box(serde_json::from_str::<serde_json::Value>(payload).unwrap());
    }
    sqlx::query(&format!(
        "INSERT INTO {table} (global_position, event_id, stream_id, stream_version, event_type,
             schema_version, recorded_at, metadata, payload)
         VALUES (nextval('{table}_raw'), $1, $2, $3, 'Added', 2, now(), NULL, $4::JSON)"
    ))
    .bind(uuid::Uuid::new_v4())
    .bind(stream)
    .bind(payloads.len() as i64 + 1)
    .bind(r#"{"amount":1}"#)
    .execute(pool)
    .await
    .unwrap();
}

/// W1: `tasks` tasks, each executing `per_task` commands on new aggregates; (cmd/s, CPU/cmd).
async fn ours_new(repo: &Repository<Counter>, tasks: usize, per_task: usize) -> (f64, Duration) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (start, cpu) = (Instant::now(), cpu_time());
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (repo, run) = (repo.clone(), run.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    repo.execute(CounterCommand::add(format!("{run}-{t}-{i}"), 1))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let n = (tasks * per_task) as f64;
    (
        n / start.elapsed().as_secs_f64(),
        (cpu_time() - cpu).div_f64(n),
    )
}

async fn raw_new(pool: &PgPool, table: &str, tasks: usize, per_task: usize) -> (f64, Duration) {
    let run = uuid::Uuid::new_v4().simple().to_string();
    let (start, cpu) = (Instant::now(), cpu_time());
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (pool, table, run) = (pool.clone(), table.to_owned(), run.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    raw_command(&pool, &table, &format!("counter-{run}-{t}-{i}")).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let n = (tasks * per_task) as f64;
    (
        n / start.elapsed().as_secs_f64(),
        (cpu_time() - cpu).div_f64(n),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// W2: `tasks` tasks sending `per_task` commands each to one aggregate.
async fn hot(repo: &Repository<Counter>, tasks: usize, per_task: usize) {
    let id = format!("hot-{}", uuid::Uuid::new_v4().simple());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let errors = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (repo, id) = (repo.clone(), id.clone());
            let (latencies, errors) = (latencies.clone(), errors.clone());
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let sent = Instant::now();
                    if repo.execute(CounterCommand::add(&id, 1)).await.is_err() {
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    latencies.lock().unwrap().push(sent.elapsed());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let elapsed = start.elapsed();
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let errors = errors.load(std::sync::atomic::Ordering::Relaxed);
    let ok = tasks * per_task - errors;
    let loaded = repo.load(&id).await.unwrap();
    let stream = repo
        .store()
        .read_stream(&loaded.stream, 1, usize::MAX)
        .await
        .unwrap();
    let contiguous = stream
        .iter()
        .zip(1u64..)
        .all(|(event, version)| event.stream_version == version);
    println!(
        "W2 {tasks} tasks on one aggregate: {:>8.0} ok cmd/s, p99 {:>6.1} ms, {errors} errors, \
         stream of {} events contiguous: {contiguous}",
        ok as f64 / elapsed.as_secs_f64(),
        p99.as_secs_f64() * 1000.0,
        loaded.version
    );
}

/// The raw side of W3: the stream's payloads, decoded into the event's own struct.
async fn raw_load(pool: &PgPool, table: &str, stream: &str) -> usize {
    #[derive(serde::Deserialize)]
    struct Added {
        amount: u64,
    }
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT event_type, payload::TEXT FROM {table} WHERE stream_id = $1
         ORDER BY stream_version"
    ))
    .bind(stream)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut total = 0;
    for (_, payload) in &rows {
        total += serde_json::from_str::<Added>(payload).unwrap().amount;
    }
    std::hint::black_box(total);
    rows.len()
}

/// W3: load an aggregate of `size` events and run one command on it, no snapshot, against the
/// raw SELECT of its payloads plus their decoding, in alternating order; medians of `rounds`.
async fn long_stream(pool: &PgPool, store: &PgEventStore, size: u64, rounds: usize) {
    let id = format!("long-{}", uuid::Uuid::new_v4().simple());
    let stream = <Counter as eventcore::Aggregate>::stream_id(&id).unwrap();
    let mut version = 0;
    while version < size {
        let n = (size - version).min(5_000);
        let batch = (0..n)
            .map(|i| {
                let added = eventcore::testing::counter::CounterEvent::Added { amount: i % 7 + 1 };
                eventcore::NewEvent::from_event(&added).unwrap()
            })
            .collect();
        eventcore::EventAppender::append(
            store,
            eventcore::AppendRequest::single(
                stream.clone(),
                eventcore::ExpectedVersion::Exact(version),
                batch,
            ),
        )
        .await
        .unwrap();
        version += n;
    }
    let table = format!("\"{}\".eventcore_events", store.schema());
    let (mut ours, mut raw) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // A fresh repository each time: nothing cached, the whole stream is read.
        let repo = Repository::<Counter>::new(store.clone());
        let ours_first = round % 2 == 0; // alternating, so drift hits both sides alike
        if !ours_first {
            let start = Instant::now();
            assert!(raw_load(pool, &table, stream.as_str()).await as u64 >= size);
            raw.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        let start = Instant::now();
        repo.execute(CounterCommand::add(&id, 1)).await.unwrap();
        ours.push(start.elapsed().as_secs_f64() * 1000.0);
        if ours_first {
            let start = Instant::now();
            assert!(raw_load(pool, &table, stream.as_str()).await as u64 >= size);
            raw.push(start.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let (ours, raw) = (median(ours), median(raw));
    println!(
        "W3 load {size} events + 1 command: {ours:>7.2} ms  raw SELECT + decode {raw:>7.2} ms  \
         ratio {:.2}",
        ours / raw
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 4 } else { 1 };
    // No ping per acquire, for both sides (`EC_BENCH_PING=1` puts it back): the repository
    // retries a command once on a broken connection instead.
    let ping = std::env::var("EC_BENCH_PING").is_ok_and(|v| v == "1");
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .test_before_acquire(ping)
        .connect(&url())
        .await
        .unwrap();
    let mut schemas = Vec::new();
    let store = fresh_store(&pool, &mut schemas).await;
    let repo = Repository::<Counter>::new(store.clone());
    let raw_store = fresh_store(&pool, &mut schemas).await;
    let table = format!("\"{}\".eventcore_events", raw_store.schema());
    sqlx::query(&format!("CREATE SEQUENCE {table}_raw"))
        .execute(&pool)
        .await
        .unwrap();
    println!("eventcore-postgres command path (raw = SELECT payloads + decode, then INSERT)");
    // `-- --only W1|W2|W3` runs one workload.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let runs = |w: &str| only.as_deref().is_none_or(|o| o == w);
    for tasks in [1, 16] {
        if !runs("W1") {
            break;
        }
        let per_task = if tasks == 1 { 600 } else { 300 } / scale;
        let mut rounds = Vec::new();
        for round in 0..5 {
            let (ours, raw) = if round % 2 == 0 {
                let ours = ours_new(&repo, tasks, per_task).await;
                (ours, raw_new(&pool, &table, tasks, per_task).await)
            } else {
                let raw = raw_new(&pool, &table, tasks, per_task).await;
                (ours_new(&repo, tasks, per_task).await, raw)
            };
            rounds.push((ours, raw));
        }
        let rate = median(rounds.iter().map(|r| r.0.0).collect());
        let raw_rate = median(rounds.iter().map(|r| r.1.0).collect());
        let ratio = median(rounds.iter().map(|r| r.0.0 / r.1.0).collect());
        let cpu = median(rounds.iter().map(|r| r.0.1.as_secs_f64() * 1e6).collect());
        let raw_cpu = median(rounds.iter().map(|r| r.1.1.as_secs_f64() * 1e6).collect());
        println!(
            "W1 new aggregate, {tasks:>2} tasks: {rate:>8.0} cmd/s  raw {raw_rate:>8.0} cmd/s  \
             ratio {ratio:.2}  client CPU {cpu:.0} µs/cmd (raw {raw_cpu:.0})"
        );
    }
    if runs("W2") {
        hot(&repo, 16, 200 / scale).await;
    }
    for size in [1_000, 10_000] {
        if runs("W3") {
            long_stream(&pool, &store, size, 31).await;
        }
    }
    for schema in schemas {
        sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
            .execute(&pool)
            .await
            .unwrap();
    }
}
