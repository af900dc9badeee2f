//! The saga throughput measurement the storage crates' benchmarks run: three-step transfer
//! sagas completed per second by a started manager (default options: 8 instances dispatched
//! at once), beside a raw baseline that executes the same three commands per transfer straight
//! through a repository, 8 transfers at a time, in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::harness::{Accounts, SagaStore, run_id};
use super::transfer::{Deliveries, TransferSaga, counter_bus, fund, local_counter_bus, publish};
use crate::repository::Repository;
use crate::saga::CommandBus;
use crate::saga::{Saga, SagaManager, SagaOptions, SagaStatus};
use crate::testing::counter::{Counter, CounterCommand};

/// A transfer's counters; each transfer has its own fee counter, so no aggregate is hot and
/// the figure measures the manager, not one contended stream.
fn accounts(run: &str, id: &str) -> Accounts {
    Accounts {
        fees: format!("{run}-{id}-fees"),
        ..Accounts::new(run, id)
    }
}

/// What [`throughput`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Throughput {
    /// Sagas run.
    pub sagas: usize,
    /// Sagas completed per second by the manager.
    pub sagas_per_second: f64,
    /// Transfers per second executed as three plain repository commands.
    pub raw_per_second: f64,
    /// Sagas completed per second by the manager with steps executed in the saga's own
    /// transactions ([`local_counter_bus`](super::transfer::local_counter_bus)), default
    /// options: the next steps of up to [`SagaOptions::step_group`] instances commit together.
    pub local_sagas_per_second: f64,
    /// The same with one transaction per step (`step_group: 1`).
    pub single_step_sagas_per_second: f64,
}

impl Throughput {
    /// The three kinds of saga beside the raw commands, one line each, as the benches print
    /// them.
    pub fn table(&self) -> String {
        let raw = self.raw_per_second;
        let line = |kind: &str, rate: f64| {
            format!(
                "{kind:<20} {rate:>8.0} sagas/s   raw repository commands {raw:>8.0} \
                 transfers/s   ratio {:.2}\n",
                rate / raw
            )
        };
        let group = SagaOptions::default().step_group;
        line("sent steps", self.sagas_per_second)
            + &line(
                &format!("local steps ({group}/tx)"),
                self.local_sagas_per_second,
            )
            + &line("local steps (1/tx)", self.single_step_sagas_per_second)
    }
}

/// Runs `n` transfers each way on `store` (accounts funded first, untimed).
///
/// # Panics
/// If a saga does not complete within a minute, or ends otherwise.
pub async fn throughput<T: SagaStore>(store: T, n: usize) -> Throughput {
    let run = run_id();
    let ids: Vec<String> = (0..n).map(|i| format!("{run}-b{i}")).collect();
    let local_ids: Vec<String> = (0..n).map(|i| format!("{run}-l{i}")).collect();
    let single_ids: Vec<String> = (0..n).map(|i| format!("{run}-s{i}")).collect();
    for id in ids.iter().chain(&local_ids).chain(&single_ids) {
        let accounts = accounts(&run, id);
        fund(&store, &accounts.from, 100).await;
        fund(&store, &format!("{}-raw", accounts.from), 100).await;
    }

    // Raw: the same three commands per transfer, as many transfers at a time as the manager
    // dispatches instances at once.
    let concurrency = SagaOptions::default().dispatch_concurrency;
    let counters = Repository::<Counter>::new(store.clone());
    let start = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|worker| {
            let counters = counters.clone();
            let mine: Vec<String> = ids
                .iter()
                .skip(worker)
                .step_by(concurrency)
                .cloned()
                .collect();
            let run = run.clone();
            tokio::spawn(async move {
                for id in mine {
                    let accounts = accounts(&run, &id);
                    for command in [
                        CounterCommand::subtract(format!("{}-raw", accounts.from), 30),
                        CounterCommand::add(format!("{}-raw", accounts.to), 30),
                        CounterCommand::add(format!("{}-raw", accounts.fees), 1),
                    ] {
                        counters.execute(command).await.expect("raw command");
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("raw worker");
    }
    let raw_per_second = n as f64 / start.elapsed().as_secs_f64();

    let group = SagaOptions::default().step_group;
    let bus = counter_bus(store.clone(), Arc::new(Deliveries::default()));
    let sagas_per_second = run_sagas(&store, bus, &run, &ids, group).await;
    let bus = local_counter_bus(store.clone(), Arc::new(Deliveries::default()));
    let local_sagas_per_second = run_sagas(&store, bus, &run, &local_ids, group).await;
    let bus = local_counter_bus(store.clone(), Arc::new(Deliveries::default()));
    let single_step_sagas_per_second = run_sagas(&store, bus, &run, &single_ids, 1).await;
    Throughput {
        sagas: n,
        sagas_per_second,
        raw_per_second,
        local_sagas_per_second,
        single_step_sagas_per_second,
    }
}

/// Requests the transfers `ids` (untimed), then starts a manager over `bus` and times it until
/// their sagas have completed; sagas per second.
async fn run_sagas<T: SagaStore, B: CommandBus<super::transfer::Move>>(
    store: &T,
    bus: B,
    run: &str,
    ids: &[String],
    step_group: usize,
) -> f64 {
    let options = SagaOptions {
        poll_interval: Duration::from_millis(5),
        step_group,
        ..SagaOptions::default()
    };
    // Each run's transfers are requested just before its manager starts (the managers share
    // the saga type, so an earlier one would start them too): the time includes taking in
    // their events.
    for id in ids {
        let accounts = accounts(run, id);
        publish(store, id, &accounts.request(id, 30, 1)).await;
        let confirmed = super::transfer::TransferEvent::Confirmed {
            transfer: id.clone(),
        };
        publish(store, id, &confirmed).await;
    }
    let start = Instant::now();
    let handle = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_options(options)
        .start()
        .expect("start");
    let limit = Duration::from_secs(60 + ids.len() as u64 / 10);
    // The intake takes events in log order: once the last transfer requested has settled,
    // every instance exists. From then on the clock stops when none is left unsettled (one
    // query per look, instead of one per instance).
    let last = ids.last().expect("transfers");
    tokio::time::timeout(limit, handle.wait_until_settled(last))
        .await
        .expect("sagas stalled")
        .expect("wait");
    tokio::time::timeout(limit, async {
        loop {
            let mut unsettled = 0;
            for status in [
                SagaStatus::Active,
                SagaStatus::Dispatching,
                SagaStatus::Compensating,
            ] {
                let listed = store
                    .sagas_with_status(TransferSaga::TYPE, status.as_str(), 1)
                    .await
                    .expect("list");
                unsettled += listed.len();
            }
            if unsettled == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("sagas stalled");
    let rate = ids.len() as f64 / start.elapsed().as_secs_f64();
    for id in ids {
        let view = handle.wait_until_settled(id).await.expect("wait");
        assert_eq!(view.status, SagaStatus::Completed, "{id}");
    }
    handle.shutdown().await.expect("shutdown");
    rate
}
