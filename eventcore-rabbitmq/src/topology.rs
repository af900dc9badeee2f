//! What a consumer declares: its queues (one, or one per partition), their bindings, and its
//! dead-letter queue. Idempotent, declared again after every reconnection.
//!
//! Per-stream order with several consumer processes: every queue has a single active consumer
//! (`x-single-active-consumer`), so one process at a time handles it and another takes over
//! when it goes away. With `partitions` > 1, the consumer's bindings route into a headers
//! exchange `<queue>.route`, which spreads the messages over `<queue>.p0` ... by the message's
//! [`BUCKET`](crate::wire::BUCKET) header (a hash of its stream, one of
//! [`BUCKETS`](crate::wire::BUCKETS)): a stream always lands in the same partition, and the
//! partitions are handled side by side. No broker plugin is needed.

use lapin::options::{
    ExchangeBindOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::consumer::ConsumerOptions;
use crate::wire::{BUCKET, BUCKETS};

/// The queues a consumer consumes: `<queue>` alone, or `<queue>.p<k>` for each partition.
pub(crate) fn queues(options: &ConsumerOptions) -> Vec<String> {
    if options.partitions <= 1 {
        vec![options.queue.clone()]
    } else {
        (0..options.partitions)
            .map(|k| format!("{}.p{k}", options.queue))
            .collect()
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Declares the consumer's topology on `channel`, below the topic exchange `exchange`.
pub(crate) async fn declare(
    channel: &Channel,
    exchange: &str,
    options: &ConsumerOptions,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(
            options.dead_letter_queue().as_str().into(),
            durable(),
            FieldTable::default(),
        )
        .await?;
    let mut single = FieldTable::default();
    single.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
    let queues = queues(options);
    for queue in &queues {
        channel
            .queue_declare(queue.as_str().into(), durable(), single.clone())
            .await?;
    }
    if let [queue] = &queues[..] {
        for binding in &options.bindings {
            channel
                .queue_bind(
                    queue.as_str().into(),
                    exchange.into(),
                    binding.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        return Ok(());
    }
    let route = format!("{}.route", options.queue);
    channel
        .exchange_declare(
            route.as_str().into(),
            ExchangeKind::Headers,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    for binding in &options.bindings {
        channel
            .exchange_bind(
                route.as_str().into(),
                exchange.into(),
                binding.as_str().into(),
                ExchangeBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    for bucket in 0..BUCKETS {
        let queue = &queues[usize::from(bucket) % queues.len()];
        let mut matching = FieldTable::default();
        matching.insert(
            "x-match".into(),
            AMQPValue::LongString(LongString::from("all")),
        );
        matching.insert(
            BUCKET.into(),
            AMQPValue::LongString(LongString::from(bucket.to_string())),
        );
        channel
            .queue_bind(
                queue.as_str().into(),
                route.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                matching,
            )
            .await?;
    }
    Ok(())
}
