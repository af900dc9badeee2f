//! `serve`: the shop and its HTTP API, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use ecommerce::app::{Shop, ShopConfig};
use ecommerce::http::{self, HttpConfig};

/// Opens the shop at `db`, serves `/api/v1` on `addr` until Ctrl-C, then drains the open
/// requests and stops the shop's background work.
pub async fn run(db: PathBuf, addr: SocketAddr) -> anyhow::Result<()> {
    let shop = Shop::open(ShopConfig::new(&db))
        .await
        .with_context(|| format!("opening the shop at {}", db.display()))?;
    let shop = Arc::new(shop);
    let config = HttpConfig::from_env();
    let generated_password = std::env::var("ECOMMERCE_ADMIN_PASSWORD").is_err();
    let (admin_email, admin_password) = (config.admin_email.clone(), config.admin_password.clone());
    let rate_limit = config.rate_limit;
    let app = http::router(Arc::clone(&shop), config).context("building the HTTP API")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    println!("shop on SQLite at {}", db.display());
    println!("listening on http://{local} (OpenAPI: http://{local}/api/v1/openapi.json)");
    if generated_password {
        println!(
            "admin login: {admin_email} / {admin_password} (set ECOMMERCE_ADMIN_PASSWORD to choose)"
        );
    }
    println!(
        "rate limit: {} requests per {} s per client (ECOMMERCE_RATE_LIMIT, ECOMMERCE_RATE_WINDOW_SECS; raise it for `load --url`)",
        rate_limit.requests,
        rate_limit.per.as_secs()
    );
    println!("try: curl -s http://{local}/api/v1/products");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot wait for Ctrl-C: stopping");
        }
    })
    .await
    .context("serving HTTP")?;
    println!("stopping");
    match Arc::try_unwrap(shop) {
        Ok(shop) => shop.shutdown().await?,
        Err(_) => tracing::warn!("a background request still holds the shop: not waiting for it"),
    }
    println!("stopped");
    Ok(())
}
