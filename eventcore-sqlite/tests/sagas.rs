//! The eventcore saga suite, including the crash simulation, on a WAL file database.

mod common;

use eventcore_sqlite::SqliteEventStore;

eventcore::saga_tests!(|| async {
    SqliteEventStore::open(common::temp_db())
        .await
        .expect("file database")
});
