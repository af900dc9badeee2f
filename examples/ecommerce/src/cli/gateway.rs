//! `gateway`: the distributed shop's front door, until Ctrl-C or SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use ecommerce::gateway::{self, GatewayConfig, routes::SERVICES};
use ecommerce::http::HttpConfig;

/// The `gateway` options (the edge's settings come from the same environment as `serve`'s:
/// `ECOMMERCE_JWT_SECRET`, `ECOMMERCE_RATE_LIMIT`, ...).
#[derive(Debug, Args)]
pub struct GatewayArgs {
    /// Where the gateway listens.
    #[arg(long, env = "ECOMMERCE_GATEWAY_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// A service's base URLs, as `service=url[,url...]` (one per replica; repeat for each of
    /// customer, inventory, order, payment, notification, analytics), or `url[,url...]` for
    /// every service (an embedded shop, or replicas of one on a shared database).
    #[arg(long = "upstream", required = true)]
    upstreams: Vec<String>,
    /// How long one upstream request may take, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    upstream_timeout_ms: u64,
}

/// Serves the gateway on `args.addr` until Ctrl-C (or SIGTERM).
pub async fn run(args: GatewayArgs) -> anyhow::Result<()> {
    if std::env::var("ECOMMERCE_JWT_SECRET").is_err() {
        bail!(
            "set ECOMMERCE_JWT_SECRET, the same for the gateway and every service: the gateway \
             checks the tokens the services issue"
        );
    }
    let http = HttpConfig::from_env();
    let mut config = match args.upstreams.as_slice() {
        [all] if !all.contains('=') => GatewayConfig::replicated(&replica_urls(all)?, http),
        _ => GatewayConfig {
            upstreams: parse_upstreams(&args.upstreams)?,
            ..GatewayConfig::single("", http)
        },
    };
    config.upstream_timeout = Duration::from_millis(args.upstream_timeout_ms.max(1));
    let upstreams = config.upstreams.clone();
    let app = gateway::router(config).context("building the gateway")?;
    let (listener, local) = super::serve::listen(args.addr).await?;
    println!("gateway on http://{local}");
    for (service, urls) in &upstreams {
        println!("  {service:<13} → {}", urls.join(", "));
    }
    super::serve::until_stopped(listener, app).await?;
    println!("stopped");
    Ok(())
}

/// `service=url[,url...]` pairs, one per service.
fn parse_upstreams(given: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut upstreams = BTreeMap::new();
    for pair in given {
        let Some((service, urls)) = pair.split_once('=') else {
            bail!("--upstream {pair:?}: expected service=url[,url...]");
        };
        if !SERVICES.contains(&service) {
            bail!("--upstream {pair:?}: unknown service (one of {SERVICES:?})");
        }
        if upstreams
            .insert(service.to_owned(), replica_urls(urls)?)
            .is_some()
        {
            bail!("--upstream {service} given twice");
        }
    }
    Ok(upstreams)
}

/// Comma-separated plain `http://` URLs, one per replica.
fn replica_urls(list: &str) -> anyhow::Result<Vec<String>> {
    let urls: Vec<String> = list.split(',').map(str::to_owned).collect();
    if let Some(url) = urls.iter().find(|url| !url.starts_with("http://")) {
        bail!("--upstream: {url:?} is not a plain http:// URL");
    }
    Ok(urls)
}
