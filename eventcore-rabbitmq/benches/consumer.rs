//! The RabbitMQ consumer with its inbox on PostgreSQL and on SQLite: messages handled per
//! second from a filled queue (each message: its inbox record in a transaction with a no-op
//! handler, batches of 64, then one multiple-ack), and the end-to-end latency from append to
//! handled at a steady 1,000 events per second through a relay (PostgreSQL inbox).
//!
//! `cargo bench -p eventcore-rabbitmq --bench consumer` (RabbitMQ on 127.0.0.1:5672 with
//! `rabbitmqctl`, PostgreSQL at `DATABASE_URL`, default `postgres://postgres@127.0.0.1/test`);
//! `-- --quick` for a short run.

use std::time::{Duration, Instant};

use eventcore::broker::{Inbox, Message, Publisher, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::testing::brokers::workload::{
    Seen, paced_appends, quantile, sample_messages as messages, warm_up,
};
use eventcore::{InMemoryEventStore, TransactionalStore};
use eventcore_postgres::PgEventStore;
use eventcore_rabbitmq::testing::TestVhost;
use eventcore_rabbitmq::{ConsumerOptions, RabbitConsumer, RabbitPublisher};
use eventcore_sqlite::SqliteEventStore;

/// Handled messages per second from a queue already holding `batch`.
async fn drain<S: TransactionalStore>(uri: &str, queue: &str, store: S, batch: &[Message]) -> f64 {
    // Declare the topology, fill the queue, then consume.
    let seen = Seen::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = RabbitConsumer::new(
        uri,
        "bench",
        ConsumerOptions::new(queue, &["order.*"]),
        Inbox::new(store.clone(), queue),
        Seen::default(),
    );
    let readiness = consumer.readiness();
    let declaring = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    while !readiness.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(());
    declaring.await.unwrap().unwrap();
    let publisher = RabbitPublisher::connect(uri, "bench").await.unwrap();
    for chunk in batch.chunks(1000) {
        publisher.publish(chunk).await.unwrap();
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = RabbitConsumer::new(
        uri,
        "bench",
        ConsumerOptions::new(queue, &["order.*"]),
        Inbox::new(store, queue),
        seen.clone(),
    );
    let start = Instant::now();
    let running = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    while seen.count() < batch.len() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = batch.len() as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    rate
}

/// Append → handled latency at `rate` events per second for `seconds`, through a relay.
async fn latency(
    uri: &str,
    store: PgEventStore,
    rate: u64,
    seconds: u64,
) -> (Duration, Duration, usize) {
    let source = InMemoryEventStore::new();
    let seen = Seen::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let consumer = RabbitConsumer::new(
        uri,
        "bench",
        ConsumerOptions::new("latency", &["order.*"]),
        Inbox::new(store, "latency"),
        seen.clone(),
    );
    let readiness = consumer.readiness();
    let running = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    while !readiness.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let relay = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(RabbitPublisher::connect(uri, "bench").await.unwrap()),
            ProjectionOptions::default()
                .with_batch_size(500)
                .with_policy(ErrorPolicy::retry_forever()),
        )
        .start()
        .unwrap();
    // Connections and channels are set up before the clock runs.
    let warm = warm_up(&source, &seen, 10).await;
    let appended = paced_appends(&source, rate, seconds).await;
    seen.wait_for(warm + appended.len()).await;
    let result = {
        let mut lags: Vec<Duration> = appended
            .iter()
            .map(|(id, at)| seen.at(*id).unwrap().saturating_duration_since(*at))
            .collect();
        let count = lags.len();
        (quantile(&mut lags, 0.5), quantile(&mut lags, 0.99), count)
    };
    relay.shutdown().await.unwrap();
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    result
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 5_000 } else { 20_000 };
    // A vhost of the run's own, deleted at the end.
    let vhost = TestVhost::new().expect("a vhost (RabbitMQ must run: bash .ci/services)");
    let uri = vhost.uri();
    let batch = messages(n).await;

    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = sqlx_pool(&url).await;
    let schema = format!("ec_bench_consumer_{}", uuid::Uuid::new_v4().simple());
    let pg = PgEventStore::with_schema(pool.clone(), &schema)
        .await
        .unwrap();
    pg.migrate().await.unwrap();
    let pg_rate = drain(&uri, "pg", pg.clone(), &batch).await;
    println!("consumer with inbox on PostgreSQL: {pg_rate:>8.0} messages/s ({n} messages)");

    let dir = std::env::temp_dir().join(format!(
        "ec-bench-consumer-{}.db",
        uuid::Uuid::new_v4().simple()
    ));
    let sqlite = SqliteEventStore::open(&dir).await.unwrap();
    let sqlite_rate = drain(&uri, "sqlite", sqlite, &batch).await;
    println!("consumer with inbox on SQLite:     {sqlite_rate:>8.0} messages/s ({n} messages)");

    let seconds = if quick { 3 } else { 10 };
    let (p50, p99, count) = latency(&uri, pg, 1_000, seconds).await;
    println!(
        "append -> handled at 1,000 events/s for {seconds} s ({count} events, PostgreSQL inbox): p50 {:.1} ms, p99 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );

    let _ = std::fs::remove_file(&dir);
    eventcore_postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    drop(vhost);
}

async fn sqlx_pool(url: &str) -> eventcore_postgres::PgPool {
    eventcore_postgres::sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await
        .unwrap()
}
