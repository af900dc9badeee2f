//! The testing kit (feature `testing`): a given/when/then aggregate fixture, a small sample
//! aggregate, and the backend conformance suite every storage crate runs unchanged.

pub mod broker;
pub mod brokers;
pub mod conformance;
pub mod counter;
mod fixture;
pub mod projections;
mod rng;
mod saga_fixture;
pub mod sagas;

pub use fixture::{AggregateFixture, Then};
pub use rng::Rng;
pub use saga_fixture::SagaFixture;
