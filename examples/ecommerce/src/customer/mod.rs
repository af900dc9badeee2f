//! Customers: registration, e-mail changes, profile, deactivation.
//!
//! E-mail addresses are unique across customers without a read-model race: every address has
//! a claim stream ([`EmailClaim`], `emailclaim-<normalised address>`), and [`register`] and
//! [`change_email`] append to the customer's stream and the claim streams in **one store
//! transaction** (two [`Repository::execute_in`] calls, then one commit). A taken address
//! rejects the claim, and the transaction is dropped unsaved, so no customer ever holds an
//! address another one claimed; two racing registrations conflict on the claim stream's
//! version, and the loser retries and finds it taken.
//!
//! Passwords go through a [`PasswordHasher`] (argon2 in [`Argon2Hasher`]) before the command
//! is built: events hold only the hash.

mod aggregate;
mod email;
mod password;

pub use aggregate::{
    Customer, CustomerAction, CustomerCommand, CustomerError, CustomerEvent, Profile,
};
pub use email::{EmailClaim, EmailClaimCommand, EmailClaimEvent, normalize_email};
pub use password::{Argon2Hasher, HashError, PasswordHasher};

use eventcore::{
    CommandId, Metadata, Repository, RepositoryError, StoreError, StoreTransaction,
    TransactionalStore,
};

/// Passwords are at least this many characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Why a registration or an e-mail change did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerServiceError {
    /// A rule was broken (nothing was written).
    #[error(transparent)]
    Rejected(CustomerError),
    /// The password could not be hashed.
    #[error(transparent)]
    Password(#[from] HashError),
    /// The store failed (nothing was written; retry).
    #[error("customer store failure: {0}")]
    Store(String),
}

impl From<RepositoryError<CustomerError>> for CustomerServiceError {
    fn from(error: RepositoryError<CustomerError>) -> Self {
        match error {
            RepositoryError::Domain(rule) => Self::Rejected(rule),
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<StoreError> for CustomerServiceError {
    fn from(error: StoreError) -> Self {
        Self::Store(error.to_string())
    }
}

/// A registration request, password in the clear (it never leaves this function but hashed).
#[derive(Clone, Debug)]
pub struct RegisterCustomer {
    /// The new customer's id.
    pub customer_id: String,
    /// 3–50 characters.
    pub username: String,
    /// A valid address, not held by another customer.
    pub email: String,
    /// At least [`MIN_PASSWORD_CHARS`] characters.
    pub password: String,
    /// The request's command id (a retry with the same id has no second effect).
    pub id: CommandId,
}

/// The repositories the customer service writes through.
#[derive(Clone)]
pub struct CustomerRepositories {
    /// Customers.
    pub customers: Repository<Customer>,
    /// E-mail claims.
    pub claims: Repository<EmailClaim>,
}

fn claim(
    email: &str,
    customer_id: &str,
    claim: bool,
    parent: CommandId,
    step: &str,
) -> EmailClaimCommand {
    EmailClaimCommand {
        email: email.to_owned(),
        id: CommandId::derived(parent.into(), step),
        customer_id: customer_id.to_owned(),
        claim,
    }
}

/// Registers a customer and claims their address, atomically.
///
/// # Errors
/// [`CustomerServiceError::Rejected`] (invalid username or address, weak password, address
/// taken, customer exists), [`CustomerServiceError::Password`], [`CustomerServiceError::Store`].
pub async fn register<S: TransactionalStore>(
    store: &S,
    repos: &CustomerRepositories,
    hasher: &dyn PasswordHasher,
    request: RegisterCustomer,
) -> Result<Customer, CustomerServiceError> {
    register_with(store, repos, hasher, request, Metadata::default()).await
}

/// [`register`], recording `metadata` (a correlation id, say) on both events it appends.
///
/// # Errors
/// As [`register`].
pub async fn register_with<S: TransactionalStore>(
    store: &S,
    repos: &CustomerRepositories,
    hasher: &dyn PasswordHasher,
    request: RegisterCustomer,
    metadata: Metadata,
) -> Result<Customer, CustomerServiceError> {
    if request.password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(CustomerServiceError::Rejected(CustomerError::WeakPassword));
    }
    let password_hash = hasher.hash(&request.password)?;
    let email = normalize_email(&request.email).ok_or_else(|| {
        CustomerServiceError::Rejected(CustomerError::InvalidEmail(request.email.clone()))
    })?;
    let register = CustomerCommand {
        customer_id: request.customer_id.clone(),
        id: request.id,
        action: CustomerAction::Register {
            username: request.username,
            email: email.clone(),
            password_hash,
        },
    };
    let mut tx = store.begin().await?;
    repos
        .customers
        .execute_in(&mut tx, register, metadata.clone())
        .await?;
    let claim = claim(
        &email,
        &request.customer_id,
        true,
        request.id,
        "claim-email",
    );
    repos.claims.execute_in(&mut tx, claim, metadata).await?;
    tx.commit().await?;
    Ok(repos.customers.load(&request.customer_id).await?.state)
}

/// Changes a customer's address: claims the new one and releases the old one, atomically.
///
/// # Errors
/// As [`register`]: the customer must be active and the new address valid, different and free.
pub async fn change_email<S: TransactionalStore>(
    store: &S,
    repos: &CustomerRepositories,
    customer_id: &str,
    new_email: &str,
    id: CommandId,
) -> Result<Customer, CustomerServiceError> {
    let mut tx = store.begin().await?;
    let change = CustomerCommand {
        customer_id: customer_id.to_owned(),
        id,
        action: CustomerAction::ChangeEmail {
            new_email: new_email.to_owned(),
        },
    };
    let events = repos
        .customers
        .execute_in(&mut tx, change, Metadata::default())
        .await?;
    for envelope in events {
        if let CustomerEvent::CustomerEmailChanged {
            old_email,
            new_email,
            ..
        } = envelope.event
        {
            let take = claim(&new_email, customer_id, true, id, "claim-email");
            repos
                .claims
                .execute_in(&mut tx, take, Metadata::default())
                .await?;
            let give = claim(&old_email, customer_id, false, id, "release-email");
            repos
                .claims
                .execute_in(&mut tx, give, Metadata::default())
                .await?;
        }
    }
    tx.commit().await?;
    Ok(repos.customers.load(customer_id).await?.state)
}

#[cfg(test)]
mod tests;
