//! The saga suite, including the crash simulation, on the in-memory backend.

use eventcore::InMemoryEventStore;

eventcore::saga_tests!(|| async { InMemoryEventStore::new() });

#[tokio::test]
async fn runtime_records_persist_for_another_handle() {
    let store = InMemoryEventStore::new();
    eventcore::testing::sagas::runtime_records_persist_for_another_handle(store, |s| async move {
        s.clone()
    })
    .await;
}
