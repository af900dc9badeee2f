//! The store traits for `Arc`s of stores: a shared store is a store.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::watch;

use super::{CommandRead, CommandSession, EventAppender, EventReader, FoldSink};
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::id::{EventId, StreamId};
use crate::store::AppendRequest;

#[async_trait]
impl<T: EventReader + ?Sized> EventReader for Arc<T> {
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).read_stream(stream, from_version, max_count).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).read_all(from_position, max_count).await
    }

    async fn read_all_following(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).read_all_following(from_position, max_count).await
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError> {
        (**self).stream_version(stream).await
    }

    async fn event_by_id(&self, event_id: EventId) -> Result<Option<RecordedEvent>, StoreError> {
        (**self).event_by_id(event_id).await
    }

    async fn read_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<CommandRead, StoreError> {
        (**self).read_for_command(stream, from_version, probe).await
    }

    async fn fold_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
        sink: &mut dyn FoldSink,
    ) -> Result<Option<u64>, StoreError> {
        (**self)
            .fold_for_command(stream, from_version, probe, sink)
            .await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        (**self).head_position().await
    }

    fn head_watch(&self) -> watch::Receiver<u64> {
        (**self).head_watch()
    }
}

#[async_trait]
impl<T: EventAppender + ?Sized> EventAppender for Arc<T> {
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError> {
        (**self).append(request).await
    }

    fn command_session(&self) -> Option<Box<dyn CommandSession + '_>> {
        (**self).command_session()
    }
}
