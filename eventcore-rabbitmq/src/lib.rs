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
//! Not yet here (issue #13 goes on): per-stream partition queues for several consumer
//! processes, batched multi-acks, an operator API and CLI for dead letters, readiness
//! probes and metrics hooks.

mod consumer;
mod publisher;
mod wire;

pub use consumer::{ConsumerError, ConsumerOptions, RabbitConsumer};
pub use publisher::RabbitPublisher;
pub use wire::{WireError, message_of};
