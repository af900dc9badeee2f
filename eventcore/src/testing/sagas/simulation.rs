//! The deterministic simulation: seeded runs of many transfer sagas under injected crashes at
//! every step boundary, a flaky command bus, duplicated and early deliveries and clock jumps;
//! then recovery, after which every saga must be terminal and no command may have taken
//! effect twice.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::Rng;
use super::harness::{Accounts, SagaStore, drive, options, run_id};
use super::transfer::{
    Deliveries, Flaky, Move, TransferEvent, TransferSaga, balance, counter_bus, fund,
    local_counter_bus, publish,
};
use crate::event::RecordedEvent;
use crate::saga::CommandBus;
use crate::saga::{
    CRASH_POINTS, FaultInjector, InjectedCrash, ManualClock, SagaError, SagaManager, SagaOptions,
    SagaStatus, StepKind, StepStatus,
};

/// What a simulation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimulationReport {
    /// Seeds run.
    pub seeds: u64,
    /// Sagas run.
    pub sagas: usize,
    /// Crashes injected, per boundary.
    pub crashes: BTreeMap<&'static str, u32>,
    /// Sagas that completed.
    pub completed: usize,
    /// Sagas that compensated.
    pub compensated: usize,
    /// Events delivered again or early.
    pub redeliveries: u32,
    /// Sagas parked during the run and sent back by an operator retry.
    pub unparked: usize,
}

impl SimulationReport {
    fn merge(&mut self, other: SimulationReport) {
        self.seeds += other.seeds;
        self.sagas += other.sagas;
        for (point, n) in other.crashes {
            *self.crashes.entry(point).or_default() += n;
        }
        self.completed += other.completed;
        self.compensated += other.compensated;
        self.redeliveries += other.redeliveries;
        self.unparked += other.unparked;
    }
}

/// Crashes at a seeded random share of boundary checks while switched on (half of the checks
/// of a boundary until it crashed once in this run, then `rate`).
struct SeededFaults {
    rng: Mutex<Rng>,
    rate: f64,
    on: AtomicBool,
    crashes: Mutex<BTreeMap<&'static str, u32>>,
}

impl FaultInjector for SeededFaults {
    fn check(&self, point: &'static str) -> Result<(), InjectedCrash> {
        if !self.on.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut crashes = self.crashes.lock().unwrap_or_else(PoisonError::into_inner);
        // A boundary that has not crashed yet crashes more readily, so every one is covered
        // even when the schedule passes it rarely.
        let rate = if crashes.contains_key(point) {
            self.rate
        } else {
            0.5
        };
        let crash = self
            .rng
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .chance(rate);
        if !crash {
            return Ok(());
        }
        *crashes.entry(point).or_default() += 1;
        Err(InjectedCrash { point })
    }
}

/// One seeded run of `sagas` transfers over `steps` random operations, then recovery and the
/// checks. The manager keeps nothing between calls, so carrying on after an injected crash is
/// what a restarted process would do.
pub async fn simulate<T: SagaStore>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
) -> SimulationReport {
    simulate_with(store, seed, sagas, steps, counter_bus, options()).await
}

/// [`simulate`] with steps executed in the saga's own transactions ([`local_counter_bus`]),
/// each in a transaction of its own (`step_group: 1`).
pub async fn simulate_local<T: SagaStore>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
) -> SimulationReport {
    simulate_local_in_groups(store, seed, sagas, steps, 1).await
}

/// [`simulate_local`] with the next steps of up to three instances committed together
/// ([`SagaOptions::step_group`](crate::saga::SagaOptions::step_group); the default groups
/// up to eight, which the simulation's few instances at a time rarely fill).
pub async fn simulate_grouped<T: SagaStore>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
) -> SimulationReport {
    simulate_local_in_groups(store, seed, sagas, steps, 3).await
}

/// Local steps, the next steps of up to `step_group` instances in one transaction.
async fn simulate_local_in_groups<T: SagaStore>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
    step_group: usize,
) -> SimulationReport {
    let options = SagaOptions {
        step_group,
        ..options()
    };
    simulate_with(store, seed, sagas, steps, local_counter_bus, options).await
}

/// A seeded run over the bus `bus` builds (made flaky while the run injects failures).
async fn simulate_with<T: SagaStore, B: CommandBus<Move>>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
    bus: impl FnOnce(T, Arc<Deliveries>) -> B,
    options: SagaOptions,
) -> SimulationReport {
    let (flaky, deliveries) = (Arc::new(AtomicBool::new(true)), Arc::default());
    let inner = bus(store.clone(), Arc::clone(&deliveries));
    let bus = Flaky::new(inner, seed ^ 0xB05, 0.1, flaky.clone());
    run(store, seed, sagas, steps, (bus, flaky, deliveries), options).await
}

