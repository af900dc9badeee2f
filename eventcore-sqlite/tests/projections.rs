//! The eventcore projection suite on a WAL file database, with the read model in tables of
//! the same database.

mod common;

use async_trait::async_trait;
use eventcore::BoxError;
use eventcore::testing::projections::{Model, ModelHarness};
use eventcore_sqlite::{SqliteEventStore, SqliteTransaction};
use sqlx::Row;

struct Sqlite(SqliteEventStore);

/// Model names are the suite's own identifiers; quote them anyway.
fn table(model: &str) -> String {
    format!("\"model_{}\"", model.replace('"', "\"\""))
}

#[async_trait]
impl ModelHarness for Sqlite {
    type Store = SqliteEventStore;

    fn store(&self) -> SqliteEventStore {
        self.0.clone()
    }

    async fn create(&self, tx: &mut SqliteTransaction, model: &str) -> Result<(), BoxError> {
        let table = table(model);
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE {table} (stream TEXT PRIMARY KEY, n INTEGER NOT NULL, last INTEGER NOT NULL)"
        ))
        .execute(tx.connection())
        .await?;
        Ok(())
    }

    async fn bump(
        &self,
        tx: &mut SqliteTransaction,
        model: &str,
        stream: &str,
        position: u64,
    ) -> Result<(), BoxError> {
        let table = table(model);
        sqlx::query(&format!(
            "INSERT INTO {table} (stream, n, last) VALUES (?1, 1, ?2)
             ON CONFLICT (stream) DO UPDATE SET n = n + 1, last = excluded.last"
        ))
        .bind(stream)
        .bind(position as i64)
        .execute(tx.connection())
        .await?;
        Ok(())
    }

    async fn replace(
        &self,
        tx: &mut SqliteTransaction,
        from: &str,
        to: &str,
    ) -> Result<(), BoxError> {
        let (from, to) = (table(from), table(to));
        sqlx::query(&format!("DROP TABLE IF EXISTS {to}"))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .execute(tx.connection())
            .await?;
        Ok(())
    }

    async fn read(&self, model: &str) -> Result<Model, BoxError> {
        let rows = sqlx::query(&format!("SELECT stream, n, last FROM {}", table(model)))
            .fetch_all(self.0.reader_pool())
            .await?;
        rows.iter()
            .map(|row| {
                let n: i64 = row.try_get(1)?;
                let last: i64 = row.try_get(2)?;
                Ok((row.try_get(0)?, (n as u64, last as u64)))
            })
            .collect()
    }
}

eventcore::projection_tests!(|| async {
    Sqlite(
        SqliteEventStore::open(common::temp_db())
            .await
            .expect("file database"),
    )
});
