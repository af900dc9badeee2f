//! The eventcore saga suite, including the crash simulation, against the real server.

mod common;

eventcore::saga_tests!(|| async { common::fresh_store(8).await });
