//! The shop's runtime. On the embedded default: one SQLite file, every saga, policy and read
//! model in this process ([`Shop::open`]). The order service of the distributed mode runs the
//! same shop on PostgreSQL ([`Shop::start`] with a `PgEventStore`; [`ShopStore`] picks the
//! read models' build for the store). The facade methods (placing orders, admin commands,
//! operator queries) are what the CLI and the HTTP layer call.
//!
//! Background work, each on its own checkpoint:
//! - the order saga and the reservation-expiry saga, whose steps run inside the transaction
//!   that records them (`eventcore::saga::LocalBus`);
//! - the notification policy (one message per notable event) and the
//!   [`CancellationPolicy`] (a confirmed order that is cancelled gets its refund and stock
//!   back);
//! - the read models of [`crate::readmodels`].
//!
//! In the distributed mode ([`ShopConfig::remote`], [`RemoteContexts`]) the payment and
//! notification contexts may be services of their own: payment steps then leave as messages
//! through this store's outbox and the payments' events come back mirrored, and the order
//! events are relayed to the notification service instead of a policy here.

mod admin;
mod bus;
pub mod cancellation;
mod customers;
mod error;
mod facade;
mod remote;
mod steps;
mod store;
mod warehouse;

pub use bus::{ClaimedCommands, ShopBus, StepMode};
pub use cancellation::{CancellationPolicy, UndoSale};
pub use customers::Customers;
pub use error::ShopError;
pub use facade::{PlaceOrderRequest, Placed};
use remote::Replies;
pub use remote::{PAYMENT_REPLIES, RELAYS, RemoteContexts, SERVICES_RELAY, STOCK_REPLIES};
pub use steps::Steps;
pub use store::{QueryError, ShopStore};
pub use warehouse::Warehouse;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use eventcore::projection::RunningProjections;
use eventcore::saga::{PolicySaga, SagaHandle, SagaManager, SagaOptions};
use eventcore::{CommandId, Metadata, Repository, SnapshotPolicy};
use eventcore_sqlite::{SqliteEventStore, SqliteSynchronous};

use crate::customer::Argon2Hasher;
use crate::inventory::{self, Inventory, InventoryAction, InventoryCommand, ReservationExpiry};
use crate::messaging::Consumer;
use crate::money::Money;
use crate::notification::NotificationPolicy;
use crate::payment::SimulatedProvider;
use crate::readmodels;
use crate::saga::OrderSaga;

/// A running order-saga manager.
pub type OrderSagas<St = SqliteEventStore> = SagaHandle<OrderSaga, St, ShopBus<St>>;
type ExpirySagas<St> = SagaHandle<ReservationExpiry, St, ShopBus<St>>;
type Notifier<St> = SagaHandle<PolicySaga<NotificationPolicy>, St, ShopBus<St>>;
type Undoer<St> = SagaHandle<PolicySaga<CancellationPolicy>, St, ShopBus<St>>;

/// The default [`ShopConfig::linger`].
pub const DEFAULT_LINGER: Duration = Duration::from_millis(5);

/// How to run the shop.
#[derive(Clone, Debug)]
pub struct ShopConfig {
    /// The SQLite file (created if missing; data survives restarts).
    pub path: PathBuf,
    /// The simulated payment provider.
    pub provider: SimulatedProvider,
    /// The order saga's reply timeout.
    pub reply_timeout: Duration,
    /// How long a reservation may stay unconfirmed.
    pub reservation_expiry: Duration,
    /// Seed the catalogue on open (idempotent).
    pub seed_catalogue: bool,
    /// `synchronous = FULL` (every commit on disk when it returns) or `NORMAL` (faster; the
    /// last commits may be lost on power loss, never corrupted).
    pub durable: bool,
    /// Steps the saga managers dispatch at once.
    pub dispatch_concurrency: usize,
    /// How saga steps run (in the recording transaction, or claimed and sent).
    pub step_mode: StepMode,
    /// How long the read models and the sagas' event intakes wait, once woken by an append,
    /// for more before reading: fewer, larger transactions on the one SQLite writer under
    /// load, for up to this much more lag per hop.
    pub linger: Duration,
    /// The contexts handled by services elsewhere (distributed mode); `None`: every context
    /// in this process (the embedded default).
    pub remote: Option<RemoteContexts>,
}

impl ShopConfig {
    /// The defaults for a shop at `path`: 90% approvals, 30 s reply timeout, 30 min expiry,
    /// seeded catalogue, durable commits.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Self {
            path: path.as_ref().to_owned(),
            provider: SimulatedProvider::default(),
            reply_timeout: OrderSaga::DEFAULT_REPLY_TIMEOUT,
            reservation_expiry: ReservationExpiry::DEFAULT_AFTER,
            seed_catalogue: true,
            durable: true,
            dispatch_concurrency: SagaOptions::default().dispatch_concurrency,
            step_mode: StepMode::Local,
            linger: DEFAULT_LINGER,
            remote: None,
        }
    }
}

