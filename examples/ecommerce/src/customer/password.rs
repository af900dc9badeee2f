//! The password-hashing seam: the domain stores only a slow hash.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};

/// Why a password cannot be hashed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash the password: {0}")]
pub struct HashError(pub String);

/// Hashes and verifies passwords.
///
/// # Contract
/// `verify(p, &hash(p)?)` is `true`; `verify(q, &hash(p)?)` is `false` for `q != p`. The hash
/// is a self-describing string (algorithm, parameters, salt) safe to store in an event.
pub trait PasswordHasher: Send + Sync {
    /// Hashes `password` with a fresh salt.
    ///
    /// # Errors
    /// [`HashError`] if the hasher fails.
    fn hash(&self, password: &str) -> Result<String, HashError>;

    /// Whether `password` matches `hash`.
    fn verify(&self, password: &str, hash: &str) -> bool;
}

/// Argon2id with the crate's default parameters.
#[derive(Clone, Debug, Default)]
pub struct Argon2Hasher;

impl PasswordHasher for Argon2Hasher {
    fn hash(&self, password: &str) -> Result<String, HashError> {
        // 16 random bytes from the OS (through uuid's v4 generator).
        let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes())
            .map_err(|e| HashError(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    fn verify(&self, password: &str, hash: &str) -> bool {
        PasswordHash::new(hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }
}
