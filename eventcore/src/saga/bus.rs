//! The seam between sagas and the code that executes their commands.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;

use crate::event::Metadata;
use crate::id::CommandId;
use crate::repository::RepositoryError;

/// An error kept as the [`source`](std::error::Error::source) of a [`DispatchError`].
pub type DispatchCause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why a command was not executed.
///
/// The manager records the error's message (`rejected: <reason>` or
/// `transient failure: <reason>`) in the step's history and hands it to
/// [`Saga::on_step_failed`](super::Saga::on_step_failed); the `source`, when there is one,
/// is the error it came from, kept for code that inspects it (downcast it, or walk the
/// chain). It is cheap to clone: the source is shared.
///
/// ```
/// use eventcore::saga::DispatchError;
///
/// let refused = DispatchError::rejected("card declined");
/// assert!(refused.is_permanent());
/// assert_eq!(refused.to_string(), "rejected: card declined");
///
/// let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "payment service timed out");
/// let later = DispatchError::transient("payment service unreachable").with_source(io);
/// assert!(!later.is_permanent());
/// assert_eq!(later.reason(), "payment service unreachable");
/// let source = std::error::Error::source(&later).expect("kept");
/// assert_eq!(source.to_string(), "payment service timed out");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DispatchError {
    /// The receiver refused it for good (a domain rule): retrying cannot help.
    Rejected {
        /// Why, in words.
        reason: String,
        /// The error behind it, if any.
        source: Option<DispatchCause>,
    },
    /// It may succeed later (a conflict, a timeout, an unavailable service).
    Transient {
        /// Why, in words.
        reason: String,
        /// The error behind it, if any.
        source: Option<DispatchCause>,
    },
}

impl std::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected { reason, .. } => write!(f, "rejected: {reason}"),
            Self::Transient { reason, .. } => write!(f, "transient failure: {reason}"),
        }
    }
}

// By hand, not derived: the source is the shared error itself (so it downcasts to its own
// type), not the `Arc` around it.
impl std::error::Error for DispatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Rejected { source, .. } | Self::Transient { source, .. } => source
                .as_deref()
                .map(|source| source as &(dyn std::error::Error + 'static)),
        }
    }
}

impl DispatchError {
    /// A refusal for good, for `reason`.
    pub fn rejected(reason: impl std::fmt::Display) -> Self {
        Self::Rejected {
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A failure that may pass, for `reason`.
    pub fn transient(reason: impl std::fmt::Display) -> Self {
        Self::Transient {
            reason: reason.to_string(),
            source: None,
        }
    }

    /// The same error, caused by `source`.
    pub fn with_source(self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        let source: Option<DispatchCause> = Some(Arc::new(source));
        match self {
            Self::Rejected { reason, .. } => Self::Rejected { reason, source },
            Self::Transient { reason, .. } => Self::Transient { reason, source },
        }
    }

    /// Whether retrying cannot help ([`Rejected`](Self::Rejected)).
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Rejected { .. })
    }

    /// Why, in words.
    pub fn reason(&self) -> &str {
        match self {
            Self::Rejected { reason, .. } | Self::Transient { reason, .. } => reason,
        }
    }
}

impl DispatchError {
    /// A store failure: transient if [`StoreError::is_transient`](crate::StoreError::is_transient)
    /// says so, otherwise a rejection.
    pub fn from_store(error: crate::StoreError) -> Self {
        let transient = error.is_transient();
        let reason = error.to_string();
        let source: Option<DispatchCause> = Some(Arc::new(error));
        if transient {
            Self::Transient { reason, source }
        } else {
            Self::Rejected { reason, source }
        }
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<RepositoryError<E>> for DispatchError {
    /// Domain rejections, unusable input and permanent store errors (a corrupt record) are
    /// [`DispatchError::Rejected`]; conflicts and transient store failures are
    /// [`DispatchError::Transient`]. The reason is the repository error's message and the
    /// repository error is the source (downcast it to `RepositoryError<E>` to get at the
    /// domain error).
    fn from(error: RepositoryError<E>) -> Self {
        let permanent = match &error {
            RepositoryError::Domain(_)
            | RepositoryError::InvalidId(_)
            | RepositoryError::Decode { .. }
            | RepositoryError::Encode(_) => true,
            RepositoryError::Store(store) => !store.is_transient(),
            _ => false,
        };
        // A domain rejection reads as the rule that was broken, without a second prefix.
        let reason = match &error {
            RepositoryError::Domain(domain) => domain.to_string(),
            other => other.to_string(),
        };
        let source: Option<DispatchCause> = Some(Arc::new(error));
        if permanent {
            Self::Rejected { reason, source }
        } else {
            Self::Transient { reason, source }
        }
    }
}

/// Executes commands. `id` is deterministic per saga step: an implementation must give a
/// command it already executed the same outcome without acting again (a
/// [`Repository`](crate::Repository) does, by command id), or hand `id` on so the receiver can.
/// A broker-backed bus publishes the command with `id` as its message id.
#[async_trait]
pub trait CommandBus<C>: Send + Sync + 'static {
    /// Executes (or delivers) `command`.
    async fn dispatch(&self, command: &C, id: CommandId) -> Result<(), DispatchError>;

    /// Executes (or delivers) `command` as part of a flow: `metadata` carries the flow's
    /// correlation id (that of the events the saga instance handled), for the command's events
    /// and a broker message's headers. The saga manager sends every step this way. The
    /// default drops `metadata` and calls [`dispatch`](Self::dispatch): override it to pass
    /// the correlation id on (as [`InProcessBus::with_metadata`] and
    /// [`LocalBus`](super::LocalBus) do).
    async fn dispatch_with(
        &self,
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError>
    where
        C: Sync,
    {
        let _ = metadata;
        self.dispatch(command, id).await
    }

    /// The in-transaction form of this bus, when its commands go to aggregates in the saga's
    /// own store ([`LocalBus`](super::LocalBus)): the manager then runs each step inside the
    /// transaction that records its outcome. `None` (the default): steps are claimed, sent,
    /// and their outcomes recorded after.
    fn local(&self) -> Option<&dyn super::LocalDispatch<C>> {
        None
    }
}

type Route<C> = dyn Fn(C, CommandId, Metadata) -> Pin<Box<dyn Future<Output = Result<(), DispatchError>> + Send>>
    + Send
    + Sync;

/// A bus that routes each command to in-process handlers (usually repositories) with one
/// function:
///
/// ```
/// use eventcore::saga::{DispatchError, InProcessBus};
/// use eventcore::testing::counter::{Counter, CounterCommand};
/// use eventcore::{InMemoryEventStore, Repository};
///
/// #[derive(Clone, Debug)]
/// enum Cmd { Add { counter: String, n: u64 } }
///
/// let counters = Repository::<Counter>::new(InMemoryEventStore::new());
/// let bus = InProcessBus::new(move |cmd: Cmd, id| {
///     let counters = counters.clone();
///     async move {
///         match cmd {
///             Cmd::Add { counter, n } => {
///                 let command = CounterCommand::add(counter, n).with_id(id);
///                 counters.execute(command).await.map(drop).map_err(DispatchError::from)
///             }
///         }
///     }
/// });
/// # let _ = bus;
/// ```
pub struct InProcessBus<C> {
    route: Box<Route<C>>,
}

impl<C> std::fmt::Debug for InProcessBus<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcessBus")
    }
}

