//! Crash injection for the testing kit's crash simulation: the manager asks a
//! [`FaultInjector`] at every step boundary whether to "crash" there (abandon the operation as
//! a killed process would). A manager uses [`NoFaults`] unless a test gives it an injector
//! (`SagaManager::with_faults`); the injector, [`CRASH_POINTS`] and `with_faults` are public
//! with the `testing` feature only.

/// Every step boundary the manager checks, in the order an event's effects pass them.
#[cfg_attr(not(feature = "testing"), allow(dead_code))]
pub const CRASH_POINTS: &[&str] = &[
    "event:before-apply",
    "event:before-commit",
    "event:after-commit",
    "dispatch:before-send",
    "dispatch:after-send",
    "dispatch:before-commit",
    "dispatch:after-commit",
    "deadline:before-commit",
    "deadline:after-commit",
];

/// A crash injected at `point` by a test's fault injector
/// ([`SagaError::Crash`](super::SagaError::Crash)). Only the testing kit's crash simulation
/// (feature `testing`) produces it; a manager in production never does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected crash at {point}")]
pub struct InjectedCrash {
    /// The boundary.
    pub point: &'static str,
}

/// Decides whether the manager crashes at a boundary.
pub trait FaultInjector: Send + Sync + 'static {
    /// `Err` to crash at `point` (one of [`CRASH_POINTS`]).
    ///
    /// # Errors
    /// The crash to inject.
    fn check(&self, point: &'static str) -> Result<(), InjectedCrash>;
}

/// Never crashes: what a manager uses unless a test says otherwise.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFaults;

impl FaultInjector for NoFaults {
    fn check(&self, _point: &'static str) -> Result<(), InjectedCrash> {
        Ok(())
    }
}
