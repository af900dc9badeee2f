//! Kafka: the relay beside raw rdkafka, the consumer with its inbox on PostgreSQL, and the
//! end-to-end latency from append to handled.
//!
//! - Relay: events per second from the log to every delivery report received, beside raw
//!   rdkafka producing the same records (key, payload; once bare, once with the relay's
//!   headers) with the same producer settings (idempotent, `acks=all`, `linger.ms=2`),
//!   pipelined the same way (batches of 500 sent, then their reports awaited). Paired rounds,
//!   alternating which side goes first.
//! - Consumer: handled messages per second from a topic already holding them (each message:
//!   its inbox record in a PostgreSQL transaction with a no-op handler, batches of 64, then
//!   the offset commit).
//! - Append → handled p50/p99 at a steady 1,000 events per second through a relay.
//!
//! `cargo bench -p eventcore-kafka --bench kafka` against the broker at `$KAFKA_BROKERS`
//! (default 127.0.0.1:9092, which `bash .ci/services` starts) and PostgreSQL at
//! `DATABASE_URL`; `-- --quick` for a short run. Its topics are deleted afterwards.

use std::time::{Duration, Instant};

use eventcore::EventReader;
use eventcore::broker::{Inbox, Message, Publisher, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::testing::brokers::workload::{
    Paired, Seen, paced_appends, quantile, sample_log, warm_up,
};
use eventcore_kafka::{ConsumerOptions, KafkaConsumer, KafkaPublisher, Topics};
use eventcore_postgres::PgEventStore;
use rdkafka::producer::{FutureProducer, FutureRecord};

const BATCH: usize = 500;

async fn relay(
    brokers: &str,
    topic: &str,
    log: &eventcore::InMemoryEventStore,
    round: usize,
) -> f64 {
    let head = log.head_position().await.unwrap();
    let publisher = KafkaPublisher::new(brokers, Topics::single(topic)).unwrap();
    let options = ProjectionOptions::default()
        .with_batch_size(BATCH)
        .with_policy(ErrorPolicy::retry_forever());
    let name = format!("relay-{round}");
    let start = Instant::now();
    let running = ProjectionRunner::new(log.clone())
        .add(name.clone(), Relay::new(publisher), options)
        .start()
        .unwrap();
    running.wait_until(&name, head).await.unwrap();
    let rate = head as f64 / start.elapsed().as_secs_f64();
    running.shutdown().await.unwrap();
    rate
}

/// Raw rdkafka with the publisher's settings; `envelope`: with the relay's headers.
async fn raw(brokers: &str, topic: &str, messages: &[Message], envelope: bool) -> f64 {
    let producer: FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "2")
        .create()
        .unwrap();
    let start = Instant::now();
    for batch in messages.chunks(BATCH) {
        let mut reports = Vec::with_capacity(batch.len());
        for message in batch {
            let mut record = FutureRecord::to(topic)
                .key(message.stream.as_str())
                .payload(message.payload.get());
            if envelope {
                record = record.headers(eventcore_kafka::wire::headers(message));
            }
            reports.push(producer.send_result(record).map_err(|(e, _)| e).unwrap());
        }
        for report in reports {
            report.await.unwrap().unwrap();
        }
    }
    messages.len() as f64 / start.elapsed().as_secs_f64()
}

fn report(what: &str, rounds: &[(f64, f64)]) {
    let p = Paired::of(rounds);
    println!(
        "relay vs raw rdkafka {what}: {:>8.0} ev/s vs {:>8.0} ev/s   ratio {:.2} (rounds {:.2}-{:.2})",
        p.ours, p.raw, p.ratio, p.low, p.high
    );
}

