//! The URL mode's HTTP client: JSON requests to a running shop's `/api/v1`, polite under its
//! rate limit (a 429 waits for `Retry-After`, then retries the same request), with errors
//! that say which request failed and how.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How often one request is retried after a 429 before the run gives up.
const MAX_THROTTLED_RETRIES: u32 = 20;
/// The longest `Retry-After` honoured (a longer one is waited for this long, then retried).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a request to the shop failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The shop's address is not a plain `http://` URL.
    #[error("invalid shop url {url}: {reason}")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not get an answer (connection refused, reset, timed out).
    #[error("{method} {path}: {source}")]
    Transport {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The shop answered with a status the caller did not expect.
    #[error("{method} {path} answered {status}: {body}")]
    Status {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The status.
        status: StatusCode,
        /// The body (at most 500 characters).
        body: String,
    },
    /// The answer was not the JSON expected.
    #[error("{method} {path}: unexpected body: {source}")]
    Decode {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A load worker task failed (panicked or was cancelled).
    #[error("a load worker failed: {0}")]
    Worker(String),
}

/// A status and its body.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body.
    pub body: Vec<u8>,
}

/// One request: where, as whom, with what.
#[derive(Debug)]
pub struct Call<'a, B> {
    /// The method.
    pub method: Method,
    /// The path (from `/api/v1`, with any query).
    pub path: &'a str,
    /// A bearer token.
    pub token: Option<&'a str>,
    /// A JSON body.
    pub body: Option<&'a B>,
    /// An `Idempotency-Key`.
    pub idempotency_key: Option<&'a str>,
}

impl<'a> Call<'a, ()> {
    /// `GET path` with `token`.
    pub fn get(path: &'a str, token: Option<&'a str>) -> Self {
        Self {
            method: Method::GET,
            path,
            token,
            body: None,
            idempotency_key: None,
        }
    }
}

impl<'a, B: Serialize> Call<'a, B> {
    /// `POST path` with `token` and a JSON `body`.
    pub fn post(path: &'a str, token: Option<&'a str>, body: &'a B) -> Self {
        Self {
            method: Method::POST,
            path,
            token,
            body: Some(body),
            idempotency_key: None,
        }
    }

    /// The error for an `answer` the caller did not expect.
    pub fn unexpected(&self, answer: &Answer) -> RemoteError {
        let body = String::from_utf8_lossy(&answer.body);
        RemoteError::Status {
            method: self.method.clone(),
            path: self.path.to_owned(),
            status: answer.status,
            body: body.chars().take(500).collect(),
        }
    }
}

/// A client of one shop.
#[derive(Debug)]
pub struct ShopClient {
    http: reqwest::Client,
    base: String,
    throttled: AtomicU64,
}

impl ShopClient {
    /// A client of the shop at `url` (`http://host:port`, a trailing `/` is ignored).
    ///
    /// # Errors
    /// [`RemoteError::InvalidUrl`] for anything but an `http://` URL with a host.
    pub fn new(url: &str) -> Result<Self, RemoteError> {
        let invalid = |reason: &str| RemoteError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
        if parsed.scheme() != "http" {
            return Err(invalid("only plain http:// is supported (no TLS)"));
        }
        if parsed.host_str().is_none() {
            return Err(invalid("no host"));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            http,
            base: url.trim_end_matches('/').to_owned(),
            throttled: AtomicU64::new(0),
        })
    }

    /// How many answers so far were 429 (each waited for and retried).
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// Sends `call` and returns whatever the shop answered, after waiting out any 429.
    ///
    /// # Errors
    /// [`RemoteError::Transport`] without an answer; [`RemoteError::Status`] if the shop
    /// still says 429 after many polite retries.
    pub async fn send<B: Serialize>(&self, call: &Call<'_, B>) -> Result<Answer, RemoteError> {
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(call.method.clone(), format!("{}{}", self.base, call.path));
            if let Some(token) = call.token {
                request = request.bearer_auth(token);
            }
            if let Some(key) = call.idempotency_key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = call.body {
                request = request.json(body);
            }
            let transport = |source| RemoteError::Transport {
                method: call.method.clone(),
                path: call.path.to_owned(),
                source,
            };
            let response = request.send().await.map_err(transport)?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = response.bytes().await.map_err(transport)?.to_vec();
            let answer = Answer { status, body };
            if status != StatusCode::TOO_MANY_REQUESTS || attempt >= MAX_THROTTLED_RETRIES {
                return if status == StatusCode::TOO_MANY_REQUESTS {
                    Err(call.unexpected(&answer))
                } else {
                    Ok(answer)
                };
            }
            attempt += 1;
            self.throttled.fetch_add(1, Ordering::Relaxed);
            let wait = Duration::from_secs(retry_after.unwrap_or(1).max(1)).min(MAX_RETRY_AFTER);
            tracing::info!(path = call.path, ?wait, "rate limited: waiting as asked");
            tokio::time::sleep(wait).await;
        }
    }

    /// Sends `call` and decodes a 2xx answer's JSON body.
    ///
    /// # Errors
    /// As [`send`](Self::send); [`RemoteError::Status`] for any other status,
    /// [`RemoteError::Decode`] for a body that is not a `T`.
    pub async fn json<T: DeserializeOwned, B: Serialize>(
        &self,
        call: &Call<'_, B>,
    ) -> Result<T, RemoteError> {
        let answer = self.send(call).await?;
        if !answer.status.is_success() {
            return Err(call.unexpected(&answer));
        }
        decode(call, &answer)
    }

    /// As [`json`](Self::json), but a 404 is `None`.
    ///
    /// # Errors
    /// As [`json`](Self::json).
    pub async fn optional<T: DeserializeOwned, B: Serialize>(
        &self,
        call: &Call<'_, B>,
    ) -> Result<Option<T>, RemoteError> {
        let answer = self.send(call).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => decode(call, &answer).map(Some),
            _ => Err(call.unexpected(&answer)),
        }
    }

    /// Logs in and returns the bearer token.
    ///
    /// # Errors
    /// [`RemoteError::Status`] 401 for wrong credentials.
    pub async fn login(&self, email: &str, password: &str) -> Result<String, RemoteError> {
        let body = serde_json::json!({ "email": email, "password": password });
        let token: crate::http::auth::TokenResponse = self
            .json(&Call::post("/api/v1/customers/login", None, &body))
            .await?;
        Ok(token.token)
    }
}

fn decode<T: DeserializeOwned, B>(call: &Call<'_, B>, answer: &Answer) -> Result<T, RemoteError> {
    serde_json::from_slice(&answer.body).map_err(|source| RemoteError::Decode {
        method: call.method.clone(),
        path: call.path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_are_accepted() {
        assert!(ShopClient::new("http://127.0.0.1:8080/").is_ok());
        for bad in ["https://127.0.0.1:8080", "127.0.0.1:8080", "", "ftp://x"] {
            assert!(
                matches!(ShopClient::new(bad), Err(RemoteError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }
}
