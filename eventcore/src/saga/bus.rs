//! The seam between sagas and the code that executes their commands.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;

use crate::id::CommandId;
use crate::repository::RepositoryError;

/// Why a command was not executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The receiver refused it for good (a domain rule): retrying cannot help.
    #[error("rejected: {0}")]
    Rejected(String),
    /// It may succeed later (a conflict, a timeout, an unavailable service).
    #[error("transient failure: {0}")]
    Transient(String),
}

impl<E: std::error::Error + 'static> From<RepositoryError<E>> for DispatchError {
    /// Domain rejections, unusable input and permanent store errors (a corrupt record) are
    /// [`DispatchError::Rejected`]; conflicts and transient store failures are
    /// [`DispatchError::Transient`].
    fn from(error: RepositoryError<E>) -> Self {
        match error {
            RepositoryError::Domain(_)
            | RepositoryError::InvalidId(_)
            | RepositoryError::Decode { .. }
            | RepositoryError::Encode(_) => Self::Rejected(error.to_string()),
            RepositoryError::Store(ref store) if !store.is_transient() => {
                Self::Rejected(error.to_string())
            }
            _ => Self::Transient(error.to_string()),
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
}

type Route<C> = dyn Fn(C, CommandId) -> Pin<Box<dyn Future<Output = Result<(), DispatchError>> + Send>>
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
            route: Box::new(move |command, id| Box::pin(route(command, id))),
        }
    }
}

#[async_trait]
impl<C: Clone + Send + Sync + 'static> CommandBus<C> for InProcessBus<C> {
    async fn dispatch(&self, command: &C, id: CommandId) -> Result<(), DispatchError> {
        (self.route)(command.clone(), id).await
    }
}
