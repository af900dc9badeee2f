//! Request ids: a client's `x-request-id` is kept if it is sane (1–128 visible ASCII
//! characters), otherwise one is generated; it is echoed on the response, recorded in the
//! request's tracing span, and handed to the shop as the correlation id of every event the
//! request causes (a non-UUID id becomes a name-based UUID, so the same id always correlates
//! the same way).

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use eventcore::Metadata;
use uuid::Uuid;

/// The request id header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The namespace non-UUID request ids are hashed in.
const NAMESPACE: Uuid = Uuid::from_u128(0x6563_6f6d_6d65_7263_652d_7265_7175_6573);

/// One request's identity, for logs and event metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The request id as sent back in `x-request-id`.
    pub request_id: String,
    /// The correlation id of everything the request causes.
    pub correlation_id: Uuid,
}

impl RequestContext {
    /// The context of request id `request_id`.
    pub fn new(request_id: &str) -> Self {
        let correlation_id = Uuid::parse_str(request_id)
            .unwrap_or_else(|_| Uuid::new_v5(&NAMESPACE, request_id.as_bytes()));
        Self {
            request_id: request_id.to_owned(),
            correlation_id,
        }
    }

    /// A context with a fresh id (for work no request caused).
    pub fn generated() -> Self {
        Self::new(&Uuid::new_v4().to_string())
    }

    /// Event metadata carrying the correlation id and the request id.
    pub fn metadata(&self) -> Metadata {
        let mut metadata = Metadata {
            correlation_id: Some(self.correlation_id),
            ..Metadata::default()
        };
        metadata.extra.insert(
            "request_id".into(),
            serde_json::Value::String(self.request_id.clone()),
        );
        metadata
    }
}

fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Middleware: settles the request id, stores a [`RequestContext`] in the request's
/// extensions, and echoes the id on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let context = RequestContext::new(&id);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID.clone(), value.clone());
    req.extensions_mut().insert(context);
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID.clone(), value);
    response
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<RequestContext>()
            .cloned()
            .unwrap_or_else(RequestContext::generated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_ids_are_the_correlation_id_and_others_hash_stably() {
        let uuid = Uuid::new_v4();
        assert_eq!(RequestContext::new(&uuid.to_string()).correlation_id, uuid);
        let a = RequestContext::new("req-42");
        assert_eq!(
            a.correlation_id,
            RequestContext::new("req-42").correlation_id
        );
        assert_eq!(a.metadata().correlation_id, Some(a.correlation_id));
    }

    #[test]
    fn hostile_ids_are_replaced() {
        assert!(!acceptable(""));
        assert!(!acceptable(&"x".repeat(129)));
        assert!(!acceptable("has space"));
        assert!(acceptable("abc-123_."));
    }
}
