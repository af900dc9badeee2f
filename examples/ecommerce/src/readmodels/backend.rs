//! What each store's read models share: creating their tables, the runner of their
//! projections, rebuilding and dumping them. Compiled once per store (see `sqlite.rs` and
//! `pg.rs`), over that store's `Store`, `Tx`, `Pool` and `DIALECT`.

use std::time::Duration;

use eventcore::StoreError;
use eventcore::projection::{
    ProjectionOptions, ProjectionRunner, RebuildReport, RunningProjections,
};

use super::{DIALECT, Pool, Store, Tx, analytics, orders, products, sqlx};
use crate::readmodels::{ALL, ANALYTICS, ORDER_VIEW, PRODUCT_VIEW, ReadModelError};

/// Creates every read-model table (idempotent: run at every start, before the runner).
///
/// # Errors
/// Store failures.
pub async fn create_tables(store: &Store) -> Result<(), StoreError> {
    create_tables_of(store, &ALL).await
}

/// Creates the tables of the read models `names` (idempotent); unknown names are ignored.
///
/// # Errors
/// Store failures.
pub async fn create_tables_of(store: &Store, names: &[&str]) -> Result<(), StoreError> {
    let mut statements = Vec::new();
    for name in names {
        match *name {
            ORDER_VIEW => statements.push(orders::schema(orders::TABLE)),
            PRODUCT_VIEW => statements.push(products::schema(products::TABLE)),
            ANALYTICS => statements.extend(analytics::schema("")),
            _ => {}
        }
    }
    let mut tx = store.begin().await?;
    for statement in statements.iter().flat_map(|s| s.split(';')) {
        sqlx::query(statement)
            .execute(tx.connection())
            .await
            .map_err(StoreError::backend)?;
    }
    tx.commit().await
}

/// A runner with every read model's projection, ready to start; each waits `linger` for more
/// events once woken (see `ProjectionOptions::linger`).
pub fn runner(store: Store, linger: Duration) -> ProjectionRunner<Store> {
    runner_of(store, linger, &ALL)
}

/// A runner with the projections of the read models `names` (unknown names are ignored), as
/// [`runner`]'s.
pub fn runner_of(store: Store, linger: Duration, names: &[&str]) -> ProjectionRunner<Store> {
    let options = ProjectionOptions::default()
        .with_batch_size(500)
        .with_linger(linger);
    let mut runner = ProjectionRunner::new(store);
    for name in names {
        runner = match *name {
            ORDER_VIEW => runner.add(*name, orders::OrderView::live(), options),
            PRODUCT_VIEW => runner.add(*name, products::ProductView::live(), options),
            ANALYTICS => runner.add(*name, analytics::AnalyticsView::live(), options),
            _ => runner,
        };
    }
    runner
}

/// Rebuilds the read model `name` from the log while everything runs; returns when the new
/// model is in place (progress meanwhile in `running.status(name)`'s `rebuild`).
///
/// # Errors
/// [`ReadModelError::Unknown`], [`ReadModelError::Rebuild`].
pub async fn rebuild(
    running: &RunningProjections<Store>,
    name: &str,
) -> Result<RebuildReport, ReadModelError> {
    let result = match name {
        ORDER_VIEW => running.rebuild(name, orders::OrderView::fresh()).await,
        PRODUCT_VIEW => running.rebuild(name, products::ProductView::fresh()).await,
        ANALYTICS => {
            running
                .rebuild(name, analytics::AnalyticsView::fresh())
                .await
        }
        other => return Err(ReadModelError::Unknown(other.to_owned())),
    };
    result.map_err(|source| ReadModelError::Rebuild {
        name: name.to_owned(),
        source,
    })
}

/// Every row of the read model `name`'s tables, as text, in a stable order (to compare a model
/// with its rebuild).
///
/// # Errors
/// [`ReadModelError::Unknown`] is reported as a query error; query failures.
pub async fn dump(pool: &Pool, name: &str) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<&str> = match name {
        ORDER_VIEW => vec![orders::TABLE],
        PRODUCT_VIEW => vec![products::TABLE],
        ANALYTICS => analytics::TABLES.to_vec(),
        other => return Err(sqlx::Error::Protocol(format!("unknown read model {other}"))),
    };
    let mut rows = Vec::new();
    for table in tables {
        // Every column as JSON text, one row per line, ordered by the whole row.
        let columns: Vec<String> = match DIALECT.columns_of(table) {
            Some(sql) => sqlx::query_scalar(&sql).fetch_all(pool).await?,
            None => Vec::new(),
        };
        let found: Vec<(String,)> = sqlx::query_as(&DIALECT.rows_as_json(table, &columns))
            .fetch_all(pool)
            .await?;
        rows.extend(found.into_iter().map(|(r,)| format!("{table}: {r}")));
    }
    Ok(rows)
}

/// Drops `tables` and creates them again from `schema` (each entry one or more statements
/// separated by `;`): a rebuild's fresh tables, inside its first transaction.
pub(crate) async fn recreate(
    tx: &mut Tx,
    tables: &[String],
    schema: &[String],
) -> Result<(), sqlx::Error> {
    for table in tables {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(tx.connection())
            .await?;
    }
    for statement in schema.iter().flat_map(|s| s.split(';')) {
        if !statement.trim().is_empty() {
            sqlx::query(statement).execute(tx.connection()).await?;
        }
    }
    Ok(())
}

/// Puts each `(fresh, live)` table in place of the live one (inside the promoting transaction).
pub(crate) async fn swap_tables(tx: &mut Tx, pairs: &[(&str, &str)]) -> Result<(), sqlx::Error> {
    for (fresh, live) in pairs {
        if fresh == live {
            continue;
        }
        sqlx::query(&format!("DROP TABLE IF EXISTS {live}"))
            .execute(tx.connection())
            .await?;
        sqlx::query(&format!("ALTER TABLE {fresh} RENAME TO {live}"))
            .execute(tx.connection())
            .await?;
    }
    Ok(())
}
