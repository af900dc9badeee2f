//! The document's pure transitions: deadline changes, and what compensation undoes.

use super::*;
use crate::RecordedEvent;

/// Steps named by their command; reactions come from the tests.
struct Steps;

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Never {}
impl crate::Event for Never {}

impl Saga for Steps {
    const TYPE: &'static str = "steps";
    type State = ();
    type Event = Never;
    type Command = String;
    type Error = std::convert::Infallible;
    fn correlate(&self, _: &Never, _: &RecordedEvent) -> Option<String> {
        None
    }
    fn on_event(&self, _: &(), event: &Never) -> Result<Reaction<Self>, Self::Error> {
        match *event {}
    }
}

fn undoable(name: &str) -> Step<String> {
    Step::new(name, format!("do {name}")).compensate_with(format!("undo {name}"))
}

/// The commands of the pending steps, in order.
fn pending(document: &Document<Steps>) -> Vec<&str> {
    let pending = document
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Pending);
    pending.map(|s| s.command.as_str()).collect()
}

/// An instance whose steps `a` then `b`, each with its undo, are done.
fn two_steps_done(now: SystemTime) -> Document<Steps> {
    let mut document = Document::<Steps>::default();
    let steps = Reaction::new().step(undoable("a")).step(undoable("b"));
    document.react(steps, now, "start").unwrap();
    document.step_done("a", now).unwrap();
    document.step_done("b", now).unwrap();
    document
}

#[test]
fn a_step_with_nothing_to_undo_is_left_out_of_the_compensation() {
    let now = SystemTime::UNIX_EPOCH;
    let mut document = two_steps_done(now);
    let refused = Reaction::new()
        .nothing_to_undo("b")
        .nothing_to_undo("no such step")
        .compensate();
    document.react(refused, now, "b refused").unwrap();
    assert_eq!(pending(&document), ["undo a"]);
    document.step_done("undo:a", now).unwrap();
    assert_eq!(document.saga_status(), SagaStatus::Compensated);
}

#[test]
fn without_it_every_done_step_is_undone_newest_first() {
    let now = SystemTime::UNIX_EPOCH;
    let mut document = two_steps_done(now);
    document
        .react(Reaction::new().compensate(), now, "cancelled")
        .unwrap();
    assert_eq!(pending(&document), ["undo b", "undo a"]);
}

fn changes(set: &[&str], cancel: &[&str]) -> DeadlineChanges {
    let due = SystemTime::UNIX_EPOCH;
    DeadlineChanges {
        set: set.iter().map(|n| ((*n).to_owned(), due)).collect(),
        cancel: cancel.iter().map(|n| (*n).to_owned()).collect(),
    }
}

#[test]
fn later_deadline_changes_override_earlier_ones_name_by_name() {
    let mut all = changes(&["reply", "expiry"], &["old"]);
    all.then(changes(&["old"], &["reply"]));
    all.then(changes(&["expiry", "both"], &["both"]));
    let mut set: Vec<_> = all.set.iter().map(|(n, _)| n.as_str()).collect();
    set.sort_unstable();
    let mut cancel: Vec<_> = all.cancel.iter().map(String::as_str).collect();
    cancel.sort_unstable();
    assert_eq!(
        set,
        ["expiry", "old"],
        "set again after a cancel: set, once"
    );
    assert_eq!(
        cancel,
        ["both", "reply"],
        "cancelled after a set: cancelled"
    );
}
