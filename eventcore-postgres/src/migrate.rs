//! Embedded schema migrations, tracked per schema in `eventcore_migrations` so they never
//! collide with an application's own `sqlx` migrations.

use eventcore::StoreError;
use sqlx::migrate::Migrator;
use sqlx::{Connection, PgConnection};

use crate::schema::Schema;

/// The migrations of this crate, embedded at build time from `migrations/`.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The newest schema version this build knows.
pub(crate) fn latest_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Refuses a database whose transaction ids are behind its stored positions (restored from a
/// dump or failed over into another cluster): new events would land below what log readers
/// have already passed. Also refuses ids too large for the position encoding (2^43).
pub(crate) async fn check_positions(
    conn: &mut PgConnection,
    schema: &Schema,
) -> Result<(), StoreError> {
    let sql = format!(
        "WITH x AS (SELECT pg_current_xact_id()::TEXT::NUMERIC AS xid),
              l AS (SELECT COALESCE((SELECT global_position FROM {}
                                     ORDER BY global_position DESC LIMIT 1), 0) AS last)
         SELECT x.xid >= 8796093022208,
                x.xid < 8796093022208 AND (x.xid::BIGINT << 20) <= l.last
         FROM x, l",
        schema.table("eventcore_events")
    );
    let (too_large, behind): (bool, bool) = match sqlx::query_as(&sql).fetch_one(conn).await {
        Ok(row) => row,
        // No events table yet (migrated to before it exists): nothing to compare.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P01") => return Ok(()),
        Err(error) => return Err(StoreError::backend(error)),
    };
    if too_large {
        return Err(StoreError::backend(
            "transaction ids have reached 2^43, beyond eventcore's position encoding",
        ));
    }
    if behind {
        return Err(StoreError::backend(format!(
            "transaction ids in this cluster are behind the positions stored in schema {} \
             (restored from a dump, or failed over to another cluster?): new events would \
             land behind log readers; see the eventcore-postgres docs",
            schema.name()
        )));
    }
    Ok(())
}

/// Creates `schema` if needed and applies every embedded migration up to `up_to` not applied
/// yet, all in one transaction under an advisory lock (concurrent migrators wait).
pub(crate) async fn run(
    conn: &mut PgConnection,
    schema: &Schema,
    up_to: i64,
) -> Result<(), StoreError> {
    let mut tx = conn.begin().await.map_err(StoreError::backend)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('eventcore migrations ' || $1))")
        .bind(schema.name())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::backend)?;
    sqlx::raw_sql(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         SET LOCAL search_path TO {schema};
         CREATE TABLE IF NOT EXISTS eventcore_migrations (
             version     BIGINT      PRIMARY KEY,
             description TEXT        NOT NULL,
             checksum    BYTEA       NOT NULL,
             applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
         );",
        schema = schema.quoted()
    ))
    .execute(&mut *tx)
    .await
    .map_err(StoreError::backend)?;
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM eventcore_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::backend)?;
    for migration in MIGRATOR.iter().filter(|m| m.version <= up_to) {
        match applied.iter().find(|(v, _)| *v == migration.version) {
            Some((_, checksum)) if checksum[..] == migration.checksum[..] => continue,
            Some(_) => {
                return Err(StoreError::backend(format!(
                    "eventcore migration {} ({}) in schema {} was applied with different contents",
                    migration.version,
                    migration.description,
                    schema.name()
                )));
            }
            None => {
                sqlx::raw_sql(&migration.sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::backend)?;
                sqlx::query(
                    "INSERT INTO eventcore_migrations (version, description, checksum)
                     VALUES ($1, $2, $3)",
                )
                .bind(migration.version)
                .bind(&*migration.description)
                .bind(&*migration.checksum)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::backend)?;
            }
        }
    }
    tx.commit().await.map_err(StoreError::backend)
}
