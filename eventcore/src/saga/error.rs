//! What can go wrong managing sagas.

use super::document::DuplicateStep;
use super::faults::InjectedCrash;
use crate::error::{BoxError, CodecError, StoreError};
use crate::projection::ProjectionError;

/// What can go wrong managing sagas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SagaError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An event of a type the saga knows could not be decoded.
    #[error("event at position {position} cannot be decoded: {source}")]
    Decode {
        /// Its position.
        position: u64,
        /// Why.
        #[source]
        source: CodecError,
    },
    /// The saga's own logic failed.
    #[error("saga logic failed: {0}")]
    Saga(#[source] BoxError),
    /// A stored saga record (or one of its deadlines) cannot be read, or written, as this
    /// saga's document.
    #[error("saga record {id} is unreadable: {reason}")]
    Record {
        /// The instance.
        id: String,
        /// Why, in words (the message of `source`, when there is one).
        reason: String,
        /// The error behind it (a JSON error), when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A reaction reused a step name.
    #[error("saga {id}: step name {step:?} used twice")]
    DuplicateStep {
        /// The instance.
        id: String,
        /// The step name.
        step: String,
    },
    /// A crash was injected by a test's fault injector (the testing kit's crash simulation;
    /// never returned otherwise).
    #[error(transparent)]
    Crash(#[from] InjectedCrash),
    /// Running the event projection failed.
    #[error(transparent)]
    Projection(#[from] ProjectionError),
}

/// A record of instance `id` that cannot be (de)serialized because of `source`.
pub(super) fn record_error(
    id: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> SagaError {
    SagaError::Record {
        id: id.to_owned(),
        reason: source.to_string(),
        source: Some(Box::new(source)),
    }
}

/// Maps a reaction's reused step name to the error for instance `id`.
pub(super) fn duplicate(id: &str) -> impl FnOnce(DuplicateStep) -> SagaError + '_ {
    move |DuplicateStep(step)| SagaError::DuplicateStep {
        id: id.to_owned(),
        step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_record_keeps_the_json_error_as_its_source() {
        let json = serde_json::from_str::<u32>("\"x\"").unwrap_err();
        let message = json.to_string();
        let error = record_error("o-1", json);
        assert_eq!(
            error.to_string(),
            format!("saga record o-1 is unreadable: {message}")
        );
        let source = std::error::Error::source(&error).expect("a source");
        assert!(source.downcast_ref::<serde_json::Error>().is_some());
    }
}
