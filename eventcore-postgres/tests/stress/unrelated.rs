//! Transactions that hold a transaction id but append no events, held open: one in another
//! database of the cluster, one idle in transaction after writing to an unrelated table of
//! this database, and one that wrote the store's own checkpoint table. Each of them held
//! every log reader back while the bound was the cluster-wide xmin.

use eventcore_postgres::{PgEventStore, PgTransaction};
use sqlx::{Connection, PgConnection};

use super::connect_to;

/// The open transactions; [`close`](Self::close) rolls them back and drops what they made.
pub struct Unrelated {
    other_database: String,
    elsewhere: PgConnection,
    idle: PgConnection,
    checkpoint: PgTransaction,
    pids: Vec<i32>,
}

async fn pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

impl Unrelated {
    /// Opens the three transactions, each holding an id.
    pub async fn open(store: &PgEventStore) -> Self {
        let other_database = format!("ec_other_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {other_database}"))
            .execute(store.pool())
            .await
            .expect("create the other database");
        let mut elsewhere = connect_to(&other_database).await;
        sqlx::raw_sql("CREATE TABLE t (x INT); BEGIN; INSERT INTO t VALUES (1)")
            .execute(&mut elsewhere)
            .await
            .unwrap();

        let mut idle = connect_to(&crate::common::database_name()).await;
        let table = format!("\"{}\".unrelated", store.schema());
        sqlx::raw_sql(&format!(
            "CREATE TABLE {table} (x INT); BEGIN; INSERT INTO {table} VALUES (1)"
        ))
        .execute(&mut idle)
        .await
        .unwrap();

        let mut checkpoint = store.begin().await.unwrap();
        checkpoint.save_checkpoint("held-open", 1).await.unwrap();

        let pids = vec![
            pid(&mut elsewhere).await,
            pid(&mut idle).await,
            pid(checkpoint.connection()).await,
        ];
        let with_ids: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1) AND backend_xid IS NOT NULL",
        )
        .bind(&pids)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert_eq!(with_ids, 3, "each unrelated transaction holds an id");
        Self {
            other_database,
            elsewhere,
            idle,
            checkpoint,
            pids,
        }
    }

    /// Their server processes.
    pub fn pids(&self) -> Vec<i32> {
        self.pids.clone()
    }

    /// Rolls them back and drops the other database.
    pub async fn close(self) {
        let Self {
            other_database,
            mut elsewhere,
            mut idle,
            checkpoint,
            ..
        } = self;
        drop(checkpoint);
        for conn in [&mut elsewhere, &mut idle] {
            sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await.unwrap();
        }
        elsewhere.close().await.unwrap();
        idle.close().await.unwrap();
        let mut admin = connect_to(&crate::common::database_name()).await;
        sqlx::query(&format!("DROP DATABASE {other_database} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .expect("drop the other database");
    }
}
