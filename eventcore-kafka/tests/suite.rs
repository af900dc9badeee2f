//! The broker conformance suite of `eventcore::testing::brokers` against a real Kafka-protocol
//! broker (tansu), one per test.

mod common;

eventcore::broker_tests!(common::harness::Kafka::isolated);
