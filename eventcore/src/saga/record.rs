//! A saga instance as stored: its document loaded from and saved to the store's saga record,
//! with the deadline records a transition sets or cancels.

use super::Saga;
use super::bus::CommandBus;
use super::document::{DeadlineChanges, Document};
use super::error::{SagaError, record_error};
use super::manager::SagaManager;
use super::status::SagaStatus;
use crate::durable::{DeadlineRecord, SagaRecord};
use crate::transaction::{RuntimeStore, RuntimeTransaction, StoreTransaction};

/// The stored deadline's payload: which deadline of the instance it is.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct DeadlinePayload {
    pub(super) name: String,
}

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Instance `id`'s document and record version, read inside `tx` (a new instance:
    /// the default document at version 0).
    pub(super) async fn load(
        &self,
        tx: &mut T::Transaction,
        id: &str,
    ) -> Result<(Document<S>, u64), SagaError> {
        document_of(tx.saga(S::TYPE, id).await?.as_ref())
    }

    /// Saves `document` over the record at `version`, setting and cancelling the deadlines in
    /// `changes`, inside `tx`.
    pub(super) async fn save(
        &self,
        tx: &mut T::Transaction,
        id: &str,
        document: &Document<S>,
        version: u64,
        changes: DeadlineChanges,
    ) -> Result<(), SagaError> {
        let save = Save {
            id,
            document,
            version,
            changes,
        };
        self.save_all(tx, vec![save]).await.map(drop)
    }

    /// [`save`](Self::save) for several instances (each at most once) with the store's batch
    /// statements: the deadlines set, then those cancelled, then the records. The records as
    /// they are once `tx` commits (each at its new version).
    pub(super) async fn save_all(
        &self,
        tx: &mut T::Transaction,
        saves: Vec<Save<'_, S>>,
    ) -> Result<Vec<SagaRecord>, SagaError> {
        let now = self.clock.now();
        let mut cancels = Vec::new();
        let mut records = Vec::with_capacity(saves.len());
        for save in saves {
            let Save {
                id,
                document,
                version,
                changes,
            } = save;
            // A deadline set already due is the dispatcher's to fire at once.
            let deadline_due = changes.set.iter().any(|(_, due_at)| *due_at <= now);
            // Sets first: a name both set and cancelled (a deadline in a reaction that also
            // compensates) ends up cancelled, as in the document.
            for (name, due_at) in changes.set {
                let payload =
                    serde_json::value::to_raw_value(&DeadlinePayload { name: name.clone() })
                        .map_err(|e| record_error(id, e))?;
                let deadline = DeadlineRecord {
                    deadline_id: deadline_id::<S>(id, &name),
                    saga_type: S::TYPE.to_owned(),
                    saga_id: id.to_owned(),
                    due_at,
                    payload,
                };
                tx.schedule_deadline(&deadline).await?;
            }
            cancels.extend(changes.cancel.iter().map(|name| deadline_id::<S>(id, name)));
            let state =
                serde_json::value::to_raw_value(document).map_err(|e| record_error(id, e))?;
            let record = SagaRecord {
                saga_type: S::TYPE.to_owned(),
                saga_id: id.to_owned(),
                status: document.saga_status().as_str().to_owned(),
                state,
                version,
                updated_at: now,
            };
            records.push((record, version));
            // Once committed: waiters on this instance look again, and the dispatcher wakes if
            // the instance has a step to run or a deadline due.
            let (watched, id, status) =
                (self.watched.clone(), id.to_owned(), document.saga_status());
            let steps = matches!(status, SagaStatus::Dispatching | SagaStatus::Compensating);
            let wake = (steps || deadline_due).then(|| self.wake.clone());
            tx.after_commit(Box::new(move || {
                watched.changed(&id, status);
                if let Some(wake) = wake {
                    wake.notify_one();
                }
            }));
        }
        if !cancels.is_empty() {
            tx.cancel_deadlines(&cancels).await?;
        }
        if !records.is_empty() {
            tx.save_sagas(&records).await?;
        }
        let saved = records.into_iter().map(|(mut record, version)| {
            record.version = version + 1;
            record
        });
        Ok(saved.collect())
    }
}

/// An instance's document to save over its record at `version`, with the deadline changes
/// that go with it.
pub(super) struct Save<'a, S: Saga> {
    pub(super) id: &'a str,
    pub(super) document: &'a Document<S>,
    /// The record's version when read (0: new).
    pub(super) version: u64,
    pub(super) changes: DeadlineChanges,
}

/// The id of deadline `name` of instance `id`.
fn deadline_id<S: Saga>(id: &str, name: &str) -> String {
    format!("{}/{id}/{name}", S::TYPE)
}

/// The document stored in `record` and its version; a new instance's (the default document at
/// version 0) without one.
pub(super) fn document_of<S: Saga>(
    record: Option<&SagaRecord>,
) -> Result<(Document<S>, u64), SagaError> {
    match record {
        None => Ok((Document::default(), 0)),
        Some(record) => Ok((parse(record)?, record.version)),
    }
}

/// The document stored in `record`.
pub(super) fn parse<S: Saga>(record: &SagaRecord) -> Result<Document<S>, SagaError> {
    serde_json::from_str(record.state.get()).map_err(|e| record_error(&record.saga_id, e))
}
