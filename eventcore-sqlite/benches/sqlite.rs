//! SQLite append and read benchmark, each figure beside a raw sqlx baseline that writes or
//! reads the same rows, with the same pragmas, in the same run.
//!
//! Run with `cargo bench -p eventcore-sqlite --bench sqlite` (`-- --quick` for a short run).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use eventcore::testing::projections::catchup;
use eventcore::{AppendRequest, EventAppender, ExpectedVersion, NewEvent, StreamId};
use eventcore_sqlite::{
    SqliteConnectOptions, SqliteEventStore, SqliteJournalMode, SqliteSynchronous,
};
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;

fn bench_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("eventcore-sqlite-bench-{}", std::process::id()))
}

fn db_path(tag: &str) -> std::path::PathBuf {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{tag}-{}.db", uuid::Uuid::new_v4()))
}

fn options(path: &std::path::Path, sync: SqliteSynchronous) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(sync)
}

async fn ours(sync: SqliteSynchronous) -> SqliteEventStore {
    let store = SqliteEventStore::connect_with(options(&db_path("ours"), sync))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

/// A raw pool on a database with the same schema (created by the store's migrations).
async fn raw(sync: SqliteSynchronous) -> SqlitePool {
    let path = db_path("raw");
    let store = SqliteEventStore::connect_with(options(&path, sync))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    drop(store);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options(&path, sync))
        .await
        .unwrap()
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

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

async fn raw_insert(pool: &SqlitePool, stream: &str, first: u64, count: u64) {
    let mut sql = String::from(
        "INSERT INTO eventcore_events (event_id, stream_id, stream_version, event_type, \
         schema_version, recorded_at, metadata, payload) VALUES ",
    );
    for i in 0..count {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str("(?, ?, ?, ?, ?, ?, ?, ?)");
    }
    let ids: Vec<uuid::Uuid> = (0..count).map(|_| uuid::Uuid::new_v4()).collect();
    let payloads: Vec<String> = (0..count).map(|i| payload(first + i)).collect();
    let mut query = sqlx::query(&sql);
    for i in 0..count as usize {
        query = query
            .bind(ids[i].as_bytes().as_slice())
            .bind(stream)
            .bind(i as i64 + 1)
            .bind("OrderPlaced")
            .bind(1i64)
            .bind(now_micros())
            .bind(None::<String>)
            .bind(payloads[i].as_str());
    }
    query.execute(pool).await.unwrap();
}

struct Pair {
    ours: f64,
    raw: f64,
}

/// Alternates ours and raw for `rounds`, so drift on the machine hits both alike.
async fn append_pair(sync: SqliteSynchronous, appends: u64, batch: u64, rounds: usize) -> Pair {
    let store = ours(sync).await;
    let pool = raw(sync).await;
    let (mut ours_best, mut raw_best) = (0f64, 0f64);
    for round in 0..rounds {
        let start = Instant::now();
        for i in 0..appends {
            let n = (round as u64 * appends + i) * batch;
            let stream = StreamId::new(format!("order-{n}")).unwrap();
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
        ours_best = ours_best.max((appends * batch) as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        for i in 0..appends {
            let n = (round as u64 * appends + i) * batch;
            raw_insert(&pool, &format!("order-{n}"), n, batch).await;
        }
        raw_best = raw_best.max((appends * batch) as f64 / start.elapsed().as_secs_f64());
    }
    Pair {
        ours: ours_best,
        raw: raw_best,
    }
}

async fn read_pair(events: u64) -> Pair {
    let store = ours(SqliteSynchronous::Normal).await;
    for chunk in 0..events / 1000 {
        let stream = StreamId::new(format!("r-{chunk}")).unwrap();
        let batch = (0..1000).map(|k| new_event(chunk * 1000 + k)).collect();
        store
            .append(AppendRequest::single(stream, ExpectedVersion::Any, batch))
            .await
            .unwrap();
    }
    let (mut ours_best, mut raw_best) = (0f64, 0f64);
    for _ in 0..3 {
        ours_best = ours_best.max(catchup::read_all_rate(&store, 1000, events).await);
        let start = Instant::now();
        let (mut from, mut seen) = (1i64, 0u64);
        loop {
            type RawRow = (
                i64,
                Vec<u8>,
                String,
                i64,
                String,
                i64,
                i64,
                Option<String>,
                String,
            );
            let rows: Vec<RawRow> = sqlx::query_as(
                "SELECT position, event_id, stream_id, stream_version, event_type, schema_version, \
                 recorded_at, metadata, payload FROM eventcore_events WHERE position >= ?1 \
                 ORDER BY position LIMIT 1000",
            )
            .bind(from)
            .fetch_all(store.reader_pool())
            .await
            .unwrap();
            let Some(last) = rows.last() else { break };
            from = last.0 + 1;
            seen += rows.len() as u64;
        }
        assert_eq!(seen, events);
        raw_best = raw_best.max(events as f64 / start.elapsed().as_secs_f64());
    }
    Pair {
        ours: ours_best,
        raw: raw_best,
    }
}

fn report(name: &str, pair: &Pair) {
    println!(
        "{name:<44} {:>10.0} ev/s   raw {:>10.0} ev/s   ratio {:.2}",
        pair.ours,
        pair.raw,
        pair.ours / pair.raw
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 5 } else { 1 };
    println!("eventcore-sqlite benchmark (best of rounds; WAL; raw = plain sqlx INSERT/SELECT)");
    for (label, sync) in [
        ("FULL", SqliteSynchronous::Full),
        ("NORMAL", SqliteSynchronous::Normal),
    ] {
        let single = append_pair(sync, 2000 / scale, 1, 3).await;
        report(
            &format!("append 1 event/append, synchronous={label}"),
            &single,
        );
        let batch = append_pair(sync, 200 / scale, 100, 3).await;
        report(
            &format!("append 100 events/append, synchronous={label}"),
            &batch,
        );
    }
    let read = read_pair(200_000 / scale).await;
    report("read_all in pages of 1,000", &read);
    let _ = std::fs::remove_dir_all(bench_dir());
}
