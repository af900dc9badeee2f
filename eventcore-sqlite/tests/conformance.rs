//! The whole eventcore conformance suite, unchanged, on an in-memory database and on a WAL
//! file database.

use std::sync::Arc;

use eventcore::testing::conformance::Backend;
use eventcore_sqlite::SqliteEventStore;

/// A fresh database file under the system temp directory.
pub fn temp_db() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join("eventcore-sqlite-tests");
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(format!("{}.db", uuid::Uuid::new_v4()))
}

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
