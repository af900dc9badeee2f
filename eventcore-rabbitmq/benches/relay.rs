//! Relay throughput on RabbitMQ: events per second from the log to confirmed by the broker,
//! beside raw lapin publishing the same payloads and routing keys with publisher confirms,
//! pipelined the same way (batches of 500 sent, then their confirms awaited): with bare
//! properties, with a one-entry headers table, and with the relay's very properties. The
//! log is an in-memory store, so the figure is the relay's and the broker's cost, not a
//! database's. Paired rounds, alternating which side goes first.
//!
//! `cargo bench -p eventcore-rabbitmq --bench relay` (RabbitMQ on 127.0.0.1:5672, guest/guest,
//! `rabbitmqctl` for a vhost of its own); `-- --quick` for a short run.

use std::time::{Duration, Instant};

use eventcore::broker::{Message, Relay};
use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
use eventcore::{
    AppendRequest, EventAppender, EventReader, ExpectedVersion, InMemoryEventStore, NewEvent,
    StreamId,
};
use eventcore_rabbitmq::RabbitPublisher;
use eventcore_rabbitmq::testing::TestVhost;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
    QueuePurgeOptions,
};
use lapin::types::FieldTable;
use lapin::{Confirmation, Connection, ConnectionProperties};

const BATCH: usize = 500;

async fn seed(events: u64) -> InMemoryEventStore {
    let store = InMemoryEventStore::new();
    for chunk in 0..events / 100 {
        let batch = (0..100)
            .map(|i| {
                let payload = format!(
                    r#"{{"order_id":"o-{}","amount":{},"currency":"USD"}}"#,
                    chunk * 100 + i,
                    i
                );
                NewEvent::raw(
                    "Placed",
                    1,
                    serde_json::value::RawValue::from_string(payload).unwrap(),
                )
            })
            .collect();
        store
            .append(AppendRequest::single(
                StreamId::new(format!("order-{chunk}")).unwrap(),
                ExpectedVersion::NoStream,
                batch,
            ))
            .await
            .unwrap();
    }
    store
}

async fn ours(uri: &str, store: &InMemoryEventStore, round: usize) -> f64 {
    let head = store.head_position().await.unwrap();
    let publisher = RabbitPublisher::connect(uri, "bench").await.unwrap();
    let options = ProjectionOptions::default()
        .with_batch_size(BATCH)
        .with_policy(ErrorPolicy::retry_forever());
    let start = Instant::now();
    let running = ProjectionRunner::new(store.clone())
        .add(format!("relay-{round}"), Relay::new(publisher), options)
        .start()
        .unwrap();
    running
        .wait_until(&format!("relay-{round}"), head)
        .await
        .unwrap();
    let rate = head_count(store).await as f64 / start.elapsed().as_secs_f64();
    running.shutdown().await.unwrap();
    rate
}

async fn head_count(store: &InMemoryEventStore) -> u64 {
    store.read_all(1, usize::MAX).await.unwrap().len() as u64
}

/// What raw lapin sends besides the payload.
#[derive(Clone, Copy, PartialEq)]
enum Raw {
    /// Message id, type, content type, persistent: no headers table.
    Bare,
    /// The same plus a headers table of one entry (the stream id).
    OneHeader,
    /// The very properties and headers the relay sends.
    Envelope,
}

/// Raw lapin publishing `messages` as `variant` says.
async fn raw(uri: &str, messages: &[Message], variant: Raw) -> f64 {
    let connection = Connection::connect(uri, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let start = Instant::now();
    for batch in messages.chunks(BATCH) {
        let mut confirms = Vec::with_capacity(batch.len());
        for message in batch {
            let bare = lapin::BasicProperties::default()
                .with_message_id(message.message_id.to_string().into())
                .with_type(message.event_type.as_str().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(2);
            let properties = match variant {
                Raw::Bare => bare,
                Raw::OneHeader => {
                    let mut headers = FieldTable::default();
                    headers.insert(
                        "stream".into(),
                        lapin::types::AMQPValue::LongString(message.stream.as_str().into()),
                    );
                    bare.with_headers(headers)
                }
                Raw::Envelope => eventcore_rabbitmq::properties(message),
            };
            confirms.push(
                channel
                    .basic_publish(
                        "bench".into(),
                        message.routing_key.as_str().into(),
                        options,
                        message.payload.get().as_bytes(),
                        properties,
                    )
                    .await
                    .unwrap(),
            );
        }
        for confirm in confirms {
            assert!(matches!(confirm.await.unwrap(), Confirmation::Ack(None)));
        }
    }
    messages.len() as f64 / start.elapsed().as_secs_f64()
}

fn report(events: u64, variant: Raw, rounds: &[(f64, f64)]) {
    let eventcore::testing::brokers::workload::Paired {
        ours: ours_rate,
        raw: raw_rate,
        ratio,
        low,
        high,
    } = eventcore::testing::brokers::workload::Paired::of(rounds);
    let raw_kind = match variant {
        Raw::Bare => "raw, bare properties",
        Raw::OneHeader => "raw, bare + 1 header",
        Raw::Envelope => "raw, same properties",
    };
    println!(
        "relay to confirmed, {events} events, batches of {BATCH}: {ours_rate:>8.0} ev/s   {raw_kind} {raw_rate:>8.0} ev/s   ratio {ratio:.2} (rounds {low:.2}-{high:.2})"
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let events: u64 = if quick { 5_000 } else { 20_000 };
    // A vhost of the run's own, deleted at the end.
    let vhost = TestVhost::new().expect("a vhost (RabbitMQ must run: bash .ci/services)");
    let uri = vhost.uri();
    let store = seed(events).await;
    let messages: Vec<Message> = store
        .read_all(1, usize::MAX)
        .await
        .unwrap()
        .iter()
        .map(Message::from_event)
        .collect();
    // A queue that takes everything, emptied between rounds (mandatory publishing needs one).
    let connection = Connection::connect(&uri, ConnectionProperties::default())
        .await
        .unwrap();
    let admin = connection.create_channel().await.unwrap();
    let _ = RabbitPublisher::connect(&uri, "bench").await.unwrap(); // declares the exchange
    admin
        .queue_declare(
            "sink".into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    admin
        .queue_bind(
            "sink".into(),
            "bench".into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let purge = async || {
        admin
            .queue_purge("sink".into(), QueuePurgeOptions::default())
            .await
            .unwrap();
    };
    for (k, variant) in [Raw::Bare, Raw::OneHeader, Raw::Envelope]
        .into_iter()
        .enumerate()
    {
        let mut rounds = Vec::new();
        for round in 0..5 {
            let pair = if round % 2 == 0 {
                let a = ours(&uri, &store, rounds.len() + k * 10).await;
                purge().await;
                (a, raw(&uri, &messages, variant).await)
            } else {
                let b = raw(&uri, &messages, variant).await;
                purge().await;
                (ours(&uri, &store, rounds.len() + k * 10).await, b)
            };
            purge().await;
            rounds.push(pair);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        report(events, variant, &rounds);
    }
    drop(vhost);
}