impl<C: Clone + Send + Sync + 'static> InProcessBus<C> {
    /// Routes every command through `route`.
    pub fn new<F, Fut>(route: F) -> Self
    where
        F: Fn(C, CommandId) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), DispatchError>> + Send + 'static,
    {
        Self {
            route: Box::new(move |command, id, _| Box::pin(route(command, id))),
        }
    }

    /// Routes every command through `route`, with the metadata of its flow (the correlation
    /// id; empty when sent with [`dispatch`](CommandBus::dispatch)): hand it to
    /// [`Repository::execute_with`](crate::Repository::execute_with) so that the command's
    /// events carry the flow's correlation id.
    ///
    /// ```
    /// use eventcore::saga::{DispatchError, InProcessBus};
    /// use eventcore::testing::counter::{Counter, CounterCommand};
    /// use eventcore::{InMemoryEventStore, Repository};
    ///
    /// let counters = Repository::<Counter>::new(InMemoryEventStore::new());
    /// let bus = InProcessBus::with_metadata(move |(counter, n): (String, u64), id, metadata| {
    ///     let counters = counters.clone();
    ///     async move {
    ///         let command = CounterCommand::add(counter, n).with_id(id);
    ///         counters.execute_with(command, metadata).await.map(drop).map_err(DispatchError::from)
    ///     }
    /// });
    /// # let _ = bus;
    /// ```
    pub fn with_metadata<F, Fut>(route: F) -> Self
    where
        F: Fn(C, CommandId, Metadata) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), DispatchError>> + Send + 'static,
    {
        Self {
            route: Box::new(move |command, id, metadata| Box::pin(route(command, id, metadata))),
        }
    }
}

#[async_trait]
impl<C: Clone + Send + Sync + 'static> CommandBus<C> for InProcessBus<C> {
    async fn dispatch(&self, command: &C, id: CommandId) -> Result<(), DispatchError> {
        (self.route)(command.clone(), id, Metadata::default()).await
    }

    async fn dispatch_with(
        &self,
        command: &C,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        (self.route)(command.clone(), id, metadata.clone()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[derive(Debug, PartialEq, thiserror::Error)]
    #[error("insufficient funds")]
    struct InsufficientFunds;

    #[test]
    fn a_domain_rejection_is_permanent_and_keeps_the_repository_error_as_its_source() {
        let error = DispatchError::from(RepositoryError::Domain(InsufficientFunds));
        assert!(error.is_permanent());
        assert_eq!(error.to_string(), "rejected: insufficient funds");
        let source = std::error::Error::source(&error).expect("a source");
        let repository = source
            .downcast_ref::<RepositoryError<InsufficientFunds>>()
            .expect("the repository error");
        assert!(matches!(
            repository,
            RepositoryError::Domain(InsufficientFunds)
        ));
    }

    #[test]
    fn a_transient_store_failure_is_transient_with_its_source() {
        let store = StoreError::backend("connection reset");
        let error = DispatchError::from(RepositoryError::<InsufficientFunds>::Store(store));
        assert!(!error.is_permanent());
        assert!(matches!(
            error,
            DispatchError::Transient {
                source: Some(_),
                ..
            }
        ));
        assert_eq!(
            error.reason(),
            "store error: backend error: connection reset"
        );
    }

    #[test]
    fn a_clone_shares_the_source() {
        let error = DispatchError::rejected("card declined").with_source(InsufficientFunds);
        let clone = error.clone();
        assert_eq!(clone.to_string(), "rejected: card declined");
        let source = std::error::Error::source(&clone).expect("a source");
        assert_eq!(source.to_string(), "insufficient funds");
    }
}
