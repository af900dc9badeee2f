//! The Kafka adapter under the broker conformance suite of `eventcore::testing::brokers`: each
//! test gets a Kafka-protocol broker of its own (tansu, memory storage, started in
//! milliseconds) behind a TCP proxy that can cut every client connection; the broker is
//! paused with SIGSTOP / SIGCONT (its storage is memory-only, a restart would lose it) and
//! killed by its pid when the test ends.

#![allow(dead_code)]

pub mod broker;
pub mod harness;

pub use broker::Tansu;
