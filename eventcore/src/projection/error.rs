//! What can go wrong running projections.

use std::fmt;
use std::sync::Arc;

use crate::error::StoreError;

/// The error a projection stopped on, or a rebuild failed with, shared between everyone told
/// about it.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong running projections.
///
/// [`Stopped`](Self::Stopped) and [`Rebuild`](Self::Rebuild) say why in words (as the
/// projection's status does) and keep the error behind it, when there is one, as their
/// [`source`](std::error::Error::source): the projection's own error, which downcasts to its
/// type.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProjectionError {
    /// No projection has that name.
    Unknown(String),
    /// Two projections were given the same name (they would share a checkpoint).
    DuplicateName(String),
    /// The projection stopped under its error policy.
    Stopped {
        /// The projection.
        name: String,
        /// The event it stopped before.
        position: u64,
        /// The last error, in words (as the status shows it).
        error: String,
        /// The last error, when the projection returned one (not after a panic).
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The projection is shut down (or its task ended).
    NotRunning(String),
    /// A rebuild could not be prepared, replayed or swapped in; the live projection goes on.
    Rebuild {
        /// The projection.
        name: String,
        /// Why, in words.
        error: String,
        /// The error behind it, when there is one.
        source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    },
    /// The store failed.
    Store(StoreError),
    /// A projection's task panicked.
    Panicked(String),
}

impl ProjectionError {
    /// A failed rebuild of `name`, for `cause`.
    pub(crate) fn rebuild(name: &str, cause: Cause) -> Self {
        Self::Rebuild {
            name: name.to_owned(),
            error: cause.to_string(),
            source: Some(cause),
        }
    }
}

impl fmt::Display for ProjectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(name) => write!(f, "no projection named {name:?}"),
            Self::DuplicateName(name) => write!(f, "two projections are named {name:?}"),
            Self::Stopped {
                name,
                position,
                error,
                ..
            } => write!(
                f,
                "projection {name:?} stopped before position {position}: {error}"
            ),
            Self::NotRunning(name) => write!(f, "projection {name:?} is not running"),
            Self::Rebuild { name, error, .. } => write!(f, "rebuild of {name:?} failed: {error}"),
            Self::Store(error) => error.fmt(f),
            Self::Panicked(message) => write!(f, "projection task panicked: {message}"),
        }
    }
}

// By hand, not derived: the source is the shared error itself (so it downcasts to its own
// type), not the `Arc` around it; a store error is transparent.
impl std::error::Error for ProjectionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Stopped { source, .. } | Self::Rebuild { source, .. } => source
                .as_deref()
                .map(|source| source as &(dyn std::error::Error + 'static)),
            Self::Store(error) => error.source(),
            Self::Unknown(_) | Self::DuplicateName(_) | Self::NotRunning(_) | Self::Panicked(_) => {
                None
            }
        }
    }
}

impl From<StoreError> for ProjectionError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("row 7 violates a check")]
    struct ModelError;

    #[test]
    fn a_stop_says_why_and_keeps_the_projections_own_error_as_its_source() {
        let stopped = ProjectionError::Stopped {
            name: "totals".into(),
            position: 42,
            error: "row 7 violates a check".into(),
            source: Some(Arc::new(ModelError)),
        };
        assert_eq!(
            stopped.to_string(),
            r#"projection "totals" stopped before position 42: row 7 violates a check"#
        );
        let source = stopped.source().expect("kept");
        assert!(source.downcast_ref::<ModelError>().is_some());
    }

    #[test]
    fn a_failed_rebuild_says_why_and_keeps_its_cause() {
        let failed = ProjectionError::rebuild("totals", Arc::new(ModelError));
        assert_eq!(
            failed.to_string(),
            r#"rebuild of "totals" failed: row 7 violates a check"#
        );
        assert!(
            failed
                .source()
                .unwrap()
                .downcast_ref::<ModelError>()
                .is_some()
        );
    }

    #[test]
    fn a_store_error_is_transparent() {
        let error = ProjectionError::from(StoreError::backend("connection refused"));
        assert_eq!(error.to_string(), "backend error: connection refused");
        assert_eq!(error.source().unwrap().to_string(), "connection refused");
    }
}
