//! What a repository reports: to its observer, and as `tracing` events.

use std::sync::Arc;

use super::{Pair, always_conflicting, conflicting_first, retry};
use crate::repository::{Repository, RepositoryError, RepositoryObserver};
use crate::testing::counter::{Counter, CounterCommand};
use crate::{Conflict, StreamId};

/// Writes down what a repository tells its observer.
#[derive(Default)]
pub(super) struct Recorder(std::sync::Mutex<Vec<String>>);

impl Recorder {
    pub(super) fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    fn push(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }
}

impl RepositoryObserver for Recorder {
    fn on_conflict(&self, stream: &StreamId, attempt: u32, conflict: &Conflict) {
        self.push(format!(
            "conflict on {stream}, attempt {attempt}, actual {}",
            conflict.actual
        ));
    }

    fn on_retries_exhausted(&self, stream: &StreamId, attempts: u32, last: &Conflict) {
        self.push(format!(
            "exhausted on {stream} after {attempts}, actual {}",
            last.actual
        ));
    }

    fn on_committed(&self, stream: &StreamId, attempts: u32, events: usize) {
        self.push(format!(
            "committed {events} to {stream} by attempt {attempts}"
        ));
    }
}

#[tokio::test]
async fn the_observer_sees_every_conflict_then_the_exhaustion() {
    let recorder = Arc::new(Recorder::default());
    let repo = Repository::<Counter>::new(always_conflicting())
        .with_retry(retry(3))
        .with_observer(recorder.clone());
    let error = repo.execute(CounterCommand::add("c", 1)).await.unwrap_err();
    assert!(matches!(
        error,
        RepositoryError::RetriesExhausted { attempts: 3, .. }
    ));
    assert_eq!(
        recorder.calls(),
        [
            "conflict on counter-c, attempt 1, actual 99",
            "conflict on counter-c, attempt 2, actual 99",
            "conflict on counter-c, attempt 3, actual 99",
            "exhausted on counter-c after 3, actual 99",
        ]
    );
}

#[tokio::test]
async fn the_observer_sees_a_commit_after_retries_with_its_attempt_count() {
    let recorder = Arc::new(Recorder::default());
    let repo = Repository::<Pair>::new(conflicting_first(2))
        .with_retry(retry(5))
        .with_observer(recorder.clone());
    let committed = repo.execute(CounterCommand::add("p", 1)).await.unwrap();
    assert_eq!(committed.len(), 2);
    assert_eq!(
        recorder.calls(),
        [
            "conflict on pair-p, attempt 1, actual 99",
            "conflict on pair-p, attempt 2, actual 99",
            "committed 2 to pair-p by attempt 3",
        ]
    );
    // A re-sent command finds its events: nothing is committed, so nothing is reported.
    let command = CounterCommand::add("q", 1);
    repo.execute(command.clone()).await.unwrap();
    repo.execute(command).await.unwrap();
    assert_eq!(recorder.calls().len(), 4);
}

/// Captures every `tracing` event as "LEVEL message field=value ..." (a minimal subscriber,
/// so the tests need no extra dependency).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<String>>>);

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Line(String);
        impl tracing::field::Visit for Line {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 += &format!(" {value:?}");
                } else {
                    self.0 += &format!(" {}={value:?}", field.name());
                }
            }
        }
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn conflicts_are_traced_at_debug_and_giving_up_at_warn() {
    let captured = Captured::default();
    let _default = tracing::subscriber::set_default(captured.clone());
    let repo = Repository::<Counter>::new(always_conflicting()).with_retry(retry(2));
    repo.execute(CounterCommand::add("traced", 1))
        .await
        .unwrap_err();
    let lines = captured.0.lock().unwrap().clone();
    let about = |what: &str| {
        lines
            .iter()
            .filter(|l| l.contains(what))
            .cloned()
            .collect::<Vec<_>>()
    };
    let retrying = about("retrying");
    assert_eq!(retrying.len(), 1, "{lines:?}");
    assert!(retrying[0].starts_with("DEBUG append conflicted; retrying"));
    assert!(
        retrying[0].contains("stream=counter-traced attempt=1"),
        "{retrying:?}"
    );
    let last = about("no attempt left");
    assert_eq!(last.len(), 1, "{lines:?}");
    assert!(
        last[0].starts_with("DEBUG") && last[0].contains("attempt=2"),
        "{last:?}"
    );
    let giving_up = about("giving up");
    assert_eq!(giving_up.len(), 1, "{lines:?}");
    assert!(giving_up[0].starts_with("WARN append conflicted on every attempt; giving up"));
    assert!(
        giving_up[0].contains("stream=counter-traced attempts=2"),
        "{giving_up:?}"
    );
}
