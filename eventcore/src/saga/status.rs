//! A saga instance's status: what operator queries filter by and what waiting looks at.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where a saga instance stands, as [`SagaView::status`](super::SagaView::status) shows it and
/// [`SagaManager::list`](super::SagaManager::list) filters by.
///
/// It is stored beside the instance as the string [`as_str`](Self::as_str) gives (the backend
/// record's `status` column), so the names are stable.
///
/// There is no `failed` status: a step that is rejected or runs out of retries makes the saga
/// decide ([`Saga::on_step_failed`](super::Saga::on_step_failed); by default it compensates),
/// and a [`PolicySaga`](super::PolicySaga) completes with the step marked failed. The one
/// state that needs a person is [`Parked`](Self::Parked).
///
/// ```
/// use eventcore::saga::SagaStatus;
///
/// let status: SagaStatus = "parked".parse().unwrap();
/// assert_eq!(status, SagaStatus::Parked);
/// assert_eq!(status.as_str(), "parked");
/// assert!(!status.is_terminal());
/// assert!(status.is_settled());
/// assert!("failed".parse::<SagaStatus>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SagaStatus {
    /// Waiting for events or deadlines; no step is pending (`active`).
    Active,
    /// Steps are pending: the dispatcher sends them in order (`dispatching`). A saga asked to
    /// complete stays here until its last step ran.
    Dispatching,
    /// Undoing its completed steps, newest first (`compensating`).
    Compensating,
    /// A compensation kept failing: the saga waits for an operator's
    /// [`retry`](super::SagaManager::retry) (`parked`). Not terminal: it still has work to do.
    Parked,
    /// Done: every step ran (`completed`). Terminal.
    Completed,
    /// Undone: every completed step was compensated (`compensated`). Terminal.
    Compensated,
}

impl SagaStatus {
    /// Every status, in the order an instance may pass them.
    pub const ALL: [SagaStatus; 6] = [
        Self::Active,
        Self::Dispatching,
        Self::Compensating,
        Self::Parked,
        Self::Completed,
        Self::Compensated,
    ];

    /// The stored name: `active`, `dispatching`, `compensating`, `parked`, `completed` or
    /// `compensated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Dispatching => "dispatching",
            Self::Compensating => "compensating",
            Self::Parked => "parked",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
        }
    }

    /// Whether nothing more will happen to the instance: [`Completed`](Self::Completed) or
    /// [`Compensated`](Self::Compensated).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Compensated)
    }

    /// Whether the instance will not move on its own: it is terminal, or
    /// [`Parked`](Self::Parked) until an operator retries it. This is what
    /// [`SagaManager::wait_until_settled`](super::SagaManager::wait_until_settled) waits for.
    pub fn is_settled(self) -> bool {
        self.is_terminal() || self == Self::Parked
    }
}

impl fmt::Display for SagaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SagaStatus {
    type Err = ParseSagaStatusError;

    /// Parses a stored name (exactly as [`as_str`](Self::as_str) writes it).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == name)
            .ok_or_else(|| ParseSagaStatusError(name.to_owned()))
    }
}

/// A string that names no [`SagaStatus`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown saga status {0:?}")]
pub struct ParseSagaStatusError(String);

impl ParseSagaStatusError {
    /// The string that was parsed.
    pub fn input(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_parses_back_from_its_name() {
        for status in SagaStatus::ALL {
            assert_eq!(status.as_str().parse::<SagaStatus>(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
    }

    #[test]
    fn only_completed_and_compensated_are_terminal_and_parked_is_settled() {
        let terminal: Vec<_> = SagaStatus::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(terminal, [SagaStatus::Completed, SagaStatus::Compensated]);
        let settled: Vec<_> = SagaStatus::ALL
            .into_iter()
            .filter(|s| s.is_settled())
            .collect();
        assert_eq!(
            settled,
            [
                SagaStatus::Parked,
                SagaStatus::Completed,
                SagaStatus::Compensated
            ]
        );
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_input() {
        let error = "Completed".parse::<SagaStatus>().unwrap_err();
        assert_eq!(error.input(), "Completed");
        assert_eq!(error.to_string(), r#"unknown saga status "Completed""#);
    }

    #[test]
    fn it_serializes_as_its_stored_name() {
        let json = serde_json::to_string(&SagaStatus::Compensating).unwrap();
        assert_eq!(json, r#""compensating""#);
    }
}
