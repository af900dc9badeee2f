//! The runtime records a backend keeps for sagas (saga state, deadlines, the consumer inbox),
//! written in one transaction and read back through another handle.

use std::future::Future;
use std::time::{Duration, SystemTime};

use serde_json::value::to_raw_value;

use crate::durable::{DeadlineRecord, SagaRecord};
use crate::error::StoreError;
use crate::id::EventId;
use crate::transaction::{RuntimeStore, RuntimeTransaction, StoreTransaction};

/// Writes a saga record (with a stale save refused), three deadlines (one cancelled, twice) and
/// an inbox entry (recorded twice) in one transaction of `store`, then checks them through the
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
    (other, event_id)
}
