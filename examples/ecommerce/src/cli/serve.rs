//! `serve`: the shop and its HTTP API, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ecommerce::app::{RemoteContexts, Shop, ShopConfig};
use ecommerce::payment::SimulatedProvider;

use super::broker::BrokerArgs;
use ecommerce::http::{self, HttpConfig};

/// The `serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The SQLite file (created if missing).
    #[arg(long, env = "ECOMMERCE_DB", default_value = "ecommerce.db")]
    pub db: PathBuf,
    /// Where the HTTP API listens.
    #[arg(long, env = "ECOMMERCE_ADDR", default_value = crate::DEFAULT_ADDR)]
    pub addr: SocketAddr,
    /// Payments are the payment service's (`ecommerce service payment`), reached through the
    /// broker: the distributed mode, while the other contexts still run here.
    #[arg(long, env = "ECOMMERCE_PAYMENT_SERVICE")]
    pub payment_service: bool,
    /// Notifications are the notification service's (`ecommerce service notification`): the
    /// shop relays the events it reacts to through the broker.
    #[arg(long, env = "ECOMMERCE_NOTIFICATION_SERVICE")]
    pub notification_service: bool,
    /// The warehouse is the inventory service's (`ecommerce service inventory`): stock steps
    /// go to it through the broker and its events come back, mirrored (the catalogue here).
    #[arg(long, env = "ECOMMERCE_INVENTORY_SERVICE")]
    pub inventory_service: bool,
    /// Analytics are the analytics service's (`ecommerce service analytics`): the shop relays
    /// its order events through the broker and keeps no analytics itself.
    #[arg(long, env = "ECOMMERCE_ANALYTICS_SERVICE")]
    pub analytics_service: bool,
    /// The broker, with any of the `--*-service` flags.
    #[command(flatten)]
    pub broker: BrokerArgs,
}

/// The simulated provider, with `ECOMMERCE_PAYMENT_SUCCESS_RATE` (0.0–1.0, default 0.9) as
/// the share of payments it approves.
pub fn provider_from_env() -> anyhow::Result<SimulatedProvider> {
    let mut provider = SimulatedProvider::default();
    if let Ok(rate) = std::env::var("ECOMMERCE_PAYMENT_SUCCESS_RATE") {
        let rate: f64 = rate
            .parse()
            .ok()
            .filter(|r| (0.0..=1.0).contains(r))
            .with_context(|| {
                format!("ECOMMERCE_PAYMENT_SUCCESS_RATE must be between 0.0 and 1.0, got {rate:?}")
            })?;
        provider.success_rate = rate;
    }
    Ok(provider)
}

/// Opens the shop at `args.db`, serves `/api/v1` on `args.addr` until Ctrl-C (or SIGTERM),
/// then drains the open requests and stops the shop's background work.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let (db, addr) = (args.db.clone(), args.addr);
    let mut shop_config = ShopConfig::new(&db);
    shop_config.provider = provider_from_env()?;
    let elsewhere = [
        args.payment_service,
        args.notification_service,
        args.analytics_service,
        args.inventory_service,
    ];
    if elsewhere.contains(&true) {
        shop_config.remote = Some(RemoteContexts {
            payment: args.payment_service,
            inventory: args.inventory_service,
            notification: args.notification_service,
            analytics: args.analytics_service,
            ..RemoteContexts::new(args.broker.broker())
        });
    }
    let shop = Shop::open(shop_config)
        .await
        .with_context(|| format!("opening the shop at {}", db.display()))?;
    let shop = Arc::new(shop);
    let config = HttpConfig::from_env();
    let generated_password = std::env::var("ECOMMERCE_ADMIN_PASSWORD").is_err();
    let (admin_email, admin_password) = (config.admin_email.clone(), config.admin_password.clone());
    let rate_limit = config.rate_limit;
    let app = http::router(Arc::clone(&shop), config).context("building the HTTP API")?;
    let (listener, local) = listen(addr).await?;
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
    until_stopped(listener, app).await?;
    println!("stopping");
    match Arc::try_unwrap(shop) {
        Ok(shop) => shop.shutdown().await?,
        Err(_) => tracing::warn!("a background request still holds the shop: not waiting for it"),
    }
    println!("stopped");
    Ok(())
}

/// Binds `addr`: the listener and the address it got.
pub(crate) async fn listen(
    addr: SocketAddr,
) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    Ok((listener, local))
}

/// How long a stopping server waits for the requests in flight (each is bounded by the
/// request timeout anyway; this bounds a client that reads its answer slowly).
const DRAIN: std::time::Duration = std::time::Duration::from_secs(8);

/// Serves `app` on `listener` until Ctrl-C or SIGTERM, then drains the open requests for
/// [`DRAIN`] at most.
pub(crate) async fn until_stopped(
    listener: tokio::net::TcpListener,
    app: axum::Router,
) -> anyhow::Result<()> {
    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        stop_signal().await;
        let _ = stopping.send(());
    });
    // Counts from the signal (or from serving's end, which the other branch answers first).
    let drain_over = async move {
        let _ = stopped.await;
        tokio::time::sleep(DRAIN).await;
    };
    tokio::select! {
        served = serve => served.context("serving HTTP"),
        () = drain_over => {
            tracing::warn!(drain = ?DRAIN, "requests still in flight after the drain: stopping without them");
            Ok(())
        }
    }
}

/// Ctrl-C, or SIGTERM (what a service manager sends) on Unix.
async fn stop_signal() {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot wait for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if let Err(error) = result {
                tracing::error!(%error, "cannot wait for Ctrl-C: stopping");
            }
        }
        () = terminate => {}
    }
    tracing::info!("asked to stop: draining the requests in flight");
}
