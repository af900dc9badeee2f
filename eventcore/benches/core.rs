//! Core benchmark: in-memory append and load, and the fold rate of a small aggregate from typed
//! events and from stored JSON, beside serde_json's raw decode of the same payloads.
//!
//! Run with `cargo bench -p eventcore --bench core` (add `-- --quick` for a short run).
//! Each figure is the median of several rounds; ratios compare figures from the same run.

use std::hint::black_box;
use std::time::{Duration, Instant};

use eventcore::backend::RecordedEventExt;
use eventcore::testing::counter::{Counter, CounterCommand, CounterEvent};
use eventcore::{
    Aggregate, AppendRequest, EventAppender, ExpectedVersion, InMemoryEventStore, NewEvent,
    RecordedEvent, Repository, StreamId, Upcasters,
};
use serde::Deserialize;

const ROUNDS: usize = 5;

/// Times `f` (which processes `items` items) over several rounds; returns items per second.
fn rate(items: u64, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<Duration> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    items as f64 / times[ROUNDS / 2].as_secs_f64()
}

fn events(n: u64) -> Vec<CounterEvent> {
    (0..n)
        .map(|i| match i % 4 {
            3 => CounterEvent::Subtracted { amount: 1 },
            _ => CounterEvent::Added { amount: i % 97 + 1 },
        })
        .collect()
}

/// The payloads as serde_json sees them, for the raw baseline.
#[derive(Deserialize)]
struct AmountPayload {
    #[allow(dead_code)]
    amount: u64,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let scale = if quick { 10 } else { 1 };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // Fold rates.
    let n = 1_000_000 / scale;
    let typed = events(n);
    let stream = StreamId::new("counter-bench").unwrap();
    let records: Vec<RecordedEvent> = typed
        .iter()
        .enumerate()
        .map(|(i, e)| {
            RecordedEvent::from_new(
                NewEvent::from_event(e).unwrap(),
                stream.clone(),
                i as u64 + 1,
                i as u64 + 1,
                std::time::SystemTime::now(),
            )
        })
        .collect();
    let upcasters = Upcasters::new();
    let fold_typed = rate(n, || {
        let mut state = Counter::default();
        for event in &typed {
            state.apply(black_box(event));
        }
        black_box(state);
    });
    let fold_json = rate(n, || {
        let mut state = Counter::default();
        for record in &records {
            state.apply(&record.decode::<CounterEvent>(&upcasters).unwrap());
        }
        black_box(state);
    });
    let raw_decode = rate(n, || {
        for record in &records {
            black_box(serde_json::from_str::<AmountPayload>(record.payload.get()).unwrap());
        }
    });

    // Appends.
    let appends = 100_000 / scale;
    let single = rate(appends, || {
        let store = InMemoryEventStore::new();
        runtime.block_on(async {
            for i in 0..appends {
                let stream = StreamId::new(format!("s-{i}")).unwrap();
                let event = NewEvent::from_event(&CounterEvent::Added { amount: i }).unwrap();
                store
                    .append(AppendRequest::single(
                        stream,
                        ExpectedVersion::NoStream,
                        vec![event],
                    ))
                    .await
                    .unwrap();
            }
        });
    });
    let batches = appends / 100;
    let batched = rate(batches * 100, || {
        let store = InMemoryEventStore::new();
        runtime.block_on(async {
            for i in 0..batches {
                let stream = StreamId::new(format!("b-{i}")).unwrap();
                let events = (0..100)
                    .map(|a| NewEvent::from_event(&CounterEvent::Added { amount: a + 1 }).unwrap())
                    .collect();
                store
                    .append(AppendRequest::single(
                        stream,
                        ExpectedVersion::NoStream,
                        events,
                    ))
                    .await
                    .unwrap();
            }
        });
    });

    // Repository: command execution and load of a 1,000-event aggregate.
    let commands = 20_000 / scale;
    let repo = Repository::<Counter>::new(InMemoryEventStore::new());
    let execute = rate(commands, || {
        runtime.block_on(async {
            for i in 0..commands {
                repo.execute(CounterCommand::add(format!("c-{}", i % 1000), 1))
                    .await
                    .unwrap();
            }
        });
    });
    let store = InMemoryEventStore::new();
    runtime.block_on(async {
        let new: Vec<NewEvent> = events(1000)
            .iter()
            .map(|e| NewEvent::from_event(e).unwrap())
            .collect();
        store
            .append(AppendRequest::single(
                Counter::stream_id("long").unwrap(),
                ExpectedVersion::NoStream,
                new,
            ))
            .await
            .unwrap();
    });
    let long = Repository::<Counter>::new(store);
    let loads = 2_000 / scale;
    let load = rate(loads, || {
        runtime.block_on(async {
            for _ in 0..loads {
                black_box(long.load("long").await.unwrap());
            }
        });
    });

    println!("eventcore core benchmark ({} rounds, median)", ROUNDS);
    println!("{:<46} {:>16}", "measure", "rate");
    let row = |name: &str, value: f64, unit: &str| println!("{name:<46} {value:>12.0} {unit}");
    row("fold, typed events", fold_typed, "ev/s");
    row("fold, from stored JSON (decode + apply)", fold_json, "ev/s");
    row(
        "serde_json raw decode of the same payloads",
        raw_decode,
        "ev/s",
    );
    println!(
        "{:<46} {:>16.2}",
        "ratio: fold from JSON / raw decode",
        fold_json / raw_decode
    );
    row("in-memory append, 1 event per append", single, "ev/s");
    row("in-memory append, 100 events per append", batched, "ev/s");
    row(
        "repository execute (load + handle + append)",
        execute,
        "cmd/s",
    );
    row("repository load, 1,000-event aggregate", load, "loads/s");
    row("  = events folded on load", load * 1000.0, "ev/s");
}
