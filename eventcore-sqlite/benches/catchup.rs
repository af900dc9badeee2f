//! Projection catch-up on SQLite: a simple SQL projection (events counted per stream, one
//! upsert statement per batch) replays a 1,000,000-event log in a WAL file database, beside
//! the raw read rate of the same log in the same run (plain keyset `SELECT` pages) and the
//! store's own `read_all`.
//!
//! Run with `cargo bench -p eventcore-sqlite --bench catchup` (`-- --quick` for 100,000
//! events). The database goes in the system temp directory and is removed at the end.

use std::collections::HashMap;
use std::time::Instant;

use async_trait::async_trait;
use eventcore::projection::Projection;
use eventcore::testing::projections::catchup;
use eventcore::{BoxError, RecordedEvent};
use eventcore_sqlite::{SqliteEventStore, SqliteTransaction};

const BATCH: usize = 2000;

/// A row of the raw read: position, id, stream, version, type, schema version, payload.
type RawRow = (i64, Vec<u8>, String, i64, String, i64, String);

/// Counts events per stream: one `INSERT ... ON CONFLICT` of the batch's per-stream totals,
/// passed as one JSON array.
struct PerStream;

#[async_trait]
impl Projection<SqliteTransaction> for PerStream {
    async fn apply(
        &mut self,
        tx: &mut SqliteTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), BoxError> {
        let mut totals: HashMap<&str, (u64, u64)> = HashMap::new();
        for event in events {
            let entry = totals.entry(event.stream_id.as_str()).or_default();
            entry.0 += 1;
            entry.1 = event.global_position;
        }
        let rows: Vec<(&str, u64, u64)> = totals.into_iter().map(|(s, (n, l))| (s, n, l)).collect();
        sqlx::query(
            "INSERT INTO per_stream (stream, n, last)
             SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1) WHERE true
             ON CONFLICT (stream) DO UPDATE SET n = n + excluded.n, last = excluded.last",
        )
        .bind(serde_json::to_string(&rows)?)
        .execute(tx.connection())
        .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total: u64 = if quick { 100_000 } else { 1_000_000 };
    let dir = std::env::temp_dir().join(format!("eventcore-sqlite-catchup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = SqliteEventStore::open(dir.join("log.db")).await.unwrap();
    println!("eventcore-sqlite projection catch-up over {total} events (WAL file)");

    let seeding = catchup::seed(&store, total).await;
    println!("seeded in {:.1} s", seeding.as_secs_f64());

    // One untimed pass first, so every timed pass meets a warm cache.
    catchup::read_all_rate(&store, BATCH, total).await;

    // Raw: keyset pages of the same rows with plain SQL, on the store's read pool.
    let pool = store.reader_pool().clone();
    let start = Instant::now();
    let (mut next, mut read) = (0i64, 0u64);
    loop {
        let rows: Vec<RawRow> = sqlx::query_as(
            "SELECT position, event_id, stream_id, stream_version, event_type, schema_version,
                    payload
             FROM eventcore_events WHERE position > ?1 ORDER BY position LIMIT ?2",
        )
        .bind(next)
        .bind(BATCH as i64)
        .fetch_all(&pool)
        .await
        .unwrap();
        let Some(last) = rows.last() else { break };
        next = last.0;
        read += rows.len() as u64;
    }
    assert_eq!(read, total);
    let raw = total as f64 / start.elapsed().as_secs_f64();

    let read_all = catchup::read_all_rate(&store, BATCH, total).await;

    // The projection, from an empty checkpoint to the head.
    let mut tx = store.begin().await.unwrap();
    sqlx::query("CREATE TABLE per_stream (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, last INTEGER NOT NULL)")
        .execute(tx.connection())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let catchup = catchup::catchup_rate(&store, "per_stream", PerStream, BATCH, total).await;
    let counted: i64 = sqlx::query_scalar("SELECT SUM(n) FROM per_stream")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counted as u64, total, "the model counts every event once");

    catchup::report(BATCH, raw, read_all, catchup);
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}
