//! `load`: N orders at concurrency C, in-process (a fresh shop on SQLite) or, with `--url`,
//! against a running shop over its HTTP API; a progress bar, the summary table and the
//! invariant checks either way (exit code 1 on any violation).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use ecommerce::app::{Shop, ShopConfig, StepMode};
use ecommerce::load::check::Check;
use ecommerce::load::remote::{self, RemoteConfig};
use ecommerce::load::{self, LoadConfig, invariants, remote_checks};
use ecommerce::payment::SimulatedProvider;
use indicatif::{ProgressBar, ProgressStyle};

/// How the URL mode gets in: the admin's password and serve's rate limit.
const URL_MODE: &str = "\
URL mode (--url): the load logs in as the admin with --admin-email and --admin-password (or
ECOMMERCE_ADMIN_EMAIL and ECOMMERCE_ADMIN_PASSWORD, which serve reads too; serve prints a
generated password when none is set), adds the catalogue's missing products, registers its
customers, and checks the invariants through the API only. Serve's rate limit (60 requests
per 60 s per client by default) would throttle the run: start serve with ECOMMERCE_RATE_LIMIT
raised (429s are waited out as Retry-After says, but slowly). The payment success rate, the
steps and the database are then the server's.

  ECOMMERCE_ADMIN_PASSWORD=secret ECOMMERCE_RATE_LIMIT=1000000 cargo run -p ecommerce -- serve
  ECOMMERCE_ADMIN_PASSWORD=secret cargo run -p ecommerce -- load --url http://127.0.0.1:8080";

/// How long the checks wait for the shop to settle.
const SETTLE: Duration = Duration::from_secs(120);

/// The `load` options (the URL mode's setup is shown by `load --help`, after them).
#[derive(Debug, Args)]
#[command(after_help = URL_MODE)]
pub struct LoadArgs {
    /// Orders to place.
    #[arg(long, default_value_t = 1_000)]
    orders: usize,
    /// Orders in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: usize,
    /// Seed of the order mix and (in-process) the payment provider.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of payments approved (0.0–1.0; in-process only).
    #[arg(long, default_value_t = 0.9, conflicts_with = "url")]
    payment_success_rate: f64,
    /// Catalogue size (3: the seed catalogue, a flash sale; 1000 spreads the load).
    #[arg(long, default_value_t = 3)]
    products: usize,
    /// Units per product (default: the seed catalogue's, 1,000 for generated products; with
    /// --url, existing products are topped up to this many available).
    #[arg(long)]
    stock: Option<u32>,
    /// Customers sharing the orders (with --url, each is registered and logged in).
    #[arg(long, default_value_t = 100)]
    customers: usize,
    /// The SQLite file, kept (default: a fresh temporary file, removed at the end;
    /// in-process only).
    #[arg(long, conflicts_with = "url")]
    db: Option<PathBuf>,
    /// Commit with `synchronous = FULL` (default NORMAL for a throw-away load database;
    /// in-process only).
    #[arg(long, conflicts_with = "url")]
    durable: bool,
    /// How saga steps run: `local` (in the transaction recording the step) or `claimed`
    /// (claimed, sent through the repositories with snapshots and group commit, recorded;
    /// in-process only).
    #[arg(long, value_enum, default_value_t = Steps::Local, conflicts_with = "url")]
    steps: Steps,
    /// How long the shop's background readers (read models, saga intakes) wait for more
    /// events once woken, in milliseconds (in-process only).
    #[arg(long, default_value_t = ecommerce::app::DEFAULT_LINGER.as_millis() as u64, conflicts_with = "url")]
    linger_ms: u64,
    /// Run against the shop's HTTP API at this URL (plain http), e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: Option<String>,
    /// The admin's login address (with --url).
    #[arg(
        long,
        env = "ECOMMERCE_ADMIN_EMAIL",
        default_value = "admin@shop.local"
    )]
    admin_email: String,
    /// The admin's password (with --url): the one serve was started with or printed.
    #[arg(long, env = "ECOMMERCE_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
}

/// How saga steps run (see `ecommerce::app::StepMode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Steps {
    /// One commit per step.
    Local,
    /// Claim, send, record.
    Claimed,
}