async fn run<T: SagaStore, B: CommandBus<Move>>(
    store: &T,
    seed: u64,
    sagas: usize,
    steps: usize,
    (bus, flaky, deliveries): (B, Arc<AtomicBool>, Arc<Deliveries>),
    options: SagaOptions,
) -> SimulationReport {
    let run = format!("sim{seed}-{}", run_id());
    let mut rng = Rng::new(seed);
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let faults = Arc::new(SeededFaults {
        rng: Mutex::new(Rng::new(seed ^ 0x5EED)),
        rate: 0.08,
        on: AtomicBool::new(true),
        crashes: Mutex::default(),
    });
    let manager = SagaManager::new(TransferSaga, store.clone(), bus)
        .with_clock(clock.clone())
        .with_faults(faults.clone())
        .with_options(options);

    let mut ids = Vec::new();
    let mut initial = BTreeMap::new();
    let mut published: Vec<RecordedEvent> = Vec::new();
    let mut unconfirmed = Vec::new();
    for i in 0..sagas {
        let id = format!("{run}-{i}");
        let accounts = Accounts::new(&run, &id);
        let funds = if rng.chance(0.8) { 100 } else { 10 };
        fund(store, &accounts.from, funds).await;
        initial.insert(accounts.from.clone(), funds);
        let fee = u64::from(!rng.chance(0.15));
        published.push(publish(store, &id, &accounts.request(&id, 30, fee)).await);
        if rng.chance(0.7) {
            unconfirmed.push(id.clone());
        }
        ids.push(id);
    }

    let mut report = SimulationReport {
        seeds: 1,
        sagas,
        ..SimulationReport::default()
    };
    for _ in 0..steps {
        let outcome: Result<(), SagaError> = match rng.below(8) {
            0 | 1 => manager
                .process_events(1 + rng.below(4) as usize)
                .await
                .map(drop),
            2 | 3 => manager
                .dispatch_pending(1 + rng.below(3) as usize)
                .await
                .map(drop),
            4 => manager.fire_due_deadlines(5).await.map(drop),
            5 => {
                clock.advance(Duration::from_secs(rng.below(20)));
                Ok(())
            }
            6 if !unconfirmed.is_empty() => {
                let id = unconfirmed.swap_remove(rng.below(unconfirmed.len() as u64) as usize);
                let event = TransferEvent::Confirmed {
                    transfer: id.clone(),
                };
                published.push(publish(store, &id, &event).await);
                Ok(())
            }
            _ => {
                // A duplicate, or an event ahead of the checkpoint: early.
                report.redeliveries += 1;
                let event = &published[rng.below(published.len() as u64) as usize];
                manager.deliver(event).await
            }
        };
        match outcome {
            Ok(()) | Err(SagaError::Crash(_)) => {}
            Err(error) => panic!("seed {seed}: unexpected failure: {error}"),
        }
    }

    // Recovery: no more crashes or flaky sends; parked sagas are retried by an operator.
    faults.on.store(false, Ordering::Relaxed);
    flaky.store(false, Ordering::Relaxed);
    for parked in manager.list(SagaStatus::Parked, 1000).await.expect("list") {
        assert!(manager.retry(&parked.id).await.expect("retry"));
        report.unparked += 1;
    }
    drive(&manager, &clock, &ids, |v| v.phase.is_terminal()).await;

    // Checks: every saga terminal; each counter holds exactly its funding and the moves of the
    // steps recorded as done, once each.
    let mut expected: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    for (account, funds) in &initial {
        expected.insert(account.clone(), (*funds as i64, u64::from(*funds > 0)));
    }
    for id in &ids {
        let view = manager.get(id).await.expect("get").expect("exists");
        match view.status {
            SagaStatus::Completed => report.completed += 1,
            SagaStatus::Compensated => report.compensated += 1,
            other => panic!("seed {seed}: saga {id} ended {other}: {view:?}"),
        }
        for step in view.steps.iter().filter(|s| s.status == StepStatus::Done) {
            let entry = expected.entry(step.command.counter.clone()).or_default();
            let amount = step.command.amount as i64;
            entry.0 += if step.command.add { amount } else { -amount };
            entry.1 += 1;
            assert!(
                step.kind == StepKind::Forward || step.name.starts_with("undo:"),
                "{step:?}"
            );
        }
    }
    for (account, (total, events)) in expected {
        let actual = balance(store, &account).await;
        assert_eq!(
            (actual.0 as i64, actual.1),
            (total, events),
            "seed {seed}: counter {account} (total, events) differs from the recorded steps: \
             a command took effect twice or not at all"
        );
    }
    assert!(deliveries.reached.load(Ordering::Relaxed) > 0);
    report.crashes = faults
        .crashes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    report
}

/// Several seeded runs; every boundary in [`CRASH_POINTS`] must have crashed at least once.
pub async fn simulation_with_crashes_at_every_boundary<T: SagaStore>(store: T) {
    let mut total = SimulationReport::default();
    for seed in 1..=4 {
        total.merge(simulate(&store, seed, 10, 300).await);
    }
    check_simulation(&total, "sent steps");
}

/// The same with steps executed in the saga's own transactions (one commit per step).
pub async fn simulation_with_crashes_at_every_boundary_with_local_steps<T: SagaStore>(store: T) {
    let mut total = SimulationReport::default();
    for seed in 11..=14 {
        total.merge(simulate_local(&store, seed, 10, 300).await);
    }
    check_simulation(&total, "local steps");
}

/// The same with the next steps of up to three instances committed together.
pub async fn simulation_with_crashes_at_every_boundary_with_grouped_local_steps<T: SagaStore>(
    store: T,
) {
    let mut total = SimulationReport::default();
    for seed in 21..=24 {
        total.merge(simulate_grouped(&store, seed, 10, 300).await);
    }
    check_simulation(&total, "grouped local steps");
}

fn check_simulation(total: &SimulationReport, kind: &str) {
    for point in CRASH_POINTS {
        assert!(
            total.crashes.get(point).copied().unwrap_or(0) > 0,
            "crash point {point} was never exercised: {total:?}"
        );
    }
    assert_eq!(total.completed + total.compensated, total.sagas);
    let crashes: u32 = total.crashes.values().sum();
    println!(
        "saga simulation ({kind}): {} seeds, {} sagas ({} completed, {} compensated, {} unparked), \
         {} crashes over {} boundaries {:?}, {} redeliveries",
        total.seeds,
        total.sagas,
        total.completed,
        total.compensated,
        total.unparked,
        crashes,
        total.crashes.len(),
        total.crashes,
        total.redeliveries
    );
}
