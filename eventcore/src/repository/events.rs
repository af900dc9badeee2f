//! The stored form of a command's events: ids derived from the command, and its metadata.

use super::{Aggregate, Command, Metadata, NewEvent, RepositoryError, Result};
use crate::id::{EventId, StreamId};

/// `metadata` with the causation id set to the command id (and the correlation id too, when
/// it has none).
pub(super) fn command_metadata<A: Aggregate>(command: &A::Command, metadata: Metadata) -> Metadata {
    let id = command.command_id().as_uuid();
    Metadata {
        causation_id: Some(id),
        correlation_id: metadata.correlation_id.or(Some(id)),
        ..metadata
    }
}

/// The stored form of a command's events: ids derived from the command id, stream and index
/// (so a re-sent command collides with its first commit), and the given metadata.
pub(super) fn encode<A: Aggregate>(
    command: &A::Command,
    stream: &StreamId,
    events: &[A::Event],
    metadata: &Metadata,
) -> Result<Vec<NewEvent>, A> {
    events
        .iter()
        .zip(0u32..)
        .map(|(event, index)| {
            NewEvent::from_event(event).map(|e| {
                e.with_id(EventId::derived(command.command_id(), stream, index))
                    .with_metadata(metadata.clone())
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(RepositoryError::Encode)
}

/// Whether `event_id` is one of the first `count` event ids `command` derives for `stream`
/// (a store reporting a duplicate may name any of them).
pub(super) fn is_own_event_id<A: Aggregate>(
    command: &A::Command,
    stream: &StreamId,
    count: usize,
    event_id: EventId,
) -> bool {
    (0..count).any(|index| EventId::derived(command.command_id(), stream, index as u32) == event_id)
}
