//! What the shop's facade fails with: typed domain rejections kept apart from infrastructure
//! failures, each with a stable [`code`](ShopError::code) an HTTP layer can map to a status.

use eventcore::{BoxError, RepositoryError};

use crate::customer::{CustomerError, CustomerServiceError, HashError};
use crate::inventory::InventoryError;
use crate::order::OrderError;
use crate::payment::PaymentError;

/// Why a facade call did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShopError {
    /// The request is malformed (400).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Username or password wrong, or the customer is inactive (401).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Nothing with this id (404).
    #[error("{what} {id} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// An order rule or transition (409 for an illegal transition, 422 otherwise).
    #[error(transparent)]
    Order(OrderError),
    /// A catalogue or stock rule (422).
    #[error(transparent)]
    Inventory(InventoryError),
    /// A payment rule (422).
    #[error(transparent)]
    Payment(PaymentError),
    /// A customer rule (409 for a taken address, 422 otherwise).
    #[error(transparent)]
    Customer(CustomerError),
    /// An `Idempotency-Key` already placed an order with different items (422): the key names
    /// that first request, so a different one under it is refused rather than answered with
    /// the first order.
    #[error("idempotency key {key} was used for order {order_id} with different items")]
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// The order the key placed first.
        order_id: String,
    },
    /// The store, a saga runtime or a projection failed (503; retry).
    #[error("{what} failed: {source}")]
    Unavailable {
        /// What was being done.
        what: &'static str,
        /// The failure.
        #[source]
        source: BoxError,
    },
}

impl ShopError {
    /// A stable machine-readable code (`not_found`, `illegal_transition`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::NotFound { .. } => "not_found",
            Self::Order(OrderError::IllegalTransition { .. }) => "illegal_transition",
            Self::Order(OrderError::UnknownProduct(_)) => "unknown_product",
            Self::Order(_) | Self::Inventory(_) | Self::Payment(_) => "rule_violated",
            Self::Customer(CustomerError::EmailTaken(_)) => "conflict",
            Self::Customer(_) => "rule_violated",
            Self::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            Self::Unavailable { .. } => "unavailable",
        }
    }

    /// An infrastructure failure.
    pub fn unavailable(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            what,
            source: source.into(),
        }
    }

    /// Maps a repository error: the domain rejection through `domain`, the rest unavailable.
    pub(crate) fn from_repo<E>(error: RepositoryError<E>, domain: fn(E) -> Self) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        match error {
            RepositoryError::Domain(rule) => domain(rule),
            RepositoryError::InvalidId(input) => Self::Invalid(input.to_string()),
            other => Self::unavailable("the event store", other),
        }
    }
}

impl From<CustomerServiceError> for ShopError {
    fn from(error: CustomerServiceError) -> Self {
        match error {
            CustomerServiceError::Rejected(rule) => Self::Customer(rule),
            CustomerServiceError::Password(HashError(reason)) => {
                Self::unavailable("hashing the password", reason)
            }
            other => Self::unavailable("the customer store", other.to_string()),
        }
    }
}

impl From<eventcore::StoreError> for ShopError {
    fn from(error: eventcore::StoreError) -> Self {
        Self::unavailable("the event store", error)
    }
}

impl From<eventcore::saga::SagaError> for ShopError {
    fn from(error: eventcore::saga::SagaError) -> Self {
        Self::unavailable("the saga runtime", error)
    }
}

impl From<eventcore::projection::ProjectionError> for ShopError {
    fn from(error: eventcore::projection::ProjectionError) -> Self {
        Self::unavailable("a projection", error)
    }
}

impl From<eventcore_sqlite::sqlx::Error> for ShopError {
    fn from(error: eventcore_sqlite::sqlx::Error) -> Self {
        Self::unavailable("a read model query", error)
    }
}
