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
    println!(
        "saga manager   {:>8.0} sagas/s   raw repository commands {:>8.0} transfers/s   ratio {:.2}",
        t.sagas_per_second,
        t.raw_per_second,
        t.sagas_per_second / t.raw_per_second
    );
    println!(
        "local steps    {:>8.0} sagas/s   raw repository commands {:>8.0} transfers/s   ratio {:.2}",
        t.local_sagas_per_second,
        t.raw_per_second,
        t.local_sagas_per_second / t.raw_per_second
    );
    println!(
        "grouped steps  {:>8.0} sagas/s   raw repository commands {:>8.0} transfers/s   ratio {:.2}   (step_group {})",
        t.grouped_sagas_per_second,
        t.raw_per_second,
        t.grouped_sagas_per_second / t.raw_per_second,
        eventcore::testing::sagas::GROUP
    );
    let _ = std::fs::remove_dir_all(dir);
}
