//! Wake-ups across processes as an option: a store built with notifications off appends and
//! reads as any other, but opens no `LISTEN` connection and sends no `NOTIFY`; one with them on
//! does both (each asserted both ways).

mod common;

use std::time::Duration;

use eventcore::testing::conformance::numbered as event;
use eventcore::{AppendRequest, EventAppender, EventReader, ExpectedVersion, StreamId};
use eventcore_postgres::PgEventStore;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

/// A pool whose connections carry `application_name`, so that `pg_stat_activity` tells them
/// (and the store's listener connection, which copies the pool's options) from everyone else's.
async fn named_pool(application_name: &str) -> sqlx::PgPool {
    let options: PgConnectOptions = common::database_url().parse().expect("database url");
    PgPoolOptions::new()
        .max_connections(3)
        .connect_with(options.application_name(application_name))
        .await
        .expect("PostgreSQL must be running")
}

/// Connections named `application_name` whose last statement was a `LISTEN`.
async fn listen_connections(pool: &sqlx::PgPool, application_name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE application_name = $1 AND query ILIKE 'LISTEN%'",
    )
    .bind(application_name)
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

fn append_one(stream: &StreamId, n: u64) -> AppendRequest {
    AppendRequest::single(stream.clone(), ExpectedVersion::Any, vec![event(n)])
}

#[tokio::test]
async fn a_store_without_notifications_appends_and_reads_and_opens_no_listen_connection() {
    let schema = unique("ec_quiet");
    let quiet_name = unique("quiet");
    let store = PgEventStore::builder(named_pool(&quiet_name).await)
        .schema(&schema)
        .notifications(false)
        .build()
        .await
        .expect("store");
    store.migrate().await.expect("migrations");
    assert!(!store.notifications());
    assert_eq!(store.schema(), schema);

    let stream = StreamId::new("quiet-1").unwrap();
    let mut wake = store.head_watch();
    wake.borrow_and_update();
    let recorded = store.append(append_one(&stream, 1)).await.expect("append");
    assert!(
        wake.has_changed().unwrap(),
        "its own appends still wake its subscribers"
    );
    let read = store.read_stream(&stream, 1, 10).await.expect("read");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].event_id, recorded[0].event_id);
    eventcore::testing::conformance::wait_until_visible(&store, recorded[0].global_position).await;
    let log = store.read_all(1, 10).await.expect("read_all");
    assert_eq!(log.last().map(|e| e.event_id), Some(recorded[0].event_id));
    assert_eq!(listen_connections(store.pool(), &quiet_name).await, 0);

    // The same with notifications on: its listener shows up.
    let loud_name = unique("loud");
    let loud = PgEventStore::builder(named_pool(&loud_name).await)
        .schema(&schema)
        .build()
        .await
        .expect("store");
    assert!(loud.notifications());
    assert_eq!(listen_connections(loud.pool(), &loud_name).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_notifications_sends_no_notify_and_one_with_them_does() {
    let quiet = PgEventStore::builder(common::pool(3).await)
        .schema(unique("ec_quiet"))
        .notifications(false)
        .build()
        .await
        .expect("store");
    quiet.migrate().await.expect("migrations");
    let channel = format!("eventcore_events:{}", quiet.schema());
    let mut listener = PgListener::connect(&common::database_url())
        .await
        .expect("listener");
    listener.listen(&channel).await.expect("LISTEN");
    let stream = StreamId::new("quiet-2").unwrap();

    quiet.append(append_one(&stream, 1)).await.expect("append");
    let heard = tokio::time::timeout(Duration::from_millis(500), listener.recv()).await;
    assert!(heard.is_err(), "no NOTIFY from a quiet store: {heard:?}");

    let loud = PgEventStore::with_schema(common::pool(3).await, quiet.schema())
        .await
        .expect("store");
    loud.append(append_one(&stream, 2)).await.expect("append");
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("a NOTIFY from a store with notifications on")
        .expect("listener alive");
    assert_eq!(heard.channel(), channel);
}
