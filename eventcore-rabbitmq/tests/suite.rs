//! The broker conformance suite of `eventcore::testing::brokers` against the real RabbitMQ on
//! 127.0.0.1:5672, a vhost per test.

mod common;

eventcore::broker_tests!(common::harness::Rabbit::isolated);