/// The running shop, on the embedded SQLite store by default or on PostgreSQL (the order
/// service). Clone-free: share it behind an `Arc`.
pub struct Shop<St: ShopStore = SqliteEventStore> {
    store: St,
    steps: Steps,
    customers: Arc<Customers>,
    order_sagas: OrderSagas<St>,
    /// `None` when the inventory service expires reservations.
    expiry: Option<ExpirySagas<St>>,
    notifier: Option<Notifier<St>>,
    undoer: Undoer<St>,
    projections: RunningProjections<St>,
    replies: Replies,
}

impl<St: ShopStore> std::fmt::Debug for Shop<St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").finish_non_exhaustive()
    }
}

/// The namespace of the shop's deterministic command ids (seed, idempotency keys).
pub(crate) fn derived_id(name: &str) -> CommandId {
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, b"eventcore-ecommerce");
    CommandId::derived(namespace, name)
}

impl Shop {
    /// Opens the SQLite store at `config.path` and starts the shop on it
    /// ([`start`](Self::start)).
    ///
    /// # Errors
    /// [`ShopError::Unavailable`] if the store cannot be opened or a runtime cannot start.
    pub async fn open(config: ShopConfig) -> Result<Self, ShopError> {
        let synchronous = if config.durable {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        };
        let options = SqliteEventStore::options(&config.path).synchronous(synchronous);
        let store = SqliteEventStore::connect_with(options).await?;
        store.migrate().await?;
        Self::start(store, config).await
    }
}

impl<St: ShopStore> Shop<St> {
    /// Starts the shop on `store` (migrated; `config.path` and `config.durable` are SQLite's
    /// and not used here): seeds the catalogue (once), creates the read-model tables and
    /// starts every saga, policy and projection in the background.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`] if a runtime cannot start.
    pub async fn start(store: St, config: ShopConfig) -> Result<Self, ShopError> {
        let steps = Steps {
            inventory: inventory_repository(&store),
            orders: Repository::new(store.clone()),
            payments: Repository::new(store.clone()),
            notifications: Repository::new(store.clone()),
            provider: Arc::new(config.provider.clone()),
            payments_down: Arc::default(),
            payments_elsewhere: config.remote.as_ref().is_some_and(|r| r.payment),
            stock_elsewhere: config.remote.as_ref().is_some_and(|r| r.inventory),
        };
        let customers = Arc::new(Customers::new(store.clone(), Arc::new(Argon2Hasher)));
        // The warehouse's events are the inventory service's when it runs elsewhere.
        if config.seed_catalogue && !steps.stock_elsewhere {
            seed(&steps.inventory).await?;
        }
        // The read models kept here: all but those of the contexts that run elsewhere.
        let analytics_elsewhere = config.remote.as_ref().is_some_and(|r| r.analytics);
        let models: Vec<&str> = readmodels::ALL
            .into_iter()
            .filter(|m| !(analytics_elsewhere && *m == readmodels::ANALYTICS))
            .collect();
        store.create_read_models(&models).await?;
        let mut runner = store.read_model_runner(config.linger, &models);
        let mut replies = Replies::default();
        let mut step_mode = config.step_mode;
        if let Some(remote) = &config.remote {
            if remote.payment {
                step_mode = StepMode::Local;
            }
            (runner, replies) = remote.connect(&store, runner).await?;
        }
        let projections = runner.start()?;
        let options = SagaOptions {
            dispatch_concurrency: config.dispatch_concurrency.max(1),
            linger: config.linger,
            ..SagaOptions::default()
        };
        let bus = || ShopBus::new(store.clone(), steps.clone(), step_mode);
        let saga = OrderSaga {
            reply_timeout: config.reply_timeout,
        };
        let order_sagas = SagaManager::new(saga, store.clone(), bus())
            .with_options(options)
            .start()?;
        let expiry = ReservationExpiry {
            after: config.reservation_expiry,
        };
        let expiry = if steps.stock_elsewhere {
            None // the inventory service's
        } else {
            let manager = SagaManager::new(expiry, store.clone(), bus()).with_options(options);
            Some(manager.start()?)
        };
        let notifier = if config.remote.as_ref().is_some_and(|r| r.notification) {
            None
        } else {
            let policy = PolicySaga::new(NotificationPolicy);
            let manager = SagaManager::new(policy, store.clone(), bus()).with_options(options);
            Some(manager.start()?)
        };
        let undoer = SagaManager::new(PolicySaga::new(CancellationPolicy), store.clone(), bus())
            .with_options(options)
            .start()?;
        let shop = Self {
            store,
            steps,
            customers,
            order_sagas,
            expiry,
            notifier,
            undoer,
            projections,
            replies,
        };
        shop.catalogue_caught_up().await?;
        Ok(shop)
    }

