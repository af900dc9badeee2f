//! Folding a stream's events into an aggregate as they arrive: [`Folder`].

use std::ops::ControlFlow;

use crate::aggregate::Aggregate;
use crate::error::StoreError;
use crate::event::FoldEventRef;
use crate::id::StreamId;
use crate::repository::{Loaded, RepositoryError};
use crate::store::FoldSink;
use crate::upcast::Upcasters;

/// Folds events read from version `version + 1` on into `state`, checking that their
/// versions are contiguous; stops at the first event it cannot take and keeps the error.
pub(crate) struct Folder<'u, A: Aggregate> {
    stream: StreamId,
    state: A,
    version: u64,
    upcasters: &'u Upcasters,
    error: Option<RepositoryError<A::Error>>,
}

impl<'u, A: Aggregate> Folder<'u, A> {
    pub(crate) fn new(stream: StreamId, state: A, version: u64, upcasters: &'u Upcasters) -> Self {
        Self {
            stream,
            state,
            version,
            upcasters,
            error: None,
        }
    }

    /// The folded instance, or the first event's error.
    pub(crate) fn finish(self) -> Result<Loaded<A>, RepositoryError<A::Error>> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(Loaded {
                stream: self.stream,
                state: self.state,
                version: self.version,
            }),
        }
    }

    fn take(&mut self, record: FoldEventRef<'_>) -> Result<(), RepositoryError<A::Error>> {
        let expected = self.version + 1;
        if record.stream_version != expected {
            return Err(RepositoryError::Store(StoreError::Corrupt {
                stream: self.stream.to_string(),
                version: record.stream_version,
                position: record.global_position,
                reason: format!("stream versions are not contiguous: expected version {expected}"),
            }));
        }
        let event = record
            .decode(self.upcasters)
            .map_err(|source| RepositoryError::Decode {
                stream: self.stream.clone(),
                version: record.stream_version,
                position: record.global_position,
                source,
            })?;
        self.state.apply(&event);
        self.version = expected;
        Ok(())
    }
}

impl<A: Aggregate> FoldSink for Folder<'_, A> {
    fn event(&mut self, record: FoldEventRef<'_>) -> ControlFlow<()> {
        match self.take(record) {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                self.error = Some(error);
                ControlFlow::Break(())
            }
        }
    }
}
