//! # eventcore-kafka
//!
//! The log of an [`eventcore`] store produced to Kafka and consumed by consumer groups in other
//! services, on the broker seam of [`eventcore::broker`] (the same as `eventcore-rabbitmq`):
//!
//! - [`KafkaPublisher`] is the [`Publisher`](eventcore::broker::Publisher) of a
//!   [`Relay`](eventcore::broker::Relay): the idempotent producer (`enable.idempotence`,
//!   `acks=all`), the stream id as the key (so one stream's events stay in one partition, in
//!   order), every envelope field as a header ([`wire::header`]), one topic or a topic per
//!   aggregate type ([`Topics`]). The relay's checkpoint advances only after every delivery
//!   report of the batch succeeded.
//! - [`KafkaConsumer`] is a consumer-group member applying records through an
//!   [`Inbox`](eventcore::broker::Inbox): the handler's effects and the record's inbox entry
//!   commit together; only then is the partition's offset committed past it; a redelivered
//!   record (after a crash or a rebalance) is skipped; a failing record is retried in place,
//!   then dead-lettered to `<group>.dlq` with the error, the attempt count and its original
//!   topic, partition, offset and key; a malformed one at once.
//! - [`DeadLetters`] lists and replays a dead-letter topic; the `eventcore-kafka-dlq` binary
//!   does the same from a shell. [`ensure_topics`] creates topics with a chosen number of
//!   partitions.
//!
//! **Operations.** [`KafkaConsumer::readiness`] and [`KafkaPublisher::is_ready`] answer a
//! readiness probe; both report counts to a [`BrokerMetrics`](eventcore::broker::BrokerMetrics);
//! every handled record runs in a `handle_message` span with its correlation id, every relayed
//! batch in a `relay_publish` span. librdkafka reconnects by itself.
//!
//! **Proof.** The crate's tests run the broker conformance suite of `eventcore::testing::brokers`
//! (shared with `eventcore-rabbitmq`) against a real Kafka-protocol broker, plus a rebalance
//! test; see `docs/kafka.md`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventcore::broker::{HandlerError, Inbox, Message, MessageHandler};
//! use eventcore::{InMemoryEventStore, InMemoryTransaction};
//! use eventcore_kafka::{ConsumerOptions, KafkaConsumer};
//!
//! struct Print;
//!
//! #[eventcore::async_trait]
//! impl MessageHandler<InMemoryTransaction> for Print {
//!     async fn handle(&self, _: &mut InMemoryTransaction, m: &Message) -> Result<(), HandlerError> {
//!         println!("{} {} v{}", m.routing_key, m.stream, m.stream_version);
//!         Ok(())
//!     }
//! }
//!
//! let store = InMemoryEventStore::new();
//! let consumer = KafkaConsumer::new(
//!     "127.0.0.1:9092",
//!     ConsumerOptions::new("billing", &["shop.order"]),
//!     Inbox::new(store, "billing"),
//!     Print,
//! );
//! let ready = consumer.readiness();
//! consumer.run(std::future::pending()).await?; // or a shutdown signal
//! # Ok(()) }
//! ```

mod admin;
mod consumer;
mod dead_letters;
mod group;
mod publisher;
pub mod wire;

pub use admin::{delete_topics, ensure_topics};
pub use consumer::{ConsumerError, ConsumerOptions, KafkaConsumer, Readiness};
pub use dead_letters::{DeadLetter, DeadLetters};
pub use publisher::{KafkaPublisher, Topics};
