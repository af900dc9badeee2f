//! Three-step sagas completed per second on SQLite (WAL file), beside the same three commands per
//! transfer executed straight through a repository in the same run.
//!
//! Run with `cargo bench -p eventcore-sqlite --bench sagas` (`-- --quick` for 100 sagas).

#[tokio::main]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let n = if quick { 100 } else { 1000 };
    let dir = std::env::temp_dir().join(format!("eventcore-sqlite-sagas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = eventcore_sqlite::SqliteEventStore::open(dir.join("sagas.db"))
        .await
        .unwrap();
    let t = eventcore::testing::sagas::throughput(store, n).await;
    println!("eventcore-sqlite sagas ({} three-step transfers)", t.sagas);
    print!("{}", t.table());
    let _ = std::fs::remove_dir_all(dir);
}
