//! The HTTP server's settings, with defaults and `ECOMMERCE_*` environment overrides.

use std::time::Duration;

use super::limits::RateLimit;

/// How the API behaves at its edge.
#[derive(Clone)]
pub struct HttpConfig {
    /// The HS256 secret tokens are signed with.
    pub jwt_secret: Vec<u8>,
    /// How long a token is valid.
    pub token_ttl: Duration,
    /// The admin's login address.
    pub admin_email: String,
    /// The admin's password (empty: no admin login).
    pub admin_password: String,
    /// Requests per client per window.
    pub rate_limit: RateLimit,
    /// Take the client from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Allowed CORS origins (`*` for any; empty for none).
    pub cors_origins: Vec<String>,
    /// The largest request body, in bytes.
    pub body_limit: usize,
    /// How long one request may take.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("token_ttl", &self.token_ttl)
            .field("admin_email", &self.admin_email)
            .field("rate_limit", &self.rate_limit)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("cors_origins", &self.cors_origins)
            .field("body_limit", &self.body_limit)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes (from two v4 UUIDs: the operating system's randomness).
fn random_secret() -> Vec<u8> {
    let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
    secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    secret
}

impl Default for HttpConfig {
    /// A random signing secret (tokens do not survive a restart), admin `admin@shop.local`
    /// with a random password, 60 requests per 60 s, no CORS origins, 64 KiB bodies, 10 s
    /// per request, tokens valid for an hour.
    fn default() -> Self {
        Self {
            jwt_secret: random_secret(),
            token_ttl: Duration::from_secs(3600),
            admin_email: "admin@shop.local".into(),
            admin_password: uuid::Uuid::new_v4().simple().to_string(),
            rate_limit: RateLimit::default(),
            trust_forwarded_for: false,
            cors_origins: Vec::new(),
            body_limit: 64 * 1024,
            request_timeout: Duration::from_secs(10),
        }
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn number(name: &str) -> Option<u64> {
    let value = var(name)?;
    match value.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => {
            tracing::warn!(%name, %value, "not a number: ignored");
            None
        }
    }
}

impl HttpConfig {
    /// The defaults, overridden by `ECOMMERCE_JWT_SECRET`, `ECOMMERCE_ADMIN_EMAIL`,
    /// `ECOMMERCE_ADMIN_PASSWORD`, `ECOMMERCE_RATE_LIMIT` (requests per window),
    /// `ECOMMERCE_RATE_WINDOW_SECS`, `ECOMMERCE_TRUST_FORWARDED_FOR` (`1`/`true`),
    /// `ECOMMERCE_CORS_ORIGINS` (comma-separated, or `*`), `ECOMMERCE_BODY_LIMIT` (bytes) and
    /// `ECOMMERCE_REQUEST_TIMEOUT_MS`.
    pub fn from_env() -> Self {
        let mut config = Self::default();
        if let Some(secret) = var("ECOMMERCE_JWT_SECRET") {
            config.jwt_secret = secret.into_bytes();
        }
        if let Some(email) = var("ECOMMERCE_ADMIN_EMAIL") {
            config.admin_email = email;
        }
        if let Some(password) = var("ECOMMERCE_ADMIN_PASSWORD") {
            config.admin_password = password;
        }
        if let Some(n) = number("ECOMMERCE_RATE_LIMIT") {
            config.rate_limit.requests = u32::try_from(n).unwrap_or(u32::MAX).max(1);
        }
        if let Some(secs) = number("ECOMMERCE_RATE_WINDOW_SECS") {
            config.rate_limit.per = Duration::from_secs(secs.max(1));
        }
        if let Some(flag) = var("ECOMMERCE_TRUST_FORWARDED_FOR") {
            config.trust_forwarded_for = matches!(flag.trim(), "1" | "true" | "yes");
        }
        if let Some(origins) = var("ECOMMERCE_CORS_ORIGINS") {
            config.cors_origins = origins
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(bytes) = number("ECOMMERCE_BODY_LIMIT") {
            config.body_limit = usize::try_from(bytes).unwrap_or(usize::MAX).max(1);
        }
        if let Some(ms) = number("ECOMMERCE_REQUEST_TIMEOUT_MS") {
            config.request_timeout = Duration::from_millis(ms.max(1));
        }
        config
    }
}
