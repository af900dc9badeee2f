//! Three-step sagas completed per second on PostgreSQL, beside the same three commands per
//! transfer executed straight through a repository in the same run.
//!
//! Run with `cargo bench -p eventcore-postgres --bench sagas` (`-- --quick` for 100 sagas).

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 100 } else { 1000 };
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    let schema = format!("ec_bench_sagas_{}", uuid::Uuid::new_v4().simple());
    let store = eventcore_postgres::PgEventStore::with_schema(pool.clone(), &schema)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let t = eventcore::testing::sagas::throughput(store, n).await;
    println!(
        "eventcore-postgres sagas ({} three-step transfers)",
        t.sagas
    );
    print!("{}", t.table());
    sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
}
