//! The eventcore flagship shop, on the embedded default (SQLite, everything in one process).
//!
//! - `cargo run -p ecommerce` (or `serve`): opens the shop at `--db` (default `ecommerce.db`,
//!   or `ECOMMERCE_DB`), seeds the catalogue once, runs its sagas, policies and read models,
//!   and serves the HTTP API on `--addr` (default `127.0.0.1:8080`, or `ECOMMERCE_ADDR`) until
//!   Ctrl-C.
//! - `cargo run -p ecommerce -- demo`: prints the event timeline of a successful order and of
//!   each failure path.
//! - `cargo run --release -p ecommerce -- load --orders 10000 --concurrency 50`: in-process
//!   load with a progress bar, a summary table and the invariant checks (exit code 1 on a
//!   violation).
//! - `cargo run -p ecommerce -- load --url http://127.0.0.1:8080 --orders 1000`: the same
//!   load and checks against a running shop, through its HTTP API only (see `load --help`:
//!   the admin's password, and serve's `ECOMMERCE_RATE_LIMIT` raised for the run).
//! - `ECOMMERCE_JWT_SECRET=<secret> cargo run -p ecommerce -- gateway --upstream
//!   http://127.0.0.1:8080 --addr 127.0.0.1:8000`: the distributed mode's gateway (routing,
//!   edge concerns, a circuit breaker per upstream), here in front of one shop started with
//!   the same `ECOMMERCE_JWT_SECRET` (the gateway checks the tokens the shop signs);
//!   `--upstream service=url` once per service otherwise.
//! - `ECOMMERCE_JWT_SECRET=<secret> cargo run -p ecommerce -- service customer --addr
//!   127.0.0.1:8101`: the customer context as a process of its own on PostgreSQL
//!   (`DATABASE_URL`, schema `ecommerce_customer`); `service inventory|order|payment|
//!   notification|analytics` likewise, on the broker (`--broker rabbitmq` or `kafka`,
//!   `--broker-url`). `examples/ecommerce/distributed/up.sh` starts them all, with one
//!   secret.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Where the HTTP API listens unless told otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// The eventcore flagship shop.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the shop (the default).
    Serve(cli::serve::ServeArgs),
    /// Print the event timeline of the happy path and of each failure path.
    Demo {
        /// The SQLite file, kept (default: a fresh temporary file, removed at the end).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Place N orders at concurrency C, in-process or against a running shop (--url), then
    /// check the invariants.
    Load(cli::load::LoadArgs),
    /// Run the distributed shop's gateway in front of its services (or of one shop).
    Gateway(cli::gateway::GatewayArgs),
    /// Run one context of the distributed shop as a process on PostgreSQL.
    Service(cli::service::ServiceArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // No subcommand: `serve`, with its defaults and environment.
    let command = match args.command {
        Some(command) => command,
        None => match Args::try_parse_from(["ecommerce", "serve"]) {
            Ok(Args {
                command: Some(command),
            }) => command,
            Ok(Args { command: None }) => return ExitCode::FAILURE,
            Err(error) => error.exit(),
        },
    };
    let outcome = runtime.block_on(async move {
        match command {
            Command::Serve(serve) => cli::serve::run(serve).await.map(|()| ExitCode::SUCCESS),
            Command::Demo { db } => cli::demo::run(db).await.map(|()| ExitCode::SUCCESS),
            Command::Load(load) => cli::load::run(load).await,
            Command::Gateway(gateway) => {
                cli::gateway::run(gateway).await.map(|()| ExitCode::SUCCESS)
            }
            Command::Service(service) => {
                cli::service::run(service).await.map(|()| ExitCode::SUCCESS)
            }
        }
    });
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
