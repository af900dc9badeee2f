//! The runtime records a backend keeps for sagas (saga state, deadlines, the consumer inbox),
//! written in one transaction and read back through another handle; and their counts.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, SystemTime};

use serde_json::value::to_raw_value;

use crate::durable::{DeadlineRecord, RuntimeCounts, SagaRecord};
use crate::error::StoreError;
use crate::event::NewEvent;
use crate::id::EventId;
use crate::store::AppendRequest;
use crate::transaction::{DeadLetter, RuntimeStore, RuntimeTransaction, StoreTransaction};
use crate::version::ExpectedVersion;

/// Writes a saga record (with a stale save refused, then read back with others missing), three
/// deadlines (one cancelled, twice) and inbox entries (one recorded twice, then several at
/// once) in one transaction of `store`, then checks them through the
/// handle `reopen` gives (a new handle on the same database, or after a restart). Returns that
/// handle and the inbox's event id, for backend-specific checks.
///
/// # Panics
/// When a record is not as written.
pub async fn runtime_records_persist_for_another_handle<S, F, Fut>(
    store: S,
    reopen: F,
) -> (S, EventId)
where
    S: RuntimeStore,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = S>,
{
    let due = SystemTime::now() - Duration::from_secs(1);
    let later = SystemTime::now() + Duration::from_secs(3600);
    let event_id = EventId::new_random();
    let mut tx = store.begin().await.expect("begin");
    let record = SagaRecord {
        saga_type: "order".into(),
        saga_id: "o-1".into(),
        status: "running".into(),
        state: to_raw_value(&serde_json::json!({"step": "reserve"})).expect("json"),
        version: 0,
        updated_at: SystemTime::now(),
    };
    assert_eq!(tx.save_saga(&record, 0).await.expect("save"), 1);
    let stale = tx.save_saga(&record, 0).await;
    assert!(
        matches!(stale, Err(StoreError::SagaConflict { actual: 1, .. })),
        "got {stale:?}"
    );
    let compensating = SagaRecord {
        status: "compensating".into(),
        ..record
    };
    assert_eq!(tx.save_saga(&compensating, 1).await.expect("save"), 2);
    for (id, at) in [("d-due", due), ("d-later", later), ("d-cancelled", due)] {
        let deadline = DeadlineRecord {
            deadline_id: id.into(),
            saga_type: "order".into(),
            saga_id: "o-1".into(),
            due_at: at,
            payload: to_raw_value(&id).expect("json"),
        };
        tx.schedule_deadline(&deadline).await.expect("schedule");
    }
    assert!(tx.cancel_deadline("d-cancelled").await.expect("cancel"));
    assert!(!tx.cancel_deadline("d-cancelled").await.expect("cancel"));
    assert!(
        tx.record_processed("notifier", event_id)
            .await
            .expect("inbox")
    );
    assert!(
        !tx.record_processed("notifier", event_id)
            .await
            .expect("inbox"),
        "second time is a duplicate"
    );
    let (a, b) = (EventId::new_random(), EventId::new_random());
    assert_eq!(
        tx.record_all_processed("notifier", &[a, event_id, b, a])
            .await
            .expect("inbox"),
        [true, false, true, false],
        "new, recorded before, new, listed twice"
    );
    assert!(!tx.record_processed("notifier", b).await.expect("inbox"));
    let listed = ["o-1".to_owned(), "o-missing".to_owned()];
    let found = tx.sagas("order", &listed).await.expect("sagas");
    assert_eq!(found.len(), 1, "only those that exist");
    assert_eq!((found[0].saga_id.as_str(), found[0].version), ("o-1", 2));
    assert!(tx.sagas("order", &[]).await.expect("none asked").is_empty());
    tx.commit().await.expect("commit");

    let other = reopen(store).await;
    let saga = other
        .saga("order", "o-1")
        .await
        .expect("saga")
        .expect("saga persisted");
    assert_eq!((saga.status.as_str(), saga.version), ("compensating", 2));
    assert_eq!(saga.state.get(), r#"{"step":"reserve"}"#);
    let with = |status| other.sagas_with_status("order", status, 10);
    assert_eq!(with("compensating").await.expect("query").len(), 1);
    assert!(with("running").await.expect("query").is_empty());
    let fired: Vec<String> = other
        .deadlines_due("order", SystemTime::now(), 10)
        .await
        .expect("deadlines")
        .into_iter()
        .map(|d| d.deadline_id)
        .collect();
    assert_eq!(fired, ["d-due"], "only the due, uncancelled deadline");
    let all = other
        .deadlines_due("order", later + Duration::from_secs(1), 10)
        .await
        .expect("deadlines");
    assert_eq!(all.len(), 2);
    let mut tx = other.begin().await.expect("begin");
    // Several at once: a new one and an update; then one stale among them is refused.
    let second = SagaRecord {
        saga_id: "o-2".into(),
        ..saga.clone()
    };
    let versions = tx
        .save_sagas(&[(second.clone(), 0), (saga.clone(), 2)])
        .await
        .expect("saves both");
    assert_eq!(versions, [1, 3]);
    let stale = tx.save_sagas(&[(second, 1), (saga.clone(), 2)]).await;
    assert!(
        matches!(&stale, Err(StoreError::SagaConflict { saga_id, expected: 2, actual: 3, .. }) if saga_id == "o-1"),
        "got {stale:?}"
    );
    drop(tx); // rolled back: the records stay as the caller checks them
    (other, event_id)
}

/// [`RuntimeStore::counts`] on a fresh store: nothing at first, nothing a transaction wrote
/// until it commits, then exactly the events per type, sagas per type and status (as saved
/// last, not every save) and dead letters per consumer.
///
/// # Panics
/// When a count is wrong.
pub async fn counts_report_events_sagas_and_dead_letters<S: RuntimeStore>(store: S) {
    assert_eq!(
        store.counts().await.expect("counts"),
        RuntimeCounts::default()
    );
    let raw = |v: serde_json::Value| to_raw_value(&v).expect("json");
    let event = |t: &str| NewEvent::raw(t, 1, raw(serde_json::json!({})));
    let stream = crate::testing::conformance::fresh_stream("counted");
    let events = vec![event("Opened"), event("Opened"), event("Closed")];
    let saga = |saga_type: &str, saga_id: &str, status: &str| SagaRecord {
        saga_type: saga_type.into(),
        saga_id: saga_id.into(),
        status: status.into(),
        state: raw(serde_json::json!({})),
        version: 0,
        updated_at: SystemTime::now(),
    };
    let mut tx = store.begin().await.expect("begin");
    tx.append(AppendRequest::single(
        stream,
        ExpectedVersion::NoStream,
        events,
    ))
    .await
    .expect("append");
    for (saga_type, id, status) in [
        ("order", "o-1", "active"),
        ("order", "o-2", "parked"),
        ("refund", "r-1", "active"),
    ] {
        tx.save_saga(&saga(saga_type, id, status), 0)
            .await
            .expect("save");
    }
    for (consumer, position) in [("mailer", 1), ("mailer", 2), ("ledger", 3)] {
        let letter = DeadLetter {
            consumer: consumer.into(),
            position,
            event_id: EventId::new_random(),
            event_type: "Opened".into(),
            error: "poison".into(),
            attempts: 3,
            failed_at: SystemTime::now(),
        };
        tx.record_dead_letter(&letter).await.expect("dead letter");
    }
    let before = store.counts().await.expect("counts");
    assert_eq!(
        before,
        RuntimeCounts::default(),
        "uncommitted records count"
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    let done = saga("order", "o-1", "completed");
    assert_eq!(tx.save_saga(&done, 1).await.expect("save"), 2);
    tx.commit().await.expect("commit");

    let counts = store.counts().await.expect("counts");
    let map = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    };
    assert_eq!(counts.events, map(&[("Closed", 1), ("Opened", 2)]));
    let sagas: BTreeMap<String, BTreeMap<String, u64>> = [
        ("order".to_owned(), map(&[("completed", 1), ("parked", 1)])),
        ("refund".to_owned(), map(&[("active", 1)])),
    ]
    .into();
    assert_eq!(counts.sagas, sagas);
    assert_eq!(counts.dead_letters, map(&[("ledger", 1), ("mailer", 2)]));
    assert_eq!(counts.sagas_with_status("active"), 1);
    let per_status = map(&[("active", 1), ("completed", 1), ("parked", 1)]);
    assert_eq!(counts.sagas_per_status(), per_status);
    assert_eq!(counts.dead_letter_total(), 3);
}
