//! The saga suite, including the crash simulation, on the in-memory backend.

use eventcore::InMemoryEventStore;

eventcore::saga_tests!(|| async { InMemoryEventStore::new() });
