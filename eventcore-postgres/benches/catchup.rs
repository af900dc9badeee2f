//! Projection catch-up on PostgreSQL: a simple SQL projection (events counted per stream, one
//! upsert statement per batch) replays a 1,000,000-event log, beside the raw read rate of the
//! same log in the same run (plain keyset `SELECT` pages) and the store's own `read_all`.
//!
//! Run with `cargo bench -p eventcore-postgres --bench catchup` (`-- --quick` for 100,000
//! events). Uses `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and drops
//! its schema at the end.

mod common;

use std::collections::HashMap;

use async_trait::async_trait;
use eventcore::projection::Projection;
use eventcore::testing::projections::catchup;
use eventcore::{BoxError, RecordedEvent};
use eventcore_postgres::{PgEventStore, PgTransaction};
use sqlx::postgres::PgPoolOptions;

const BATCH: usize = 2000;

/// Counts events per stream: one `INSERT ... ON CONFLICT` of the batch's per-stream totals.
struct PerStream {
    table: String,
}

#[async_trait]
impl Projection<PgTransaction> for PerStream {
    async fn apply(
        &mut self,
        tx: &mut PgTransaction,
        events: &[RecordedEvent],
    ) -> Result<(), BoxError> {
        let mut totals: HashMap<&str, (i64, i64)> = HashMap::new();
        for event in events {
            let entry = totals.entry(event.stream_id.as_str()).or_default();
            entry.0 += 1;
            entry.1 = event.global_position as i64;
        }
        let (streams, counts): (Vec<&str>, Vec<(i64, i64)>) = totals.into_iter().unzip();
        let (n, last): (Vec<i64>, Vec<i64>) = counts.into_iter().unzip();
        sqlx::query(&format!(
            "INSERT INTO {} AS t (stream, n, last)
             SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[])
             ON CONFLICT (stream) DO UPDATE SET n = t.n + excluded.n, last = excluded.last",
            self.table
        ))
        .bind(streams)
        .bind(n)
        .bind(last)
        .execute(tx.connection())
        .await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total: u64 = if quick { 100_000 } else { 1_000_000 };
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    let schema = format!("ec_bench_catchup_{}", uuid::Uuid::new_v4().simple());
    let store = PgEventStore::with_schema(pool.clone(), &schema)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    println!("eventcore-postgres projection catch-up over {total} events");

    let seeding = catchup::seed(&store, total).await;
    println!("seeded in {:.1} s", seeding.as_secs_f64());

    // One untimed pass first, so every timed pass meets a warm cache.
    catchup::read_all_rate(&store, BATCH, total).await;

    // Raw: keyset pages of the same rows and columns with plain SQL, no visibility bound.
    let table = format!("\"{schema}\".eventcore_events");
    let raw = common::raw_read_all(&pool, &table, BATCH, total).await;

    let read_all = catchup::read_all_rate(&store, BATCH, total).await;

    // The projection, from an empty checkpoint to the head.
    let model = format!("\"{schema}\".per_stream");
    sqlx::query(&format!(
        "CREATE TABLE {model} (stream TEXT PRIMARY KEY, n BIGINT NOT NULL, last BIGINT NOT NULL)"
    ))
    .execute(&pool)
    .await
    .unwrap();
    let catchup = catchup::catchup_rate(
        &store,
        "per_stream",
        PerStream {
            table: model.clone(),
        },
        BATCH,
        total,
    )
    .await;
    let counted: i64 = sqlx::query_scalar(&format!("SELECT SUM(n)::BIGINT FROM {model}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(counted as u64, total, "the model counts every event once");

    catchup::report(BATCH, raw, read_all, catchup);
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
