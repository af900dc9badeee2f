//! What operators and callers see of instances: one instance, instances by status, a retry of
//! a parked one, and waiting until an instance gets somewhere.

use tokio::sync::watch;

use super::Saga;
use super::bus::CommandBus;
use super::document::DeadlineChanges;
use super::error::SagaError;
use super::manager::SagaManager;
use super::record::parse;
use super::status::SagaStatus;
use super::view::SagaView;
use crate::transaction::{RuntimeStore, StoreTransaction};

impl<S: Saga, T: RuntimeStore, B: CommandBus<S::Command>> SagaManager<S, T, B> {
    /// Up to `limit` instances with `status`, least recently updated first.
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn list(
        &self,
        status: SagaStatus,
        limit: usize,
    ) -> Result<Vec<SagaView<S>>, SagaError> {
        self.store
            .sagas_with_status(S::TYPE, status.as_str(), limit)
            .await?
            .iter()
            .map(|record| {
                let document = parse::<S>(record)?;
                Ok(SagaView::new(
                    record.saga_id.clone(),
                    record.version,
                    document,
                ))
            })
            .collect()
    }

    /// One instance: status, state, steps with their history, pending deadlines; `None` if
    /// no event has started it (yet).
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn get(&self, id: &str) -> Result<Option<SagaView<S>>, SagaError> {
        let Some(record) = self.store.saga(S::TYPE, id).await? else {
            return Ok(None);
        };
        let document = parse::<S>(&record)?;
        Ok(Some(SagaView::new(id.to_owned(), record.version, document)))
    }

    /// Sends a parked instance back to work (its failing compensation gets fresh attempts);
    /// `false` if it was not parked.
    ///
    /// # Errors
    /// Store failures; an unreadable record.
    pub async fn retry(&self, id: &str) -> Result<bool, SagaError> {
        let mut tx = self.store.begin().await?;
        let (mut document, version) = self.load(&mut tx, id).await?;
        if version == 0 || !document.unpark(self.clock.now()) {
            return Ok(false);
        }
        self.save(&mut tx, id, &document, version, DeadlineChanges::default())
            .await?;
        tx.commit().await?;
        self.committed();
        self.wake.notify_one();
        Ok(true)
    }

