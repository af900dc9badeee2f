//! Embedded schema migrations, tracked in `eventcore_migrations` so they never collide with an
//! application's own `sqlx` migrations in the same database.

use std::time::SystemTime;

use eventcore::StoreError;
use sqlx::migrate::{Migration, Migrator};
use sqlx::{Connection, SqliteConnection};

use crate::rows::micros;

/// The migrations of this crate, embedded at build time from `migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Applies every embedded migration with a version up to `up_to` that is not applied yet,
/// each in its own immediate transaction.
///
/// # Errors
/// [`StoreError::Backend`] when a migration fails, or when an applied migration's checksum no
/// longer matches the embedded one (the schema was changed under us).
pub(crate) async fn run(conn: &mut SqliteConnection, up_to: i64) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS eventcore_migrations (
            version     INTEGER PRIMARY KEY,
            description TEXT    NOT NULL,
            checksum    BLOB    NOT NULL,
            applied_at  INTEGER NOT NULL
        )",
    )
    .execute(&mut *conn)
    .await
    .map_err(StoreError::backend)?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM eventcore_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::backend)?;
    for migration in MIGRATOR.iter().filter(|m| m.version <= up_to) {
        match applied.iter().find(|(v, _)| *v == migration.version) {
            Some((_, checksum)) if checksum[..] == migration.checksum[..] => continue,
            Some(_) => {
                return Err(StoreError::backend(format!(
                    "eventcore migration {} ({}) was applied with different contents",
                    migration.version, migration.description
                )));
            }
            None => apply(conn, migration).await?,
        }
    }
    Ok(())
}

async fn apply(conn: &mut SqliteConnection, migration: &Migration) -> Result<(), StoreError> {
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(StoreError::backend)?;
    // Another process may have applied it since we looked: check again under the write lock.
    let done: Option<i64> =
        sqlx::query_scalar("SELECT version FROM eventcore_migrations WHERE version = ?1")
            .bind(migration.version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
    if done.is_some() {
        return Ok(());
    }
    sqlx::raw_sql(&migration.sql)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::backend)?;
    sqlx::query(
        "INSERT INTO eventcore_migrations (version, description, checksum, applied_at)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .bind(migration.version)
    .bind(&*migration.description)
    .bind(&*migration.checksum)
    .bind(micros(SystemTime::now()))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::backend)?;
    tx.commit().await.map_err(StoreError::backend)
}
