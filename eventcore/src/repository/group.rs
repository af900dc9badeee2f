//! Group commit: commands queued for one hot instance are handled in order against one
//! loaded state and committed as one append; each caller still gets its own result.

use tokio::sync::oneshot;

use super::events::{command_metadata, encode};
use super::locks::Slot;
use super::{
    Aggregate, AppendRequest, Envelope, ExpectedVersion, Load, Metadata, Repository,
    RepositoryError, Result, StoreError, StreamId,
};

/// The most commands one group append carries.
const MAX_GROUP: usize = 64;

/// A command waiting for its stream's lock, with where its result goes.
struct Pending<A: Aggregate> {
    command: A::Command,
    metadata: Metadata,
    reply: oneshot::Sender<Result<Vec<Envelope<A::Event>>, A>>,
}

impl<A: Aggregate> Repository<A> {
    /// Queues the command on its stream and waits for the lock; the holder runs the commands
    /// queued behind it together (its own included) or, alone, its own.
    pub(super) async fn execute_queued(
        &self,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let lock = self.locks.lock_for(&stream);
        // Uncontended (nobody holds the stream or waits for it): nothing to group with, so no
        // queue entry and no reply channel; run at once.
        if lock.queued() == 0 {
            if let Ok(mut slot) = lock.slot.try_lock() {
                return self
                    .execute_locked(&mut slot, stream, command, metadata)
                    .await;
            }
        }
        let (reply, mut answer) = oneshot::channel();
        let pending = Pending::<A> {
            command,
            metadata,
            reply,
        };
        let id = lock.enqueue(self.cache_key, Box::new(pending));
        // If this caller stops waiting while its command is still queued, the command leaves
        // the queue with it (once taken into a group, it may still run).
        let _withdraw = Withdraw { lock: &lock, id };
        loop {
            let slot = tokio::select! {
                // An answer ready (a group ran this command) beats waiting for the lock again.
                biased;
                answered = &mut answer => {
                    return answered.unwrap_or_else(|_| Err(RepositoryError::Store(
                        StoreError::backend("the task running this command's group ended before answering"),
                    )));
                }
                slot = lock.slot.clone().lock_owned() => slot,
            };
            let taken = lock.take(self.cache_key, id, MAX_GROUP);
            let alone = matches!(&taken[..], [(only, _)] if *only == id);
            let mut group: Vec<Pending<A>> = taken
                .into_iter()
                .filter_map(|(_, entry)| entry.downcast::<Pending<A>>().ok().map(|p| *p))
                .collect();
            if alone && group.len() == 1 {
                // Only our own command: run it here (cancelled with its caller, like any
                // command).
                let Pending {
                    command, metadata, ..
                } = group.remove(0);
                let mut slot = slot;
                return self
                    .execute_locked(&mut slot, stream, command, metadata)
                    .await;
            }
            if !group.is_empty() {
                // Several callers wait on this group: run it in a task of its own, so that one
                // caller's cancellation cannot strand the others, and wait for our turn.
                let (repo, stream) = (self.clone(), stream.clone());
                let group_task = async move {
                    let mut slot = slot;
                    repo.execute_group(&mut slot, stream, group).await;
                };
                tokio::spawn(tracing::Instrument::in_current_span(group_task));
            }
        }
    }

    /// Runs `group` (commands of one stream, in queue order) as one append when each of them
    /// decides on the state to append events; anything else (a refusal, a no-op, a conflict, a
    /// re-sent command) runs them one by one, each with the whole single-command path.
    async fn execute_group(&self, slot: &mut Slot, stream: StreamId, group: Vec<Pending<A>>) {
        let loaded = match slot.take::<A>(self.cache_key) {
            Some(cached) => Some(cached),
            None => match self.load_for(stream.clone(), None, None).await {
                Ok(Load::Loaded(loaded)) => Some((loaded.state, loaded.version)),
                _ => None,
            },
        };
        let Some((mut state, version)) = loaded else {
            return self.one_by_one(slot, stream, group).await;
        };
        let mut decided = Vec::with_capacity(group.len());
        let mut new_events = Vec::new();
        for pending in &group {
            // A refusal, or a panic (answered to its own caller one by one), leaves the group.
            let decided_one = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                state.handle(&pending.command)
            }));
            let Ok(Ok(events)) = decided_one else {
                return self.one_by_one(slot, stream, group).await;
            };
            let metadata = command_metadata::<A>(&pending.command, pending.metadata.clone());
            match encode::<A>(&pending.command, &stream, &events, &metadata) {
                Ok(encoded) if !encoded.is_empty() => new_events.extend(encoded),
                _ => return self.one_by_one(slot, stream, group).await,
            }
            let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for event in &events {
                    state.apply(event);
                }
            }));
            if applied.is_err() {
                return self.one_by_one(slot, stream, group).await;
            }
            decided.push(events);
        }
        if new_events.len() > crate::MAX_EVENTS_PER_APPEND {
            return self.one_by_one(slot, stream, group).await;
        }
        let count = new_events.len() as u64;
        let request =
            AppendRequest::single(stream.clone(), ExpectedVersion::Exact(version), new_events);
        let Ok(recorded) = self.store.append(request).await else {
            return self.one_by_one(slot, stream, group).await;
        };
        let new_version = version + count;
        if self.snapshot_policy.due(version, new_version) {
            self.save_snapshot(&stream, &state, new_version).await;
        }
        slot.put(self.cache_key, state, new_version);
        let report = super::observer::Report(self.observer.as_deref());
        let mut recorded = recorded.into_iter();
        for (pending, events) in group.into_iter().zip(decided) {
            report.committed(&stream, 1, events.len());
            let envelopes = recorded
                .by_ref()
                .take(events.len())
                .zip(events)
                .map(|(record, event)| record.with_event(event))
                .collect();
            let _ = pending.reply.send(Ok(envelopes));
        }
    }

    /// Runs each command of `group` on its own, in order, answering each caller: skipping
    /// callers that stopped waiting, isolating a command that panics (its caller gets the
    /// error), and, once the store has failed, answering the rest with that failure instead of
    /// waiting on the store again for each.
    async fn one_by_one(&self, slot: &mut Slot, stream: StreamId, group: Vec<Pending<A>>) {
        let mut failed: Option<String> = None;
        for pending in group {
            if pending.reply.is_closed() {
                continue;
            }
            if let Some(reason) = &failed {
                let error = StoreError::backend(format!(
                    "not run: the store failed on an earlier command of its group: {reason}"
                ));
                let _ = pending.reply.send(Err(RepositoryError::Store(error)));
                continue;
            }
            let run = self.execute_locked(slot, stream.clone(), pending.command, pending.metadata);
            let result =
                match futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await {
                    Ok(result) => result,
                    Err(panic) => {
                        let message = crate::projection::panic_message(&*panic);
                        Err(RepositoryError::Store(StoreError::backend(format!(
                            "the command panicked: {message}"
                        ))))
                    }
                };
            if let Err(RepositoryError::Store(error @ StoreError::Backend { .. })) = &result {
                failed = Some(error.to_string());
            }
            let _ = pending.reply.send(result);
        }
    }
}

/// Takes a command out of its stream's queue when its caller stops waiting first.
struct Withdraw<'a> {
    lock: &'a super::locks::StreamLock,
    id: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.lock.withdraw(self.id);
    }
}
