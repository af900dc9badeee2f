//! The subcommands.

pub mod broker;
pub mod demo;
pub mod gateway;
pub mod load;
pub mod serve;
pub mod service;

/// A fresh file in the temporary directory for a throw-away shop.
pub fn temp_db(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("ecommerce-{what}-{}.db", uuid::Uuid::new_v4()))
}
