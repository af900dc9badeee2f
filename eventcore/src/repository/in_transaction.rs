//! [`Repository::execute_in`]: a command whose events commit with the rest of a transaction
//! (a consumer's inbox record and read-model rows, a saga step's outcome).

use super::events::is_own_event_id;
use super::{
    Aggregate, AppendRequest, Command, Envelope, EventId, ExpectedVersion, Metadata, Repository,
    RepositoryError, Result, StoreError, command_metadata, encode,
};
use crate::StreamId;
use crate::transaction::StoreTransaction;
use crate::tx_states::{self, StateSlot};

impl<A: Aggregate> Repository<A> {
    /// Handles `command` like [`execute_with`](Self::execute_with), but reads and appends
    /// inside `tx`: its events commit (or roll back) with everything else `tx` holds, such as
    /// the inbox record of the message that carried the command. The aggregate is loaded as
    /// `tx` sees it (its own earlier appends included), so several commands on one instance in
    /// one transaction build on each other.
    ///
    /// A command already handled (committed, or earlier in this transaction) returns the
    /// events it appended then. Snapshots are neither read nor written (the transaction may
    /// yet roll back). Instead, for a long stream (a hot aggregate that every transaction
    /// touches), the repository and its clones keep the state it had once the transaction
    /// committed ([`StoreTransaction::after_commit`]), and the next command reads only the
    /// events after it. Within the transaction, the state a command left is what the next
    /// command on that stream starts from ([`StoreTransaction::own_states`]), so a transaction
    /// of many commands on one long stream reads it whole at most once. It does not wait for
    /// the stream's in-process lock (the transaction may hold what a command holding it waits
    /// for), so it races other commands like another process would: the version check
    /// decides, and a conflict is read again once at once.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use eventcore::testing::counter::{Counter, CounterCommand};
    /// use eventcore::{EventId, InMemoryEventStore, Metadata, Repository, StoreTransaction, TransactionalStore};
    ///
    /// let store = InMemoryEventStore::new();
    /// let counters = Repository::<Counter>::new(store.clone());
    /// let message = EventId::new_random(); // the message that carried both commands
    /// let mut tx = store.begin().await.unwrap();
    /// if tx.record_processed("billing", message).await.unwrap() {
    ///     counters.execute_in(&mut tx, CounterCommand::add("c", 2), Metadata::default()).await.unwrap();
    ///     counters.execute_in(&mut tx, CounterCommand::subtract("c", 1), Metadata::default()).await.unwrap();
    /// }
    /// tx.commit().await.unwrap();
    /// assert_eq!(counters.load("c").await.unwrap().state.total, 1);
    /// # });
    /// ```
    ///
    /// # Errors
    /// As [`execute_with`](Self::execute_with). [`RepositoryError::RetriesExhausted`] inside a
    /// transaction usually means it started writing before another transaction appended to
    /// the stream: run the whole transaction again. [`StoreError::TransactionAborted`] (in
    /// [`RepositoryError::Store`]) always means that.
    pub async fn execute_in<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let stream = A::stream_id(command.aggregate_id())?;
        // No stream lock: `tx` may already hold the database resources a command holding that
        // lock waits for (SQLite's writer, an advisory lock, a pool connection), and waiting
        // here would close the circle. A cached state elsewhere stays safe: its next append's
        // version check sees what this transaction commits.
        let first_id = EventId::derived(command.command_id(), &stream, 0);
        let metadata = command_metadata::<A>(&command, metadata);
        let mut duplicate_seen = false;
        // The state an earlier command of `tx` left, or else a committed state of this stream
        // if one is kept: only the events after it are read (as `tx` sees them, its own
        // appends included). No snapshot: the snapshot store may not see, or may wait for,
        // what the transaction holds.
        let slot = self.own_slot(tx, &stream);
        let mut kept = slot
            .as_ref()
            .and_then(tx_states::take)
            .or_else(|| self.committed.take(&stream));
        let mut attempt = 0;
        loop {
            // A conflict on a kept state does not count: the fresh read after it does.
            let (base, base_version) = kept.take().unwrap_or_else(|| {
                attempt += 1;
                (A::default(), 0)
            });
            let read = tx
                .read_for_command(&stream, base_version + 1, Some(first_id))
                .await
                .map_err(RepositoryError::Store)?;
            if let Some(first_version) = read.handled_at {
                match &slot {
                    Some(slot) => tx_states::put(slot, base, base_version),
                    None => self.committed.put(stream.clone(), base, base_version),
                }
                let records = tx
                    .read_stream(&stream, first_version, crate::MAX_EVENTS_PER_APPEND)
                    .await
                    .map_err(RepositoryError::Store)?;
                return self.first_outcome(&command, &stream, records);
            }
            let mut loaded = self.fold(stream.clone(), base, base_version, &read.events)?;
            let decided = loaded.state.handle(&command);
            let events = match decided {
                Ok(events) if !events.is_empty() => events,
                other => {
                    // Nothing appended: the state as read is the stream's once `tx` commits.
                    self.keep(
                        tx,
                        slot.as_ref(),
                        loaded.stream,
                        loaded.state,
                        loaded.version,
                    );
                    return other.map(|_| Vec::new()).map_err(RepositoryError::Domain);
                }
            };
            let new_events = encode::<A>(&command, &stream, &events, &metadata)?;
            let request = AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Exact(loaded.version),
                new_events,
            );
            match tx.append(request).await {
                Ok(recorded) => {
                    if let Some(states) = tx.own_states() {
                        states.appended(&recorded);
                    }
                    for event in &events {
                        loaded.state.apply(event);
                    }
                    let version = loaded.version + events.len() as u64;
                    self.keep(tx, slot.as_ref(), loaded.stream, loaded.state, version);
                    return Ok(recorded
                        .into_iter()
                        .zip(events)
                        .map(|(record, event)| record.with_event(event))
                        .collect());
                }
                // One fresh read at once (another transaction committed to the stream since this
                // one read it); a second conflict means this transaction cannot append there
                // (on PostgreSQL: it wrote before that other one committed): run it again.
                Err(StoreError::Conflict(conflict)) if attempt >= 2 => {
                    return Err(RepositoryError::RetriesExhausted {
                        attempts: attempt,
                        last: conflict,
                    });
                }
                Err(StoreError::Conflict(_)) => {}
                // Committed meanwhile by another process: the next read finds it.
                Err(StoreError::DuplicateEventId { event_id })
                    if !std::mem::replace(&mut duplicate_seen, true)
                        && is_own_event_id::<A>(&command, &stream, events.len(), event_id) => {}
                Err(error) => return Err(RepositoryError::Store(error)),
            }
        }
    }

    /// The slot of `stream` in `tx`'s own states, if `tx` keeps them. Created, it moves what
    /// it holds to the committed states once `tx` commits.
    fn own_slot<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        stream: &StreamId,
    ) -> Option<StateSlot<A>> {
        let (slot, created) = tx.own_states()?.slot::<A>(self.cache_key, stream);
        if created {
            let (committed, stream, kept) = (self.committed.clone(), stream.clone(), slot.clone());
            tx.after_commit(Box::new(move || {
                if let Some((state, version)) = tx_states::take(&kept) {
                    committed.put(stream, state, version);
                }
            }));
        }
        Some(slot)
    }

    /// Keeps `state` (at `version` as `tx` sees the stream) for the next command: in `tx`'s
    /// own `slot` (the committed states get it once `tx` committed), or without one straight
    /// for after the commit.
    fn keep<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        slot: Option<&StateSlot<A>>,
        stream: StreamId,
        state: A,
        version: u64,
    ) {
        if let Some(slot) = slot {
            tx_states::put(slot, state, version);
            return;
        }
        if version < super::committed::KEEP_FROM_VERSION {
            return;
        }
        let committed = self.committed.clone();
        tx.after_commit(Box::new(move || committed.put(stream, state, version)));
    }
}
