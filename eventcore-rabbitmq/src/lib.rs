//! # eventcore-rabbitmq
//!
//! The log of an [`eventcore`] store published to RabbitMQ, and consumed by other services,
//! on the broker seam of [`eventcore::broker`]:
//!
//! - [`RabbitPublisher`] is the [`Publisher`](eventcore::broker::Publisher) of a
//!   [`Relay`](eventcore::broker::Relay): a durable topic exchange, routing key
//!   `<aggregate>.<event>`, persistent messages with the envelope as properties and headers
//!   (event id as message id, correlation id, type, stream, version, position, schema
//!   version), `mandatory` on, publisher confirms awaited per batch. The relay's checkpoint
//!   advances only after the batch was confirmed.
//! - [`RabbitConsumer`] consumes a durable queue through an
//!   [`Inbox`](eventcore::broker::Inbox): the handler's effects and the message's inbox record
//!   commit together, the delivery is acknowledged after that commit, a redelivered duplicate
//!   is skipped, a failing message is retried in place and then dead-lettered to
//!   `<queue>.dlq` with its reason.
//!
//! **Order with several consumer processes.** Every queue has a single active consumer, so one
//! process at a time handles it and another takes over when it goes; order within a stream
//! holds across a failover. For throughput, [`ConsumerOptions::with_partitions`] spreads the
//! messages over several queues by a hash of their stream ([`BUCKET`] header, no broker
//! plugin), handled side by side; one stream always lands in the same partition. Start the
//! consumers (their [`readiness`](RabbitConsumer::readiness)) before the relay publishes to
//! them: a batch routed only in part (a binding appearing mid-batch) is published again
//! whole, and the part that got through would be handled before its stream's earlier
//! messages.
//!
//! [`DeadLetters`] lists a consumer's dead letters and replays them to their original
//! exchange and routing key; the `eventcore-rabbitmq-dlq` binary does the same from a shell.
//!
//! **Operations.** [`RabbitConsumer::readiness`] and [`RabbitPublisher::is_ready`] answer a
//! readiness probe (not ready while reconnecting); both report counts to a
//! [`BrokerMetrics`](eventcore::broker::BrokerMetrics) (the relay through
//! [`Relay::with_metrics`](eventcore::broker::Relay::with_metrics)); every handled message runs
//! in a `handle_message` tracing span with its id, stream, version and correlation id, every
//! relayed batch in a `relay_publish` span.
//!
//! **Proof.** The crate's tests run the broker conformance suite of `eventcore::testing::brokers`
//! (shared with `eventcore-kafka`) against a real RabbitMQ, a vhost per test: per-stream order
//! with two relays racing and three consumers, retries and dead letters, the relay and consumer
//! crash points, closed connections and a broker restart under load, a clean shutdown, a stop not held up by a retry.
//! With the `testing` feature, [`testing::TestVhost`] gives your own tests a vhost each.

mod consumer;
mod dead_letters;
mod publisher;
#[cfg(feature = "testing")]
pub mod testing;
mod topology;
mod wire;

pub use consumer::{ConsumerError, ConsumerOptions, RabbitConsumer, Readiness};
pub use dead_letters::{DeadLetter, DeadLetters};
pub use publisher::RabbitPublisher;
pub use wire::{BUCKET, BUCKETS, WireError, bucket_of, message_of, properties};