/// Handled messages per second from `topic`, already holding `count` records.
async fn drain(brokers: &str, topic: &str, store: PgEventStore, count: usize) -> f64 {
    let seen = Seen::default();
    let group = format!("{topic}.bench");
    let consumer = KafkaConsumer::new(
        brokers,
        ConsumerOptions::new(&group, &[topic]),
        Inbox::new(store, group.clone()),
        seen.clone(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    // The clock starts at the first message handled: a group's first join takes seconds.
    seen.wait_for(1).await;
    let start = Instant::now();
    seen.wait_for(count).await;
    let rate = (count - 1) as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    rate
}

/// Append → handled at `rate` events per second for `seconds`, through a relay.
async fn latency(
    brokers: &str,
    topic: &str,
    store: PgEventStore,
    rate: u64,
    seconds: u64,
) -> (Duration, Duration) {
    let source = eventcore::InMemoryEventStore::new();
    let seen = Seen::default();
    let consumer = KafkaConsumer::new(
        brokers,
        // tansu answers a fetch only when its wait is over, data or not: wait little.
        ConsumerOptions::new("latency", &[topic]).with_config("fetch.wait.max.ms", "10"),
        Inbox::new(store, "latency"),
        seen.clone(),
    );
    let readiness = consumer.readiness();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(consumer.run(async move {
        let _ = stopped.await;
    }));
    while !readiness.is_ready() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let publisher = KafkaPublisher::new(brokers, Topics::single(topic)).unwrap();
    let relay = ProjectionRunner::new(source.clone())
        .add(
            "relay",
            Relay::new(publisher),
            ProjectionOptions::default()
                .with_batch_size(BATCH)
                .with_policy(ErrorPolicy::retry_forever()),
        )
        .start()
        .unwrap();
    // Warm up: the producer's id and the first metadata are fetched before the clock runs.
    let warm = warm_up(&source, &seen, 10).await;
    let appended = paced_appends(&source, rate, seconds).await;
    seen.wait_for(warm + appended.len()).await;
    let mut lags: Vec<Duration> = appended
        .iter()
        .map(|(id, at)| seen.at(*id).unwrap().saturating_duration_since(*at))
        .collect();
    relay.shutdown().await.unwrap();
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    (quantile(&mut lags, 0.5), quantile(&mut lags, 0.99))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n: u64 = if quick { 5_000 } else { 20_000 };
    let brokers = std::env::var("KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".to_owned());
    let run = uuid::Uuid::new_v4().simple().to_string();
    let topics = [
        format!("ec_bench_{run}.relay"),
        format!("ec_bench_{run}.raw"),
        format!("ec_bench_{run}.latency"),
        format!("ec_bench_{run}.drain"),
    ];
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    eventcore_kafka::ensure_topics(&brokers, &names, 4, 1)
        .await
        .unwrap();
    let log = sample_log(n).await;
    let messages: Vec<Message> = log
        .read_all(1, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(Message::from_event)
        .collect();

    for envelope in [false, true] {
        let mut rounds = Vec::new();
        for round in 0..5 {
            let id = round + usize::from(envelope) * 10;
            let pair = if round % 2 == 0 {
                let ours = relay(&brokers, &topics[0], &log, id).await;
                (ours, raw(&brokers, &topics[1], &messages, envelope).await)
            } else {
                let theirs = raw(&brokers, &topics[1], &messages, envelope).await;
                (relay(&brokers, &topics[0], &log, id).await, theirs)
            };
            rounds.push(pair);
        }
        report(
            if envelope {
                "with the same headers"
            } else {
                "bare (key and payload)"
            },
            &rounds,
        );
    }

    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let pool = eventcore_postgres::sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    let schema = format!("ec_bench_kafka_{run}");
    let pg = PgEventStore::with_schema(pool.clone(), &schema)
        .await
        .unwrap();
    pg.migrate().await.unwrap();
    let filler = KafkaPublisher::new(&brokers, Topics::single(&topics[3])).unwrap();
    for chunk in messages.chunks(1_000) {
        filler.publish(chunk).await.unwrap();
    }
    let rate = drain(&brokers, &topics[3], pg.clone(), messages.len()).await;
    println!(
        "consumer with inbox on PostgreSQL: {rate:>8.0} messages/s ({} messages)",
        messages.len()
    );

    let seconds = if quick { 3 } else { 10 };
    let (p50, p99) = latency(&brokers, &topics[2], pg, 1_000, seconds).await;
    println!(
        "append -> handled at 1,000 events/s for {seconds} s (PostgreSQL inbox): p50 {:.1} ms, p99 {:.1} ms",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );

    eventcore_postgres::sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .unwrap();
    let _ = eventcore_kafka::delete_topics(&brokers, &names).await;
}
