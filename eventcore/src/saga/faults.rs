//! Crash injection: the manager asks a [`FaultInjector`] at every step boundary whether to
//! "crash" there (abandon the operation as a killed process would). Production code uses
//! [`NoFaults`]; simulation tests inject crashes at every boundary in turn.

/// Every step boundary the manager checks, in the order an event's effects pass them.
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

/// An injected crash at `point`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("injected crash at {point}")]
pub struct InjectedCrash {
    /// The boundary.
    pub point: &'static str,
}

/// Decides whether the manager crashes at a boundary.
pub trait FaultInjector: Send + Sync + 'static {
    /// `Err` to crash at `point` (one of [`CRASH_POINTS`]).
    fn check(&self, point: &'static str) -> Result<(), InjectedCrash>;
}

/// Never crashes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFaults;

impl FaultInjector for NoFaults {
    fn check(&self, _point: &'static str) -> Result<(), InjectedCrash> {
        Ok(())
    }
}
