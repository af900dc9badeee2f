//! Which service answers a path, and which paths need no token. The services are the bounded
//! contexts of the shop; the table is the API of `crate::http` cut along them.

use axum::http::Method;

/// The services behind the gateway.
pub const SERVICES: [&str; 6] = [
    "customer",
    "inventory",
    "order",
    "payment",
    "notification",
    "analytics",
];

/// The service that answers `path` (under `/api/v1`), or `None` for a path no service has.
pub fn service_for(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/api/v1/")?;
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match segments.as_slice() {
        ["customers", ..] => "customer",
        ["products", ..] | ["inventory", ..] => "inventory",
        ["orders", _, "payment"] => "payment",
        ["orders", ..] | ["sagas", ..] | ["unfinished-sagas", ..] | ["dead-letters", ..] => "order",
        ["analytics", ..] => "analytics",
        ["read-models", name, ..] => match *name {
            "product-view" => "inventory",
            "analytics" => "analytics",
            _ => "order",
        },
        ["read-models"] => "order",
        _ => return None,
    })
}

/// Whether `method path` may be called without a bearer token: registering, logging in and
/// the catalogue.
pub fn is_public(method: &Method, path: &str) -> bool {
    let rest = path.strip_prefix("/api/v1/").unwrap_or_default();
    let segments: Vec<&str> = rest.split('/').collect();
    matches!(
        (method, segments.as_slice()),
        (&Method::POST, ["customers"] | ["customers", "login"])
            | (&Method::GET, ["products"] | ["products", _])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_go_to_the_context_that_owns_them() {
        let cases = [
            ("/api/v1/customers", Some("customer")),
            ("/api/v1/customers/login", Some("customer")),
            ("/api/v1/products/p-1/stock", Some("inventory")),
            ("/api/v1/inventory/reservations/o-1", Some("inventory")),
            ("/api/v1/orders", Some("order")),
            ("/api/v1/orders/o-1/history", Some("order")),
            ("/api/v1/orders/o-1/payment", Some("payment")),
            ("/api/v1/sagas/s-1/retry", Some("order")),
            ("/api/v1/analytics", Some("analytics")),
            (
                "/api/v1/read-models/product-view/rebuild",
                Some("inventory"),
            ),
            ("/api/v1/read-models/order-view", Some("order")),
            ("/api/v1/read-models", Some("order")),
            ("/api/v1/nothing-here", None),
            ("/api/v2/orders", None),
            ("/etc/passwd", None),
        ];
        for (path, service) in cases {
            assert_eq!(service_for(path), service, "{path}");
        }
    }

    #[test]
    fn only_sign_up_login_and_the_catalogue_are_public() {
        assert!(is_public(&Method::POST, "/api/v1/customers"));
        assert!(is_public(&Method::POST, "/api/v1/customers/login"));
        assert!(is_public(&Method::GET, "/api/v1/products"));
        assert!(is_public(&Method::GET, "/api/v1/products/p-1"));
        assert!(!is_public(&Method::POST, "/api/v1/products"));
        assert!(!is_public(&Method::GET, "/api/v1/customers/me"));
        assert!(!is_public(&Method::GET, "/api/v1/orders"));
        assert!(!is_public(&Method::GET, "/api/v1/products/p-1/stock"));
    }
}
