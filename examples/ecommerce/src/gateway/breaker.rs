//! A circuit breaker per upstream: closed (requests pass) until `failures_to_open` consecutive
//! failures, then open (requests are refused at once) for `open_for`, then half-open: one
//! trial request passes; its success closes the breaker, its failure opens it again.
//!
//! A failure is what says the upstream is unwell: no answer, a timeout, a 5xx. A 4xx is the
//! upstream working (a business refusal, a bad request) and counts as a success.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// When a breaker opens and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long it stays open before a trial request may pass.
    pub open_for: Duration,
}

impl Default for BreakerPolicy {
    /// Opens after 5 consecutive failures, half-open after 60 s.
    fn default() -> Self {
        Self {
            failures_to_open: 5,
            open_for: Duration::from_secs(60),
        }
    }
}

/// What a breaker does now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests pass.
    Closed,
    /// Requests are refused.
    Open,
    /// One trial request passes (or is out); the others are refused.
    HalfOpen,
}

impl BreakerState {
    /// The state's name, as health and logs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A trial request is out.
    HalfOpen,
}

/// One upstream's breaker.
#[derive(Debug)]
pub struct Breaker {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            state: Mutex::new(State::Closed { failures: 0 }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a request through (report how it went on the permit), or says how long until a
    /// trial request may pass.
    ///
    /// # Errors
    /// The wait, while the breaker is open or its trial request is out.
    pub fn admit(self: &Arc<Self>, now: Instant) -> Result<Permit, Duration> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => {}
            State::Open { until } if now >= until => *state = State::HalfOpen,
            State::Open { until } => return Err(until - now),
            State::HalfOpen => return Err(Duration::from_secs(1)),
        }
        Ok(Permit {
            breaker: Some(Arc::clone(self)),
        })
    }

    /// The state at `now` (an open breaker whose time is up shows as half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if now >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen => BreakerState::HalfOpen,
        }
    }

    fn record(&self, success: bool, now: Instant) {
        let mut state = self.lock();
        let open = State::Open {
            until: now + self.policy.open_for,
        };
        *state = match (*state, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) => {
                let failures = failures + 1;
                if failures >= self.policy.failures_to_open {
                    tracing::warn!(failures, "circuit breaker opens");
                    open
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen, false) => {
                tracing::warn!("trial request failed: circuit breaker opens again");
                open
            }
            // Admitted before the breaker opened, failed after: it stays open as it is.
            (current @ State::Open { .. }, false) => current,
        };
    }

    /// A trial request that ended without an outcome (its caller went away): the next
    /// request may try.
    fn abandon(&self, now: Instant) {
        let mut state = self.lock();
        if matches!(*state, State::HalfOpen) {
            *state = State::Open { until: now };
        }
    }
}

/// A request the breaker let through; report its outcome with [`Permit::succeeded`] or
/// [`Permit::failed`]. Dropped without either, it counts as neither.
#[derive(Debug)]
pub struct Permit {
    breaker: Option<Arc<Breaker>>,
}

impl Permit {
    /// The upstream answered (any status below 500).
    pub fn succeeded(mut self, now: Instant) {
        if let Some(breaker) = self.breaker.take() {
            breaker.record(true, now);
        }
    }

    /// No answer, a timeout or a 5xx.
    pub fn failed(mut self, now: Instant) {
        if let Some(breaker) = self.breaker.take() {
            breaker.record(false, now);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(breaker) = self.breaker.take() {
            breaker.abandon(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(breaker: &Arc<Breaker>, now: Instant) {
        breaker.admit(now).expect("admitted").failed(now);
    }

    #[test]
    fn opens_after_five_consecutive_failures_only() {
        let breaker = Breaker::new(BreakerPolicy::default());
        let now = Instant::now();
        for _ in 0..4 {
            fail(&breaker, now);
        }
        breaker.admit(now).expect("admitted").succeeded(now);
        for _ in 0..4 {
            fail(&breaker, now);
        }
        assert_eq!(
            breaker.state(now),
            BreakerState::Closed,
            "4 in a row after a success"
        );
        fail(&breaker, now);
        assert_eq!(breaker.state(now), BreakerState::Open);
        let wait = breaker.admit(now).expect_err("refused while open");
        assert_eq!(wait, Duration::from_secs(60));
    }

    #[test]
    fn half_open_after_the_wait_lets_one_trial_through() {
        let breaker = Breaker::new(BreakerPolicy::default());
        let start = Instant::now();
        for _ in 0..5 {
            fail(&breaker, start);
        }
        let almost = start + Duration::from_secs(59);
        assert_eq!(
            breaker.admit(almost).expect_err("still open"),
            Duration::from_secs(1)
        );
        let later = start + Duration::from_secs(60);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        let trial = breaker.admit(later).expect("the trial passes");
        assert!(breaker.admit(later).is_err(), "one trial at a time");
        trial.succeeded(later);
        assert_eq!(breaker.state(later), BreakerState::Closed);
        breaker.admit(later).expect("closed again").succeeded(later);
    }

    #[test]
    fn a_failed_trial_opens_it_for_another_wait() {
        let breaker = Breaker::new(BreakerPolicy::default());
        let start = Instant::now();
        for _ in 0..5 {
            fail(&breaker, start);
        }
        let later = start + Duration::from_secs(60);
        fail(&breaker, later);
        assert_eq!(breaker.state(later), BreakerState::Open);
        assert_eq!(
            breaker.admit(later).expect_err("open again"),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn an_abandoned_trial_frees_the_slot() {
        let breaker = Breaker::new(BreakerPolicy::default());
        let start = Instant::now();
        for _ in 0..5 {
            fail(&breaker, start);
        }
        let later = start + Duration::from_secs(60);
        drop(breaker.admit(later).expect("trial"));
        breaker
            .admit(later)
            .expect("another trial may go")
            .succeeded(later);
        assert_eq!(breaker.state(later), BreakerState::Closed);
    }

    #[test]
    fn late_failures_of_requests_admitted_before_it_opened_keep_the_wait() {
        let breaker = Breaker::new(BreakerPolicy::default());
        let start = Instant::now();
        let late: Vec<Permit> = (0..3)
            .map(|_| breaker.admit(start).expect("closed"))
            .collect();
        for _ in 0..5 {
            fail(&breaker, start);
        }
        let after = start + Duration::from_secs(30);
        for permit in late {
            permit.failed(after);
        }
        let wait = breaker.admit(after).expect_err("open");
        assert_eq!(wait, Duration::from_secs(30), "the first opening's wait");
    }
}
