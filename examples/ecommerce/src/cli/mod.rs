//! The subcommands.

pub mod broker;
pub mod demo;
pub mod gateway;
pub mod load;
pub mod serve;
pub mod service;

use std::path::PathBuf;

/// The SQLite file of a throw-away shop: `given`, kept, or else a fresh file in the temporary
/// directory, removed (with its `-wal` and `-shm` files) when the guard is dropped.
pub fn db_or_temp(given: Option<PathBuf>, what: &str) -> (PathBuf, Option<ThrowAway>) {
    match given {
        Some(db) => (db, None),
        None => {
            let db =
                std::env::temp_dir().join(format!("ecommerce-{what}-{}.db", uuid::Uuid::new_v4()));
            (db.clone(), Some(ThrowAway(db)))
        }
    }
}

/// Removes a throw-away shop's SQLite files when dropped.
#[derive(Debug)]
pub struct ThrowAway(PathBuf);

impl Drop for ThrowAway {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            // Missing already (no WAL written, say): nothing to remove.
            let _ = std::fs::remove_file(path);
        }
    }
}