    /// Waits until instance `id` is [settled](SagaStatus::is_settled) and returns it as it
    /// was then: [`Completed`](SagaStatus::Completed) or
    /// [`Compensated`](SagaStatus::Compensated) (terminal: nothing more will happen), or
    /// [`Parked`](SagaStatus::Parked) (a compensation keeps failing and only an operator's
    /// [`retry`](Self::retry) moves it on). Look at the view's `status` to tell them apart:
    /// a parked saga is not done, but waiting longer would not change it.
    ///
    /// An instance that does not exist yet (its first event not handled yet) is waited for.
    /// There is no built-in time limit: put one around the call with
    /// `tokio::time::timeout` (a mistyped id, or a saga waiting on an event that never
    /// comes, would otherwise wait forever). Dropping the future stops waiting and changes
    /// nothing.
    ///
    /// It needs something to move the saga on: a [started](Self::start) manager (here or in
    /// another process on the same store), or a caller driving
    /// [`process_events`](Self::process_events) and [`dispatch_pending`](Self::dispatch_pending).
    /// It wakes at once after every commit this manager (or a clone) makes, and otherwise reads
    /// the instance again every [`SagaOptions::poll_interval`](super::SagaOptions::poll_interval),
    /// which is how it sees changes made by other replicas.
    ///
    /// To wait for something else (a step done, a status reached), use
    /// [`wait_until`](Self::wait_until).
    ///
    /// # Errors
    /// Store failures and an unreadable record, as [`get`](Self::get) returns them; waiting
    /// stops at the first.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use eventcore::saga::{InProcessBus, Reaction, Saga, SagaManager, SagaStatus, Step};
    /// use eventcore::{AppendRequest, Event, EventAppender, ExpectedVersion, InMemoryEventStore};
    /// use eventcore::{NewEvent, RecordedEvent, StreamId};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Clone, Debug, Serialize, Deserialize)]
    /// enum OrderEvent { Placed { order: String } }
    /// impl Event for OrderEvent {}
    ///
    /// /// Sends one confirmation e-mail per order.
    /// struct Confirm;
    /// impl Saga for Confirm {
    ///     const TYPE: &'static str = "confirm";
    ///     type State = ();
    ///     type Event = OrderEvent;
    ///     type Command = String;
    ///     type Error = std::convert::Infallible;
    ///
    ///     fn correlate(&self, event: &OrderEvent, _: &RecordedEvent) -> Option<String> {
    ///         let OrderEvent::Placed { order } = event;
    ///         Some(order.clone())
    ///     }
    ///
    ///     fn on_event(&self, _: &(), event: &OrderEvent) -> Result<Reaction<Self>, Self::Error> {
    ///         let OrderEvent::Placed { order } = event;
    ///         Ok(Reaction::new().step(Step::new("email", format!("order {order} placed"))).complete())
    ///     }
    /// }
    ///
    /// let store = InMemoryEventStore::new();
    /// let bus = InProcessBus::new(|_email: String, _id| async { Ok(()) });
    /// let manager = SagaManager::new(Confirm, store.clone(), bus);
    /// let handle = manager.clone().start().unwrap();
    ///
    /// let placed = NewEvent::from_event(&OrderEvent::Placed { order: "o-1".into() }).unwrap();
    /// let stream = StreamId::new("order-o-1").unwrap();
    /// store.append(AppendRequest::single(stream, ExpectedVersion::Any, vec![placed])).await.unwrap();
    ///
    /// let view = tokio::time::timeout(Duration::from_secs(10), manager.wait_until_settled("o-1"))
    ///     .await
    ///     .expect("settled in time")
    ///     .unwrap();
    /// assert_eq!(view.status, SagaStatus::Completed);
    /// handle.shutdown().await.unwrap();
    /// # });
    /// ```
    pub async fn wait_until_settled(&self, id: &str) -> Result<SagaView<S>, SagaError> {
        // Only a commit that saved a settled status is worth a read.
        self.wait_for(id, SagaStatus::is_settled, |view| view.status.is_settled())
            .await
    }

    /// Waits until instance `id` exists and `done` holds for it, and returns it as it was
    /// then. `done` is asked after every change this manager (or a clone) commits, and every
    /// [`SagaOptions::poll_interval`](super::SagaOptions::poll_interval); it may miss a
    /// state the instance passed through between two looks, so ask for something that stays
    /// true (a step done, a terminal status), not a passing one.
    ///
    /// As for [`wait_until_settled`](Self::wait_until_settled): no built-in time limit (use
    /// `tokio::time::timeout`), and something must move the saga on.
    ///
    /// # Errors
    /// Store failures and an unreadable record, as [`get`](Self::get) returns them; waiting
    /// stops at the first.
    pub async fn wait_until(
        &self,
        id: &str,
        done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        self.wait_for(id, |_| true, done).await
    }

    /// [`wait_until`](Self::wait_until), reading the instance after a commit of this process
    /// only if the status that commit saved `may_do`.
    async fn wait_for(
        &self,
        id: &str,
        may_do: impl Fn(SagaStatus) -> bool,
        mut done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        let _watching = self.watched.watch(id);
        let mut commits: watch::Receiver<u64> = self.commits.subscribe();
        // Read at first, after a commit that saved this instance here, and on every poll
        // interval (a change made elsewhere: another process, a replica).
        let (mut seen, mut read) = (0, true);
        loop {
            // Seen before reading: a commit from here on wakes the wait below, and its change
            // of this instance is counted before that wake-up.
            drop(commits.borrow_and_update());
            let (changes, status) = self.watched.changes(id);
            if read || (changes != seen && status.is_none_or(&may_do)) {
                seen = changes;
                if let Some(view) = self.get(id).await? {
                    if done(&view) {
                        return Ok(view);
                    }
                }
            }
            read = tokio::select! {
                // `self` holds the sender, so this cannot fail while we wait.
                _ = commits.changed() => false,
                () = tokio::time::sleep(self.options.poll_interval) => true,
            };
        }
    }
}
