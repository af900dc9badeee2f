//! [`CommandSession`]: one command's read and append on one connection of a store.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::id::{EventId, StreamId};
use crate::store::{AppendRequest, FoldSink};

/// One command's read and append on one connection of a store (see
/// [`EventAppender::command_session`](crate::EventAppender::command_session)). Each call
/// behaves as the store's own method of the same name; the connection goes back to the
/// store's pool when the session is dropped.
#[async_trait]
pub trait CommandSession: Send {
    /// As [`EventReader::fold_for_command`](crate::EventReader::fold_for_command).
    ///
    /// # Errors
    /// As [`EventReader::fold_for_command`](crate::EventReader::fold_for_command).
    async fn fold_for_command(
        &mut self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
        sink: &mut dyn FoldSink,
    ) -> Result<Option<u64>, StoreError>;

    /// As [`EventAppender::append`](crate::EventAppender::append).
    ///
    /// # Errors
    /// As [`EventAppender::append`](crate::EventAppender::append).
    async fn append(&mut self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError>;
}
