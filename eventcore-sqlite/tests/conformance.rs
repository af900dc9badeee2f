//! The whole eventcore conformance suite, unchanged, on an in-memory database and on a WAL
//! file database.

use std::sync::Arc;

use eventcore::testing::conformance::Backend;
mod common;

use common::temp_db;
use eventcore_sqlite::SqliteEventStore;

mod in_memory {
    use super::*;

    eventcore::conformance_tests!(|| async {
        let store = SqliteEventStore::open_in_memory()
            .await
            .expect("in-memory database");
        Backend::new(store.clone(), Arc::new(store.snapshots()))
    });
}

mod file {
    use super::*;

    eventcore::conformance_tests!(|| async {
        let store = SqliteEventStore::open(temp_db())
            .await
            .expect("file database");
        Backend::new(store.clone(), Arc::new(store.snapshots()))
    });
}
