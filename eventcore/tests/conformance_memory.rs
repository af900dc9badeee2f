//! The in-memory backend runs the whole conformance suite.

use std::sync::Arc;

use eventcore::testing::conformance::Backend;
use eventcore::{InMemoryEventStore, InMemorySnapshotStore};

eventcore::conformance_tests!(|| async {
    Backend::new(
        InMemoryEventStore::new(),
        Arc::new(InMemorySnapshotStore::new()),
    )
});
