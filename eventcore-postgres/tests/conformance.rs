//! The whole eventcore conformance suite, unchanged, against the real PostgreSQL server.

mod common;

use std::sync::Arc;

use eventcore::testing::conformance::Backend;

eventcore::conformance_tests!(|| async {
    let store = common::fresh_store(20).await;
    Backend::new(store.clone(), Arc::new(store.snapshots()))
});