/// Runs the load and the checks.
pub async fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    if args.concurrency == 0 || args.customers == 0 || args.products == 0 {
        bail!("--concurrency, --customers and --products must be at least 1");
    }
    let load = LoadConfig {
        orders: args.orders,
        concurrency: args.concurrency,
        seed: args.seed,
        products: args.products,
        stock: args.stock,
        customers: args.customers,
        ..LoadConfig::default()
    };
    match args.url.clone() {
        Some(url) => over_http(args, url, load).await,
        None => in_process(args, load).await,
    }
}

/// The URL mode.
async fn over_http(args: LoadArgs, url: String, load: LoadConfig) -> anyhow::Result<ExitCode> {
    let Some(admin_password) = args.admin_password else {
        bail!("--url needs the admin's password: --admin-password or ECOMMERCE_ADMIN_PASSWORD");
    };
    println!(
        "load: {} orders, concurrency {}, {} products, {} customers, against {url}",
        load.orders, load.concurrency, load.products, load.customers
    );
    let config = RemoteConfig {
        url,
        admin_email: args.admin_email,
        admin_password,
        load,
    };
    let (bar, tick) = progress(config.load.orders);
    let run = remote::run(&config, tick).await?;
    bar.finish_and_clear();
    println!("\n{}", run.report);
    let checks = remote_checks::check_all(
        &run.client,
        &run.admin_token,
        config.load.concurrency,
        SETTLE,
    )
    .await?;
    let throttled = run.client.throttled();
    if throttled > 0 {
        println!(
            "note: rate limited {throttled} times (waited out); start serve with ECOMMERCE_RATE_LIMIT=1000000 for a load run"
        );
    }
    Ok(verdict(&checks))
}

/// The in-process mode.
async fn in_process(args: LoadArgs, load: LoadConfig) -> anyhow::Result<ExitCode> {
    if !(0.0..=1.0).contains(&args.payment_success_rate) {
        bail!("--payment-success-rate must be between 0.0 and 1.0");
    }
    let (db, _throwaway) = super::db_or_temp(args.db, "load");
    let config = ShopConfig {
        provider: SimulatedProvider {
            success_rate: args.payment_success_rate,
            ..SimulatedProvider::seeded(args.seed)
        },
        seed_catalogue: false,
        durable: args.durable,
        dispatch_concurrency: 16,
        linger: Duration::from_millis(args.linger_ms),
        step_mode: match args.steps {
            Steps::Local => StepMode::Local,
            Steps::Claimed => StepMode::Claimed,
        },
        ..ShopConfig::new(&db)
    };
    let shop = Arc::new(
        Shop::open(config)
            .await
            .with_context(|| format!("opening the shop at {}", db.display()))?,
    );
    println!(
        "load: {} orders, concurrency {}, {} products, {:?} steps, SQLite at {}",
        load.orders,
        load.concurrency,
        load.products,
        args.steps,
        db.display()
    );
    let (bar, tick) = progress(load.orders);
    let report = load::run(shop.clone(), &load, tick).await?;
    bar.finish_and_clear();
    println!("\n{report}");
    let checks = invariants::check_all(&shop, SETTLE).await?;
    let code = verdict(&checks);
    if let Ok(shop) = Arc::try_unwrap(shop) {
        shop.shutdown().await?;
    }
    Ok(code)
}

/// A progress bar over `orders` and the callback that advances it.
fn progress(orders: usize) -> (ProgressBar, Arc<dyn Fn() + Send + Sync>) {
    let bar = ProgressBar::new(orders as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} orders settled, {per_sec}, eta {eta}")
    {
        bar.set_style(style);
    }
    let tick = bar.clone();
    (bar, Arc::new(move || tick.inc(1)))
}

/// Prints every check; failure if one is violated (an order that did not settle is one that
/// is not terminal).
fn verdict(checks: &[Check]) -> ExitCode {
    let mut failed = false;
    for check in checks {
        let verdict = if check.holds() { "ok" } else { "VIOLATED" };
        println!("{verdict:>8}  {}", check.name);
        for violation in check.violations.iter().take(10) {
            println!("          {violation}");
        }
        if check.violations.len() > 10 {
            println!("          … and {} more", check.violations.len() - 10);
        }
        failed |= !check.holds();
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
