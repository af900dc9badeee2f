//! One command, under its stream's lock: load (or take the cached state), decide, append, with
//! the retries a conflict, a re-sent command or a broken connection call for.

use super::events::is_own_event_id;
use super::locks::Slot;
use super::observer::Report;
use super::{
    AppendRequest, Envelope, EventId, ExpectedVersion, Load, Loaded, Metadata, Repository,
    RepositoryError, Result, StoreError, StreamId, command_metadata, encode,
};
use crate::aggregate::{Aggregate, Command};

impl<A: Aggregate> Repository<A> {
    /// Handles one command while holding its stream's lock (see
    /// [`execute_with`](Self::execute_with)).
    pub(super) async fn execute_locked(
        &self,
        slot: &mut Slot,
        stream: StreamId,
        command: A::Command,
        metadata: Metadata,
    ) -> Result<Vec<Envelope<A::Event>>, A> {
        let first_id = EventId::derived(command.command_id(), &stream, 0);
        let metadata = command_metadata::<A>(&command, metadata);
        let report = Report(self.observer.as_deref());
        let max_attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        // Set when a decision made on the cached state is dropped for a fresh read: that read
        // is part of the same attempt (nothing contended), not a retry.
        let mut reload = false;
        // A duplicate of this command's ids is read back once; a second one is an error.
        let mut duplicate_seen = false;
        // A backend failure (a broken connection) is retried once, at once.
        let mut backend_retried = false;
        loop {
            if !std::mem::take(&mut reload) {
                attempt += 1;
            }
            // This round's read and append on one connection, where the store has them. It
            // is dropped before anything else reads or writes (a pool of one connection
            // would wait for itself), and a new round takes a fresh one.
            let mut session = self.store.command_session();
            let cached = slot.take::<A>(self.cache_key);
            let probed = cached.is_none();
            let Loaded {
                stream,
                mut state,
                version,
            } = match cached {
                // A hot aggregate: the state this repository committed last is still here (the
                // append below conflicts if another process moved the stream since, and a
                // re-sent command collides with its own event ids).
                Some((state, version)) => Loaded {
                    stream: stream.clone(),
                    state,
                    version,
                },
                None => match self
                    .load_for(stream.clone(), Some(first_id), session.as_deref_mut())
                    .await
                {
                    Ok(Load::Loaded(loaded)) => loaded,
                    Ok(Load::Handled(first_version)) => {
                        drop(session);
                        return self
                            .already_committed(&command, &stream, first_version)
                            .await;
                    }
                    // A connection that broke since it was last used (pools need not ping
                    // each connection they hand out): reading again is harmless.
                    Err(RepositoryError::Store(StoreError::Backend { .. }))
                        if !std::mem::replace(&mut backend_retried, true) =>
                    {
                        reload = true;
                        continue;
                    }
                    Err(error) => return Err(error),
                },
            };
            let events = match state.handle(&command) {
                Ok(events) if !events.is_empty() => events,
                // A cached state may be stale (another process appended) and was not probed
                // (a re-sent command gets its first outcome): a refusal or a no-op is decided
                // again on a fresh read.
                _ if !probed => {
                    reload = true;
                    continue;
                }
                outcome => {
                    slot.put(self.cache_key, state, version);
                    return outcome.map(|_| Vec::new()).map_err(RepositoryError::Domain);
                }
            };
            let new_events = encode::<A>(&command, &stream, &events, &metadata)?;
            let request =
                AppendRequest::single(stream.clone(), ExpectedVersion::Exact(version), new_events);
            let appended = match session.as_deref_mut() {
                Some(session) => session.append(request).await,
                None => self.store.append(request).await,
            };
            drop(session);
            match appended {
                Ok(recorded) => {
                    report.committed(&stream, attempt, recorded.len());
                    for event in &events {
                        state.apply(event);
                    }
                    let new_version = version + events.len() as u64;
                    if self.snapshot_policy.due(version, new_version) {
                        self.save_snapshot(&stream, &state, new_version).await;
                    }
                    slot.put(self.cache_key, state, new_version);
                    return Ok(recorded
                        .into_iter()
                        .zip(events)
                        .map(|(record, event)| record.with_event(event))
                        .collect());
                }
                // The cached state was stale (another process appended): read it fresh, in
                // the same attempt.
                Err(StoreError::Conflict(_)) if !probed => reload = true,
                Err(StoreError::Conflict(conflict)) if attempt >= max_attempts => {
                    report.conflict(&stream, attempt, &conflict, None);
                    // The winner may have been this very command, sent by another process.
                    if let Some(previous) = self.event_by_id(first_id).await? {
                        let first_version = previous.stream_version;
                        return self
                            .already_committed(&command, &stream, first_version)
                            .await;
                    }
                    report.exhausted(&stream, attempt, &conflict);
                    return Err(RepositoryError::RetriesExhausted {
                        attempts: attempt,
                        last: conflict,
                    });
                }
                Err(StoreError::Conflict(conflict)) => {
                    let delay = self.retry.backoff.delay(attempt);
                    report.conflict(&stream, attempt, &conflict, Some(delay));
                    tokio::time::sleep(delay).await;
                }
                // Another process committed this very command meanwhile (the store may name
                // any of its event ids): the next round finds its events and returns them.
                Err(StoreError::DuplicateEventId { event_id })
                    if !std::mem::replace(&mut duplicate_seen, true)
                        && is_own_event_id::<A>(&command, &stream, events.len(), event_id) =>
                {
                    reload = true;
                }
                // As for the read: and appending again is harmless too, as this command's
                // event ids make a second copy a duplicate, read back as the first outcome.
                Err(StoreError::Backend { .. })
                    if !std::mem::replace(&mut backend_retried, true) =>
                {
                    reload = true;
                }
                Err(error) => return Err(RepositoryError::Store(error)),
            }
        }
    }
}
