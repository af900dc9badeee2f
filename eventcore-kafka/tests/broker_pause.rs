//! The broker suite's restart case on Kafka: the broker paused (SIGSTOP) for 3 s under load
//! and resumed (SIGCONT) — its storage is memory-only, so a restart would lose the log.

mod common;

eventcore::broker_restart_test!(common::harness::Kafka::isolated);
