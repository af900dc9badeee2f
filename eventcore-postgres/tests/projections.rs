//! The eventcore projection suite against the real server, with the read model in tables of
//! the store's schema.

mod common;

use async_trait::async_trait;
use eventcore::BoxError;
use eventcore::testing::projections::{Model, ModelHarness};
use eventcore_postgres::{PgEventStore, PgTransaction};
use sqlx::Row;

struct Postgres(PgEventStore);

impl Postgres {
    /// The model's table, in the test's schema (model names are the suite's identifiers).
    fn table(&self, model: &str) -> String {
        format!("\"{}\".\"model_{model}\"", self.0.schema())
    }
}

#[async_trait]
impl ModelHarness for Postgres {
    type Store = PgEventStore;

    fn store(&self) -> PgEventStore {
        self.0.clone()
    }

    async fn create(&self, tx: &mut PgTransaction, model: &str) -> Result<(), BoxError> {
        let table = self.table(model);
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!(
            "CREATE TABLE {table} (stream TEXT PRIMARY KEY, n BIGINT NOT NULL, last BIGINT NOT NULL)"
        ))
        .execute(tx.connection())
        .await?;
        Ok(())
    }

    async fn bump(
        &self,
        tx: &mut PgTransaction,
        model: &str,
        stream: &str,
        position: u64,
    ) -> Result<(), BoxError> {
        sqlx::query(&format!(
            "INSERT INTO {} AS m (stream, n, last) VALUES ($1, 1, $2)
             ON CONFLICT (stream) DO UPDATE SET n = m.n + 1, last = excluded.last",
            self.table(model)
        ))
        .bind(stream)
        .bind(position as i64)
        .execute(tx.connection())
        .await?;
        Ok(())
    }

    async fn replace(&self, tx: &mut PgTransaction, from: &str, to: &str) -> Result<(), BoxError> {
        sqlx::query(&format!("DROP TABLE IF EXISTS {}", self.table(to)))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!(
            "ALTER TABLE {} RENAME TO \"model_{to}\"",
            self.table(from)
        ))
        .execute(tx.connection())
        .await?;
        Ok(())
    }

    async fn read(&self, model: &str) -> Result<Model, BoxError> {
        let rows = sqlx::query(&format!(
            "SELECT stream, n, last FROM {}",
            self.table(model)
        ))
        .fetch_all(self.0.pool())
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

eventcore::projection_tests!(|| async { Postgres(common::fresh_store(8).await) });
