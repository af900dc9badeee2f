//! Shared test setup: database files in one directory per test run under the system temp
//! directory. Directories of earlier runs older than an hour are removed when a run starts.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

const PREFIX: &str = "eventcore-sqlite-tests-";

/// A fresh database path in this run's directory.
pub fn temp_db() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(run_dir)
        .join(format!("{}.db", uuid::Uuid::new_v4()))
}

fn run_dir() -> PathBuf {
    let root = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&root) {
        let stale = SystemTime::now() - Duration::from_secs(3600);
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < stale);
            if old && entry.file_name().to_string_lossy().starts_with(PREFIX) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = root.join(format!("{PREFIX}{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
