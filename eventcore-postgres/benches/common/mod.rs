//! What the PostgreSQL benches share: the raw keyset read that `read_all` is measured against.

use std::time::Instant;

use sqlx::PgPool;

/// A row of the raw read: the columns `read_all` reads (position, id, stream, version, type,
/// schema version, recorded-at seconds, metadata, payload), decoded into a tuple.
type RawRow = (
    i64,
    uuid::Uuid,
    String,
    i64,
    String,
    i32,
    f64,
    Option<String>,
    String,
);

/// Pages through `table` (`total` events) as a raw sqlx reader would: the same keyset query
/// and columns as `read_all`, without the visibility bound; returns events per second.
pub async fn raw_read_all(pool: &PgPool, table: &str, page: usize, total: u64) -> f64 {
    let start = Instant::now();
    let (mut from, mut seen) = (1i64, 0u64);
    let sql = format!(
        "SELECT global_position, event_id, stream_id, stream_version, event_type,
                schema_version, date_part('epoch', recorded_at), metadata::TEXT, payload::TEXT
         FROM {table} WHERE global_position >= $1 ORDER BY global_position LIMIT $2"
    );
    loop {
        let rows: Vec<RawRow> = sqlx::query_as(&sql)
            .bind(from)
            .bind(page as i64)
            .fetch_all(pool)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        from = last.0 + 1;
        seen += rows.len() as u64;
        std::hint::black_box(&rows);
    }
    assert_eq!(seen, total);
    total as f64 / start.elapsed().as_secs_f64()
}
