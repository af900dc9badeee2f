//! The transaction seam the runtimes (projections, sagas) build on: a backend opens a
//! transaction on its database, and everything a runtime records in it (a read model's rows,
//! a checkpoint, a dead letter) commits together or not at all.

use std::time::SystemTime;

use async_trait::async_trait;

use crate::durable::{DeadlineRecord, RuntimeCounts, SagaRecord};
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::id::EventId;
use crate::store::{AppendRequest, EventReader};
use crate::tx_states::TransactionStates;

/// An event a projection gave up on, kept with the error so an operator can see and replay it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The projection (or handler) that failed.
    pub consumer: String,
    /// The event's global position.
    pub position: u64,
    /// The event's id.
    pub event_id: EventId,
    /// The event's type.
    pub event_type: String,
    /// The last error, as text.
    pub error: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When it was given up on.
    pub failed_at: SystemTime,
}

impl DeadLetter {
    /// The dead letter for `event`, failed now.
    pub(crate) fn new(consumer: &str, event: &RecordedEvent, error: String, attempts: u32) -> Self {
        Self {
            consumer: consumer.to_owned(),
            position: event.global_position,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            error,
            attempts,
            failed_at: SystemTime::now(),
        }
    }
}

/// One transaction on a backend's database. Dropping it without [`commit`](Self::commit)
/// rolls everything in it back.
///
/// This is what applications and consumers use: append events, move a checkpoint and record a
/// processed message in one commit, beside their own writes through the backend's connection
/// (`SqliteTransaction::connection`, `PgTransaction::connection`). The runtime records that
/// only projections and sagas need are in
/// [`backend::RuntimeTransaction`](crate::backend::RuntimeTransaction).
///
/// # Contract
/// - Everything done through the transaction commits together, or nothing does.
/// - An operation of this trait whose future is dropped before it completes (a timeout, a
///   cancelled task) poisons the transaction: every later operation and
///   [`commit`](Self::commit) fail with [`StoreError::TransactionAborted`]
///   ([`AbortReason::Cancelled`](crate::AbortReason)), and nothing of the transaction is
///   stored. SQL you run yourself through the backend's connection is yours to guard: if you
///   cancel it midway, roll the transaction back.
/// - [`StoreError::TransactionAborted`] from any operation means the same: start over in a
///   new transaction.
#[async_trait]
pub trait StoreTransaction: Send + 'static {
    /// Appends within the transaction, under the
    /// [`EventAppender::append`](crate::EventAppender::append) contract: on an error nothing of
    /// this append is written and (unless the error is [`StoreError::TransactionAborted`]) the
    /// transaction may go on. The events become visible to others when the transaction
    /// commits.
    ///
    /// # Errors
    /// As [`EventAppender::append`](crate::EventAppender::append), plus
    /// [`StoreError::TransactionAborted`].
    async fn append(&mut self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Declares that this transaction may append events, before it writes anything else (an
    /// inbox record, a checkpoint, your own SQL). Call it first in a transaction that writes
    /// before it appends. It changes nothing on backends that serialise writers; on
    /// PostgreSQL the transaction joins the log's writers now, so log readers wait for it
    /// from here on (as for any appending transaction), and its appends cannot be refused
    /// with [`AbortReason::Overtaken`](crate::AbortReason::Overtaken), which a transaction
    /// that wrote first gets once events from later transactions were committed.
    ///
    /// # Errors
    /// Backend failures and [`StoreError::TransactionAborted`].
    async fn will_append(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// [`EventReader::read_stream`](crate::EventReader::read_stream) as this transaction sees
    /// the log: committed events and its own appends.
    ///
    /// # Errors
    /// As [`EventReader::read_stream`](crate::EventReader::read_stream), plus
    /// [`StoreError::TransactionAborted`].
    async fn read_stream(
        &mut self,
        stream: &crate::StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// [`EventReader::read_for_command`](crate::EventReader::read_for_command) as this
    /// transaction sees the log: committed events and its own appends. What
    /// [`Repository::execute_in`](crate::Repository::execute_in) loads a command's aggregate
    /// with.
    ///
    /// # Errors
    /// As [`EventReader::read_for_command`](crate::EventReader::read_for_command), plus
    /// [`StoreError::TransactionAborted`].
    async fn read_for_command(
        &mut self,
        stream: &crate::StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<crate::CommandRead, StoreError>;

    /// The checkpoint named `name`, held for this transaction: no other transaction can move
    /// it before this one ends (or, on backends that check at commit, this one's commit fails
    /// if another did). Runners of the same projection rely on it to never both apply a batch.
    ///
    /// # Errors
    /// Backend failures.
    async fn checkpoint(&mut self, name: &str) -> Result<Option<u64>, StoreError>;

    /// Sets the checkpoint named `name` to `position`.
    ///
    /// # Errors
    /// Backend failures.
    async fn save_checkpoint(&mut self, name: &str, position: u64) -> Result<(), StoreError>;

    /// Moves the checkpoint named `name` from `from` to `to` if it is still at `from` (an
    /// absent checkpoint is at 0), holding it for this transaction like
    /// [`checkpoint`](Self::checkpoint); `Some(stored)` (and nothing changed) if it is
    /// elsewhere. What a projection runner does per batch. The default is
    /// [`checkpoint`](Self::checkpoint) then [`save_checkpoint`](Self::save_checkpoint); a
    /// backend may do it in one statement (both SQL backends do).
    ///
    /// # Errors
    /// Backend failures.
    async fn advance_checkpoint(
        &mut self,
        name: &str,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, StoreError> {
        crate::backend::advance_checkpoint_in_two_steps(self, name, from, to).await
    }

    /// Records that `consumer` processed `event_id` (its inbox); `false` when it already had,
    /// in which case skip the event's effects.
    ///
    /// # Errors
    /// Backend failures.
    async fn record_processed(
        &mut self,
        consumer: &str,
        event_id: EventId,
    ) -> Result<bool, StoreError>;

    /// [`record_processed`](Self::record_processed) for each of `event_ids` in turn: for each,
    /// whether it was new (an id listed twice is new only the first time). The default records
    /// them one at a time; a backend may do it in one statement (the PostgreSQL and SQLite
    /// stores do).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use eventcore::{EventId, InMemoryEventStore, StoreTransaction, TransactionalStore};
    ///
    /// let (a, b) = (EventId::new_random(), EventId::new_random());
    /// let mut tx = InMemoryEventStore::new().begin().await.unwrap();
    /// assert!(tx.record_processed("billing", a).await.unwrap());
    /// let new = tx.record_all_processed("billing", &[a, b, b]).await.unwrap();
    /// assert_eq!(new, [false, true, false]);
    /// # });
    /// ```
    ///
    /// # Errors
    /// Backend failures.
    async fn record_all_processed(
        &mut self,
        consumer: &str,
        event_ids: &[EventId],
    ) -> Result<Vec<bool>, StoreError> {
        let mut new = Vec::with_capacity(event_ids.len());
        for event_id in event_ids {
            new.push(self.record_processed(consumer, *event_id).await?);
        }
        Ok(new)
    }

    /// Runs `callback` once this transaction has committed, and never if it fails to commit,
    /// rolls back or is dropped: for in-process state that may only reflect committed data
    /// (what [`Repository::execute_in`](crate::Repository::execute_in) keeps of long streams
    /// between transactions). Callbacks run in the order given, on the task that committed,
    /// right after the commit; keep them short and non-blocking. The default drops `callback`
    /// (it never runs), which is always correct but slower: `execute_in` then reads long
    /// streams whole, and saga managers notice their own changes only on their poll interval.
    /// The backends of this workspace override it.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use eventcore::{InMemoryEventStore, StoreTransaction, TransactionalStore};
    ///
    /// let store = InMemoryEventStore::new();
    /// let committed_orders = Arc::new(AtomicU64::new(0));
    ///
    /// let mut tx = store.begin().await.unwrap();
    /// let count = committed_orders.clone();
    /// tx.after_commit(Box::new(move || { count.fetch_add(1, Ordering::SeqCst); }));
    /// drop(tx); // rolled back: the callback never runs
    ///
    /// let mut tx = store.begin().await.unwrap();
    /// let count = committed_orders.clone();
    /// tx.after_commit(Box::new(move || { count.fetch_add(1, Ordering::SeqCst); }));
    /// tx.commit().await.unwrap();
    /// assert_eq!(committed_orders.load(Ordering::SeqCst), 1);
    /// # });
    /// ```
    fn after_commit(&mut self, callback: Box<dyn FnOnce() + Send>) {
        drop(callback);
    }

    /// The aggregate states this transaction's own commands left behind, kept for the next
    /// command on the same stream in the same transaction (see [`TransactionStates`]), or
    /// `None`. The default keeps none, which is always correct but slower:
    /// [`Repository::execute_in`](crate::Repository::execute_in) then reads a stream that the
    /// transaction wrote to whole again for each further command on it. The backends of this
    /// workspace override it (with [`TxGuard::states`](crate::backend::TxGuard::states)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use eventcore::{InMemoryEventStore, StoreTransaction, TransactionalStore};
    ///
    /// let mut tx = InMemoryEventStore::new().begin().await.unwrap();
    /// assert!(tx.own_states().is_some_and(|states| states.is_empty()));
    /// # });
    /// ```
    fn own_states(&mut self) -> Option<&mut TransactionStates> {
        None
    }

    /// Commits everything done in the transaction.
    ///
    /// # Errors
    /// [`StoreError::TransactionAborted`] after a cancelled or aborted operation (the
    /// transaction is rolled back); backend failures.
    async fn commit(self) -> Result<(), StoreError>;
}

/// A store whose transactions cover appends, checkpoints and an inbox beside the log (and the
/// caller's own tables in the same database).
#[async_trait]
pub trait TransactionalStore: EventReader + Clone + 'static {
    /// The store's transaction.
    type Transaction: StoreTransaction;

    /// Opens a transaction.
    ///
    /// # Errors
    /// Backend failures.
    async fn begin(&self) -> Result<Self::Transaction, StoreError>;

    /// Opens a transaction that is going to append:
    /// [`begin`](Self::begin), then [`StoreTransaction::will_append`]. Backends that can do
    /// both at once override it (PostgreSQL, in one round trip).
    ///
    /// # Errors
    /// As [`begin`](Self::begin) and [`will_append`](StoreTransaction::will_append).
    async fn begin_appending(&self) -> Result<Self::Transaction, StoreError> {
        let mut tx = self.begin().await?;
        tx.will_append().await?;
        Ok(tx)
    }

    /// The committed checkpoint named `name`.
    ///
    /// # Errors
    /// Backend failures.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// The dead letters of `consumer`, in position order, at most `limit`.
    ///
    /// # Errors
    /// Backend failures.
    async fn dead_letters(
        &self,
        consumer: &str,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError>;
}

/// The runtime records of projections and sagas, beside the log: what a backend implements so
/// that [`ProjectionRunner`](crate::projection::ProjectionRunner) and
/// [`SagaManager`](crate::saga::SagaManager) can run on it.
#[async_trait]
pub trait RuntimeTransaction: StoreTransaction {
    /// Records a dead letter (one per consumer and position; recording it again replaces it).
    async fn record_dead_letter(&mut self, letter: &DeadLetter) -> Result<(), StoreError>;

    /// The saga instance's record, as this transaction sees it.
    async fn saga(
        &mut self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Option<SagaRecord>, StoreError>;

    /// The records of the instances `saga_ids` that exist, as this transaction sees them, in
    /// no particular order. The default reads them one at a time; a backend may read them in
    /// one statement (the PostgreSQL and SQLite stores do).
    async fn sagas(
        &mut self,
        saga_type: &str,
        saga_ids: &[String],
    ) -> Result<Vec<SagaRecord>, StoreError> {
        let mut found = Vec::with_capacity(saga_ids.len());
        for saga_id in saga_ids {
            found.extend(self.saga(saga_type, saga_id).await?);
        }
        Ok(found)
    }

    /// Saves the saga's record if its stored version is `expected_version` (0 = new) and
    /// returns the new version; [`StoreError::SagaConflict`] otherwise.
    async fn save_saga(
        &mut self,
        record: &SagaRecord,
        expected_version: u64,
    ) -> Result<u64, StoreError>;

    /// Schedules (or reschedules, by id) a durable deadline.
    async fn schedule_deadline(&mut self, deadline: &DeadlineRecord) -> Result<(), StoreError>;

    /// Cancels a deadline (also used once it fired); `false` when there was none.
    async fn cancel_deadline(&mut self, deadline_id: &str) -> Result<bool, StoreError>;

    /// [`save_saga`](Self::save_saga) for each `(record, expected_version)`, each instance at
    /// most once: their new versions. On [`StoreError::SagaConflict`] (for the first listed
    /// that differs) others may have been saved: roll the transaction back. The default saves
    /// them one at a time; a backend may do it in a statement or two (the PostgreSQL and
    /// SQLite stores do).
    async fn save_sagas(&mut self, saves: &[(SagaRecord, u64)]) -> Result<Vec<u64>, StoreError> {
        let mut versions = Vec::with_capacity(saves.len());
        for (record, expected_version) in saves {
            versions.push(self.save_saga(record, *expected_version).await?);
        }
        Ok(versions)
    }

    /// [`cancel_deadline`](Self::cancel_deadline) for each of `deadline_ids`. The default
    /// cancels them one at a time; a backend may do it in one statement (the PostgreSQL and
    /// SQLite stores do).
    async fn cancel_deadlines(&mut self, deadline_ids: &[String]) -> Result<(), StoreError> {
        for deadline_id in deadline_ids {
            self.cancel_deadline(deadline_id).await?;
        }
        Ok(())
    }
}

/// The store side of [`RuntimeTransaction`]: committed runtime records, for the runtimes'
/// background work and operator queries.
#[async_trait]
pub trait RuntimeStore: TransactionalStore<Transaction: RuntimeTransaction> {
    /// The committed record of a saga instance.
    async fn saga(&self, saga_type: &str, saga_id: &str) -> Result<Option<SagaRecord>, StoreError>;

    /// Up to `limit` sagas of `saga_type` with `status`, least recently updated first.
    async fn sagas_with_status(
        &self,
        saga_type: &str,
        status: &str,
        limit: usize,
    ) -> Result<Vec<SagaRecord>, StoreError>;

    /// Up to `limit` deadlines of `saga_type` due at `now` or earlier, earliest first.
    async fn deadlines_due(
        &self,
        saga_type: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<DeadlineRecord>, StoreError>;

    /// The pending deadlines of one saga instance, earliest first.
    async fn deadlines_of(
        &self,
        saga_type: &str,
        saga_id: &str,
    ) -> Result<Vec<DeadlineRecord>, StoreError>;

    /// How many events the log holds at positions up to and including `position` (for
    /// progress reports: positions need not be dense).
    async fn count_events_through(&self, position: u64) -> Result<u64, StoreError>;

    /// How many events (per type), saga instances (per type and status) and dead letters (per
    /// consumer) the store holds now: what a `/metrics` endpoint reports. Each is a grouped
    /// count of its table, so a large log makes it a scan: call it when scraped, not per
    /// request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use eventcore::testing::counter::{Counter, CounterCommand};
    /// use eventcore::{InMemoryEventStore, Repository, RuntimeStore};
    ///
    /// let store = InMemoryEventStore::new();
    /// let repo = Repository::<Counter>::new(store.clone());
    /// repo.execute(CounterCommand::add("c1", 5)).await.unwrap();
    /// repo.execute(CounterCommand::add("c2", 1)).await.unwrap();
    ///
    /// let counts = store.counts().await.unwrap();
    /// assert_eq!(counts.events.get("Added"), Some(&2));
    /// assert_eq!(counts.sagas_with_status("parked"), 0);
    /// assert_eq!(counts.dead_letter_total(), 0);
    /// # });
    /// ```
    ///
    /// # Errors
    /// Backend failures.
    async fn counts(&self) -> Result<RuntimeCounts, StoreError>;
}
