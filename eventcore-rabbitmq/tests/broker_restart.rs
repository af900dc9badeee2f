//! The broker suite's restart case: the broker application stopped and started under load
//! (`rabbitmqctl stop_app`, `start_app`). It stops the whole broker for a few seconds, so it
//! runs alone in its binary.

mod common;

eventcore::broker_restart_test!(common::harness::Rabbit::isolated);
