//! Shared setup: every test gets its own schema in the database named by `DATABASE_URL`
//! (default: the local server's `test` database). A missing server fails the test.

#![allow(dead_code)]

use eventcore_postgres::PgEventStore;
use sqlx::postgres::PgPoolOptions;

/// The database the tests use.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// The test database's name.
pub fn database_name() -> String {
    use sqlx::postgres::PgConnectOptions;
    let options: PgConnectOptions = database_url().parse().expect("DATABASE_URL");
    options.get_database().unwrap_or("postgres").to_owned()
}

/// A pool on the test database; panics (fails the test) when the server is not reachable.
pub async fn pool(max_connections: u32) -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .connect(&database_url())
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running at {}: {e}", database_url()))
}

/// A migrated store in a fresh schema named `ec_test_<random>`.
pub async fn fresh_store(max_connections: u32) -> PgEventStore {
    let schema = format!("ec_test_{}", uuid::Uuid::new_v4().simple());
    let store = PgEventStore::with_schema(pool(max_connections).await, &schema)
        .await
        .expect("store");
    store.migrate().await.expect("migrations");
    store
}