    /// Waits until the catalogue (the product view orders are priced from) has every event
    /// appended so far: read-your-writes after an admin change.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn catalogue_caught_up(&self) -> Result<(), ShopError> {
        let head = self.store.head_position().await?;
        self.projections
            .wait_until(readmodels::PRODUCT_VIEW, head)
            .await?;
        Ok(())
    }

    /// The event store (for readers such as the load generator's checks).
    pub fn store(&self) -> &St {
        &self.store
    }

    /// The customer context (shared with the HTTP layer).
    pub fn customers(&self) -> &Arc<Customers> {
        &self.customers
    }

    /// The repositories the shop writes through.
    pub fn repositories(&self) -> &Steps {
        &self.steps
    }

    /// The running order sagas (operator queries, waiting for an outcome).
    pub fn order_sagas(&self) -> &OrderSagas<St> {
        &self.order_sagas
    }

    /// The consumer of the payment service's events, in distributed mode.
    pub fn payment_replies(&self) -> Option<&Consumer> {
        self.replies.payments.as_ref()
    }

    /// The consumer of the inventory service's events, in distributed mode.
    pub fn stock_replies(&self) -> Option<&Consumer> {
        self.replies.stock.as_ref()
    }

    /// Every consumer of the services' events (none in embedded mode).
    pub fn replies(&self) -> impl Iterator<Item = &Consumer> {
        self.replies.payments.iter().chain(&self.replies.stock)
    }

    /// Simulates an outage of the payment provider (`true`) or ends it (`false`).
    pub fn set_payment_outage(&self, down: bool) {
        self.steps
            .payments_down
            .store(down, std::sync::atomic::Ordering::Relaxed);
    }

    /// Stops every background task after its current batch or step.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`] if a task failed.
    pub async fn shutdown(self) -> Result<(), ShopError> {
        self.order_sagas.shutdown().await?;
        if let Some(expiry) = self.expiry {
            expiry.shutdown().await?;
        }
        if let Some(notifier) = self.notifier {
            notifier.shutdown().await?;
        }
        self.undoer.shutdown().await?;
        self.projections.shutdown().await?;
        for consumer in self.replies.payments.iter().chain(&self.replies.stock) {
            let stopped = consumer.shutdown().await;
            stopped.map_err(|e| ShopError::unavailable("a consumer of the services' events", e))?;
        }
        Ok(())
    }
}

/// The warehouse's repository on `store`. The warehouse is one hot stream (every reservation
/// of every order is an event of it), so it is snapshotted every 200 events: a command reads
/// the latest snapshot and at most 200 events after it, however long the stream grows.
pub fn inventory_repository<St: ShopStore>(store: &St) -> Repository<Inventory> {
    Repository::new(store.clone())
        .with_snapshots(store.snapshot_store(), SnapshotPolicy::EveryNEvents(200))
}

/// Adds the seed catalogue with deterministic command ids: a second run (a restart) returns
/// the first outcome instead of adding anything.
pub(crate) async fn seed(inventory: &Repository<Inventory>) -> Result<(), ShopError> {
    for command in inventory::seed_commands() {
        let InventoryAction::AddProduct { product_id, .. } = &command.action else {
            continue;
        };
        let id = derived_id(&format!("seed/{product_id}"));
        add_product_once(inventory, command.with_id(id), Metadata::default()).await?;
    }
    Ok(())
}

/// Adds a product unless it exists already (by this or an earlier command).
pub(crate) async fn add_product_once(
    inventory: &Repository<Inventory>,
    command: InventoryCommand,
    metadata: Metadata,
) -> Result<(), ShopError> {
    match inventory.execute_with(command, metadata).await {
        Ok(_)
        | Err(eventcore::RepositoryError::Domain(inventory::InventoryError::DuplicateProduct(_))) => {
            Ok(())
        }
        Err(error) => Err(ShopError::from_repo(error, ShopError::Inventory)),
    }
}

/// A product for the load generator's catalogue: `prod-NNN`, priced from its number.
pub fn generated_product(index: usize) -> (String, Money) {
    let cents = 500 + (index as i64 * 7_919) % 50_000;
    (format!("prod-{:03}", index + 1), Money::usd(cents))
}
