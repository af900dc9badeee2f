//! Bearer tokens: HS256 JWTs with `sub` (customer id, or `admin`), `role` and `exp`. A missing
//! or invalid token is 401; a valid token without the role an endpoint needs is 403. The admin
//! account is bootstrapped from the configuration (its password is kept only as an argon2
//! hash); customers log in with the password they registered with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::errors::ApiError;
use crate::customer::{Argon2Hasher, PasswordHasher};

/// Who a token speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A registered customer: their own orders only.
    Customer,
    /// The shop's operator: products, shipping, sagas, read models, analytics.
    Admin,
}

/// A token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The customer id, or `admin`.
    pub sub: String,
    /// The role.
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issued at, seconds since the epoch.
    pub iat: u64,
}

impl Claims {
    /// Whether the caller is the admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see what belongs to customer `owner`: the admin, or that
    /// customer (anyone else gets the 404 of something that does not exist).
    pub fn may_see(&self, owner: &str) -> bool {
        self.is_admin() || owner == self.sub
    }
}

/// What a successful login returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The bearer token.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The customer id, or `admin`.
    pub subject: String,
    /// The role.
    pub role: Role,
}

/// Issues and verifies tokens with one HS256 secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl,
        }
    }

    /// A token for `subject` with `role`.
    ///
    /// # Errors
    /// 500 if the token cannot be signed (it always can with an HMAC key).
    pub fn issue(&self, subject: &str, role: Role) -> Result<TokenResponse, ApiError> {
        let iat = now_secs();
        let claims = Claims {
            sub: subject.to_owned(),
            role,
            exp: iat + self.ttl.as_secs(),
            iat,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok(TokenResponse {
            token,
            token_type: "Bearer".into(),
            expires_in: self.ttl.as_secs(),
            subject: subject.to_owned(),
            role,
        })
    }

    /// The claims of a valid, unexpired token.
    ///
    /// # Errors
    /// 401 for anything else.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| ApiError::unauthorized(format!("invalid bearer token: {e}")))
    }
}

/// The admin account from the configuration: an e-mail address and a password hash.
#[derive(Clone, Debug)]
pub struct AdminAccount {
    /// The address the admin logs in with.
    pub email: String,
    password_hash: String,
}

impl AdminAccount {
    /// The subject of admin tokens.
    pub const SUBJECT: &'static str = "admin";

    /// The account with `email` and `password` (hashed here; the clear text is not kept). If
    /// the password cannot be hashed the failure is logged and nobody can log in as admin.
    pub fn new(email: &str, password: &str) -> Self {
        if password.is_empty() {
            return Self {
                email: email.trim().to_lowercase(),
                password_hash: String::new(),
            };
        }
        let password_hash = Argon2Hasher.hash(password).unwrap_or_else(|error| {
            tracing::error!(%error, "cannot hash the admin password: admin login disabled");
            String::new()
        });
        Self {
            email: email.trim().to_lowercase(),
            password_hash,
        }
    }

    /// Whether `email` names this account.
    pub fn is(&self, email: &str) -> bool {
        email.trim().eq_ignore_ascii_case(&self.email)
    }

    /// Whether `password` is the admin's (a slow check: run it off the async threads). Always
    /// `false` when no admin password was configured.
    pub fn verify(&self, password: &str) -> bool {
        !self.password_hash.is_empty() && Argon2Hasher.verify(password, &self.password_hash)
    }
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
    let value = header
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| ApiError::unauthorized("expected Authorization: Bearer <token>"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "expected Authorization: Bearer <token>",
        ));
    }
    Ok(token.trim())
}

/// An authenticated caller, customer or admin (401 without a valid token).
#[derive(Clone, Debug)]
pub struct Caller(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for Caller
where
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        Arc::<Tokens>::from_ref(state).verify(token).map(Caller)
    }
}

/// An authenticated customer (401 without a valid token, 403 for the admin).
#[derive(Clone, Debug)]
pub struct CustomerCaller(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for CustomerCaller
where
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        if claims.role == Role::Customer {
            Ok(Self(claims))
        } else {
            Err(ApiError::forbidden("this endpoint is for customers"))
        }
    }
}

/// The authenticated admin (401 without a valid token, 403 for a customer).
#[derive(Clone, Debug)]
pub struct AdminCaller(pub Claims);

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller
where
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        if claims.is_admin() {
            Ok(Self(claims))
        } else {
            Err(ApiError::forbidden("this endpoint is for the admin"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_a_tampered_one_is_refused() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef", Duration::from_secs(60));
        let issued = tokens.issue("c-1", Role::Customer).unwrap();
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.role), ("c-1", Role::Customer));
        let other = Tokens::new(b"another secret of enough length!", Duration::from_secs(60));
        assert_eq!(
            other.verify(&issued.token).unwrap_err().status(),
            axum::http::StatusCode::UNAUTHORIZED
        );
        assert!(tokens.verify("not.a.token").is_err());
    }
}
