//! The seam between the log and a message broker, shared by the broker adapters
//! (`eventcore-rabbitmq`, `eventcore-kafka`).
//!
//! - **Out**: the log is the outbox. A [`Relay`] is a [`Projection`](crate::projection::Projection)
//!   whose batch is published through a [`Publisher`] and confirmed by the broker before the
//!   projection runner advances its checkpoint in the same transaction. A relay that crashes
//!   after publishing and before its checkpoint commits publishes that batch again: duplicates
//!   on the wire, never a gap. Replicas of one relay take turns on its checkpoint.
//! - **In**: a consumer turns at-least-once delivery into an effect applied once.
//!   [`Inbox::apply`] runs a [`MessageHandler`] inside a store transaction together with the
//!   message's inbox record, so the handler's commands, read-model writes and the record of
//!   the message commit together; a redelivered message is skipped.
//! - **Across**: [`Mirror`] is the handler that appends another service's events to this
//!   store as they were (same ids, streams and versions), so local sagas and projections
//!   follow them: the replies to commands sent as messages, another context's catalogue.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventcore::broker::{Message, Relay};
//! use eventcore::projection::{ErrorPolicy, ProjectionOptions, ProjectionRunner};
//! use eventcore::testing::broker::RecordingPublisher;
//! use eventcore::testing::counter::{Counter, CounterCommand};
//! use eventcore::{InMemoryEventStore, Repository};
//!
//! let store = InMemoryEventStore::new();
//! let wire = RecordingPublisher::default();
//! let relay = Relay::new(wire.clone()).only_categories(["counter"]);
//! let running = ProjectionRunner::new(store.clone())
//!     .add("relay:counters", relay, ProjectionOptions::default()
//!         .with_policy(ErrorPolicy::retry_forever()))
//!     .start()?;
//! let events = Repository::<Counter>::new(store.clone())
//!     .execute(CounterCommand::add("visits", 2))
//!     .await?;
//! running.wait_until("relay:counters", events[0].global_position).await?;
//! let sent: Vec<Message> = wire.messages();
//! assert_eq!(sent[0].routing_key, "counter.added");
//! assert_eq!(sent[0].message_id, events[0].event_id);
//! # running.shutdown().await?;
//! # Ok(()) }
//! ```

mod inbox;
mod message;
mod metrics;
mod mirror;
mod relay;
mod settle;
mod stop;

pub use inbox::{Handled, HandlerError, Inbox, MessageHandler};
pub use message::{Message, WireError, routing_key};
pub use metrics::{BrokerMetrics, NoMetrics};
pub use mirror::Mirror;
pub use relay::{PublishError, Publisher, Relay};
pub use settle::GivenUp;
pub use stop::{Finished, STOP_GRACE, finish_or_drop};
