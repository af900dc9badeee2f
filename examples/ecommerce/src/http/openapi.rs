//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and
//! the views' `ToSchema` derives, served at `/api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::errors::ErrorBody;
use super::health;
use super::routes::{customers, fulfilment, inventory, operations, orders, products};

/// The API's document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "eventcore shop",
        description = "The eventcore flagship shop: customers, catalogue, orders placed through an \
                       orchestrated saga, payments, analytics and the operator's view of sagas and \
                       read models. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}`.",
    ),
    paths(
        customers::register,
        customers::login,
        customers::me,
        products::list,
        products::get_one,
        products::add,
        products::change_price,
        products::add_stock,
        orders::place,
        orders::list,
        orders::get_one,
        orders::history,
        orders::cancel,
        fulfilment::ship,
        fulfilment::deliver,
        orders::payment,
        operations::analytics,
        operations::sagas,
        operations::saga,
        operations::retry_saga,
        operations::unfinished_sagas,
        operations::dead_letters,
        inventory::stock,
        inventory::reservation,
        operations::read_models,
        operations::read_model,
        operations::rebuild,
        health::live,
        health::ready,
        metrics_doc,
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "customers", description = "Registration, login, the caller"),
        (name = "products", description = "The catalogue and its stock"),
        (name = "orders", description = "Placing and following orders"),
        (name = "payments", description = "Payments by order"),
        (name = "operations", description = "Admin: analytics, sagas, dead letters, read models, the inventory's ledger"),
        (name = "health", description = "Liveness, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the annotated endpoints name.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Prometheus metrics in the text exposition format (documented here; served by
/// [`super::metrics::scrape`]).
#[utoipa::path(
    get, path = "/metrics", tag = "health",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String))
)]
#[allow(dead_code, reason = "documents /metrics for the OpenAPI document only")]
async fn metrics_doc() {}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_every_route_and_the_bearer_scheme() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in [
            "/api/v1/customers",
            "/api/v1/orders/{id}/history",
            "/api/v1/read-models/{name}/rebuild",
            "/api/v1/inventory/stock",
            "/api/v1/inventory/reservations/{order_id}",
            "/api/v1/dead-letters",
            "/api/v1/unfinished-sagas",
            "/health/ready",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
