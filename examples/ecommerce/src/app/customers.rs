//! The customer context as a unit the embedded shop and a customer service both run:
//! registration with a unique address, login, and reading a customer, over any store.

use std::sync::Arc;

use eventcore::{EventStore, Metadata, Repository, TransactionalStore};
use uuid::Uuid;

use super::ShopError;
use super::facade::{metadata, not_found};
use crate::customer::{
    self, Customer, CustomerRepositories, CustomerServiceError, PasswordHasher, RegisterCustomer,
    normalize_email,
};

/// Registration's write: the customer and the claim on their address in one transaction of
/// the store (the store's type erased, so that [`Customers`] is one type over any store).
#[eventcore::async_trait]
trait Registrar: Send + Sync {
    async fn register(
        &self,
        repos: &CustomerRepositories,
        hasher: &dyn PasswordHasher,
        request: RegisterCustomer,
        metadata: Metadata,
    ) -> Result<Customer, CustomerServiceError>;
}

struct InStore<S>(S);

#[eventcore::async_trait]
impl<S: TransactionalStore + Send + Sync + 'static> Registrar for InStore<S> {
    async fn register(
        &self,
        repos: &CustomerRepositories,
        hasher: &dyn PasswordHasher,
        request: RegisterCustomer,
        metadata: Metadata,
    ) -> Result<Customer, CustomerServiceError> {
        customer::register_with(&self.0, repos, hasher, request, metadata).await
    }
}

/// Customers: register, log in, read.
pub struct Customers {
    registrar: Box<dyn Registrar>,
    repos: CustomerRepositories,
    hasher: Arc<dyn PasswordHasher>,
}

impl std::fmt::Debug for Customers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Customers").finish_non_exhaustive()
    }
}

impl Customers {
    /// The customers in `store`, passwords hashed with `hasher`.
    pub fn new<S>(store: S, hasher: Arc<dyn PasswordHasher>) -> Self
    where
        S: TransactionalStore + EventStore + Clone + Send + Sync + 'static,
    {
        Self {
            repos: CustomerRepositories {
                customers: Repository::new(store.clone()),
                claims: Repository::new(store.clone()),
            },
            registrar: Box::new(InStore(store)),
            hasher,
        }
    }

    /// Registers a customer (argon2-hashed password, unique address); returns their id.
    ///
    /// # Errors
    /// [`ShopError::Customer`] for a broken rule (taken address, weak password, ...).
    pub async fn register(
        &self,
        username: &str,
        email: &str,
        password: &str,
        correlation: Option<Uuid>,
    ) -> Result<String, ShopError> {
        let customer_id = Uuid::new_v4().to_string();
        let request = RegisterCustomer {
            customer_id: customer_id.clone(),
            username: username.to_owned(),
            email: email.to_owned(),
            password: password.to_owned(),
            id: eventcore::CommandId::new_random(),
        };
        let hasher = self.hasher.as_ref();
        self.registrar
            .register(&self.repos, hasher, request, metadata(correlation))
            .await?;
        Ok(customer_id)
    }

    /// Checks an address and password; returns the customer's id (issuing a token is the
    /// HTTP layer's job).
    ///
    /// # Errors
    /// [`ShopError::InvalidCredentials`] for an unknown address, a wrong password or an
    /// inactive customer.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, ShopError> {
        let email = normalize_email(email).ok_or(ShopError::InvalidCredentials)?;
        let claim = self.repos.claims.load(&email).await;
        let claim =
            claim.map_err(|e| ShopError::from_repo(e, |_| ShopError::InvalidCredentials))?;
        let customer_id = claim.state.holder.ok_or(ShopError::InvalidCredentials)?;
        let customer = self.get(&customer_id).await?;
        let hasher = self.hasher.clone();
        let hash = customer.password_hash.clone();
        let password = password.to_owned();
        // Argon2 is slow on purpose: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || hasher.verify(&password, &hash))
            .await
            .map_err(|e| ShopError::unavailable("verifying the password", e))?;
        if ok && customer.active {
            Ok(customer_id)
        } else {
            Err(ShopError::InvalidCredentials)
        }
    }

    /// A registered customer.
    ///
    /// # Errors
    /// [`ShopError::NotFound`].
    pub async fn get(&self, customer_id: &str) -> Result<Customer, ShopError> {
        let loaded = self.repos.customers.load(customer_id).await;
        let customer = loaded
            .map_err(|e| ShopError::from_repo(e, ShopError::Customer))?
            .state;
        if customer.registered {
            Ok(customer)
        } else {
            Err(not_found("customer", customer_id))
        }
    }
}
