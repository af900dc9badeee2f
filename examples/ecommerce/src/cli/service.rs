//! `service <name>`: one context of the distributed shop as its own process on PostgreSQL, in
//! a schema of its own, until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ecommerce::app::{RemoteContexts, Shop, ShopConfig};
use ecommerce::http::HttpConfig;
use ecommerce::services;
use eventcore_postgres::PgEventStore;

use super::broker::BrokerArgs;

/// The services that run as processes so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ServiceName {
    /// Registration, login, `me`.
    Customer,
    /// The catalogue and the warehouse: stock requests through the broker, reservation
    /// expiry, the product view.
    Inventory,
    /// Charges and refunds, requested through the broker; an order's payment.
    Payment,
    /// One message per notable order and payment event, received through the broker.
    Notification,
    /// Orders per status, revenue, top products, per-customer totals, from the order events
    /// received through the broker.
    Analytics,
    /// Orders and the order saga: its stock and payment steps go to the inventory and
    /// payment services through the broker, whose events come back; its order events go to
    /// the notification and analytics services. The order view and history.
    Order,
}

impl ServiceName {
    fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Inventory => "inventory",
            Self::Payment => "payment",
            Self::Notification => "notification",
            Self::Analytics => "analytics",
            Self::Order => "order",
        }
    }
}

/// The `service` options (the edge's settings come from the same environment as `serve`'s:
/// `ECOMMERCE_JWT_SECRET`, which the gateway must share, `ECOMMERCE_RATE_LIMIT`, ...).
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Which service.
    #[arg(value_enum)]
    name: ServiceName,
    /// The PostgreSQL database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// The service's schema (created and migrated if new; default: `ecommerce_<service>`).
    #[arg(long)]
    schema: Option<String>,
    /// Where the service listens.
    #[arg(long, default_value = "127.0.0.1:8101")]
    addr: SocketAddr,
    /// The broker (the services that exchange messages: all but customer).
    #[command(flatten)]
    broker: BrokerArgs,
}

/// A service's background work (consumer, relay, policy), to stop after its HTTP server.
enum Background {
    None,
    Payment(Arc<services::payment::PaymentService>),
    Notification(Arc<services::notification::NotificationService>),
    Analytics(Arc<services::analytics::AnalyticsService>),
    Inventory(Arc<services::inventory::InventoryService>),
    Order(Arc<Shop<PgEventStore>>),
}

impl Background {
    async fn stop(self) -> Result<(), String> {
        match self {
            Self::None => Ok(()),
            Self::Payment(service) => service.shutdown().await,
            Self::Notification(service) => service.shutdown().await,
            Self::Analytics(service) => service.shutdown().await,
            Self::Inventory(service) => service.shutdown().await,
            Self::Order(shop) => match Arc::try_unwrap(shop) {
                Ok(shop) => shop.shutdown().await.map_err(|e| e.to_string()),
                Err(_) => {
                    tracing::warn!("a background request still holds the shop: not waiting");
                    Ok(())
                }
            },
        }
    }
}

/// Serves the service on `args.addr` until Ctrl-C (or SIGTERM).
pub async fn run(args: ServiceArgs) -> anyhow::Result<()> {
    if std::env::var("ECOMMERCE_JWT_SECRET").is_err() {
        bail!("set ECOMMERCE_JWT_SECRET, the same for the gateway and every service");
    }
    let http = HttpConfig::from_env();
    let name = args.name.as_str();
    let schema = args.schema.unwrap_or_else(|| format!("ecommerce_{name}"));
    // The order service runs its sagas, read models, relays and consumers beside its
    // HTTP API: more connections than the others.
    let connections = if args.name == ServiceName::Order {
        16
    } else {
        8
    };
    let store = services::open_store(&args.database_url, &schema, connections)
        .await
        .with_context(|| format!("opening schema {schema} of the database"))?;
    let mut background = Background::None;
    let app = match args.name {
        ServiceName::Customer => services::customer::router(store, &http),
        ServiceName::Payment => {
            let broker = args.broker.broker();
            let provider = Arc::new(super::serve::provider_from_env()?);
            let service = services::payment::PaymentService::start(store, &broker, provider)
                .await
                .with_context(|| format!("connecting to {}", broker.name()))?;
            let service = Arc::new(service);
            background = Background::Payment(service.clone());
            services::payment::router(service, &http)
        }
        ServiceName::Notification => {
            let broker = args.broker.broker();
            let service = services::notification::NotificationService::start(store, &broker)
                .await
                .with_context(|| format!("connecting to {}", broker.name()))?;
            let service = Arc::new(service);
            background = Background::Notification(service.clone());
            services::notification::router(service, &http)
        }
        ServiceName::Inventory => {
            let broker = args.broker.broker();
            let expire_after = ecommerce::inventory::ReservationExpiry::DEFAULT_AFTER;
            let service =
                services::inventory::InventoryService::start(store, &broker, expire_after)
                    .await
                    .with_context(|| format!("connecting to {}", broker.name()))?;
            let service = Arc::new(service);
            background = Background::Inventory(service.clone());
            services::inventory::router(service, &http)
        }
        ServiceName::Analytics => {
            let broker = args.broker.broker();
            let service = services::analytics::AnalyticsService::start(store, &broker)
                .await
                .with_context(|| format!("connecting to {}", broker.name()))?;
            let service = Arc::new(service);
            background = Background::Analytics(service.clone());
            services::analytics::router(service, &http)
        }
        ServiceName::Order => {
            let broker = args.broker.broker();
            let what = format!("connecting to {}", broker.name());
            // The SQLite file of `ShopConfig::new` is not used on PostgreSQL.
            let mut config = ShopConfig::new("");
            config.provider = super::serve::provider_from_env()?;
            config.remote = Some(RemoteContexts {
                payment: true,
                inventory: true,
                notification: true,
                analytics: true,
                ..RemoteContexts::new(broker)
            });
            let shop = Arc::new(Shop::start(store, config).await.context(what)?);
            background = Background::Order(shop.clone());
            ecommerce::http::router(shop, http)
        }
    }
    .context("building the service")?;
    let (listener, local) = super::serve::listen(args.addr).await?;
    println!("{name} service on http://{local} (PostgreSQL schema {schema})");
    super::serve::until_stopped(listener, app).await?;
    // Each phase of a stop in the log: a stop that hangs shows where.
    tracing::info!("requests drained; stopping the background work");
    background.stop().await.map_err(anyhow::Error::msg)?;
    println!("stopped");
    Ok(())
}
