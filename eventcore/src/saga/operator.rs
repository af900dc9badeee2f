//! What operators and callers see of instances: one instance, instances by status, a retry of
//! a parked one, and waiting until an instance gets somewhere.

use std::ops::ControlFlow;

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
        let saved = |status: SagaStatus| ControlFlow::Continue(status.is_settled());
        let settled = |view: SagaView<S>| view.status.is_settled().then_some(view);
        self.wait_for(id, saved, settled).await
    }

    /// As [`wait_until_settled`](Self::wait_until_settled), for a caller that needs only the
    /// status the instance settled with: once a commit of this process saved a settled status
    /// for it, that status is the answer, without reading the instance again (one query less
    /// per wait where this process runs the saga).
    ///
    /// # Errors
    /// As [`wait_until_settled`](Self::wait_until_settled).
    pub async fn wait_until_settled_status(&self, id: &str) -> Result<SagaStatus, SagaError> {
        let saved = |status: SagaStatus| {
            if status.is_settled() {
                ControlFlow::Break(status)
            } else {
                ControlFlow::Continue(false)
            }
        };
        let settled = |view: SagaView<S>| view.status.is_settled().then_some(view.status);
        self.wait_for(id, saved, settled).await
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
        mut done: impl FnMut(&SagaView<S>) -> bool,
    ) -> Result<SagaView<S>, SagaError> {
        let saved = |_: SagaStatus| ControlFlow::Continue(true);
        self.wait_for(id, saved, |view| done(&view).then_some(view))
            .await
    }

    /// Waits for an answer about instance `id`. After a commit of this process that saved a
    /// status of it, `saved` answers at once (`Break`) or says whether to read the instance;
    /// it is read at first and on every poll interval too (a change made elsewhere: another
    /// process, a replica), and `answer` then answers or not.
    async fn wait_for<A>(
        &self,
        id: &str,
        saved: impl Fn(SagaStatus) -> ControlFlow<A, bool>,
        mut answer: impl FnMut(SagaView<S>) -> Option<A>,
    ) -> Result<A, SagaError> {
        let _watching = self.watched.watch(id);
        let mut commits: watch::Receiver<u64> = self.commits.subscribe();
        let (mut seen, mut read) = (0, true);
        loop {
            // Seen before reading: a commit from here on wakes the wait below, and its change
            // of this instance is counted before that wake-up.
            drop(commits.borrow_and_update());
            let (changes, status) = self.watched.changes(id);
            if changes != seen {
                seen = changes;
                match status.map(&saved) {
                    Some(ControlFlow::Break(known)) => return Ok(known),
                    Some(ControlFlow::Continue(worth)) => read |= worth,
                    None => read = true,
                }
            }
            if read {
                if let Some(known) = self.get(id).await?.and_then(&mut answer) {
                    return Ok(known);
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
