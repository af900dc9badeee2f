//! The suite's cases for the failure policies: retry, dead-letter, stop, retry forever.

use std::sync::Arc;

use super::cases::{
    LIVE, WAIT, append, caught_up, create, nth_position, read, start, truth, visible, wait_status,
};
use super::{Counting, ModelHarness};
use crate::projection::{ErrorPolicy, ProjectionError, ProjectionState};
use crate::transaction::TransactionalStore;

/// A failure that clears within the retries leaves no trace but the count of attempts.
pub async fn retries_a_transient_failure<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let last = append(&store, 2, 5).await;
    let projection = Counting::new(&harness, LIVE);
    let position = nth_position(&store, last, 3).await;
    projection.fails.fail(position, 2);
    let running = start(&harness, projection, ErrorPolicy::stop_after(3));
    caught_up(&running, last).await;
    assert_eq!(read(&*harness, LIVE).await, truth(&store, last).await);
    let status = running.status(LIVE).expect("status");
    assert_eq!((status.dead_lettered, status.failing), (0, None));
    assert!(
        store
            .dead_letters(LIVE, 10)
            .await
            .expect("dead letters")
            .is_empty()
    );
    running.shutdown().await.expect("shutdown");
}

/// A poison event goes to the dead letters, with its error; the rest is projected.
pub async fn dead_letters_a_poison_event<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let last = append(&store, 2, 5).await;
    let projection = Counting::new(&harness, LIVE);
    let poison = visible(&store, last).await[4].clone();
    projection.fails.fail(poison.global_position, u32::MAX);
    let running = start(&harness, projection, ErrorPolicy::dead_letter_after(2));
    caught_up(&running, last).await;
    let mut expected = truth(&store, last).await;
    let entry = expected.get_mut(poison.stream_id.as_str()).expect("stream");
    entry.0 -= 1;
    assert_eq!(
        read(&*harness, LIVE).await,
        expected,
        "all but the poison event"
    );
    let letters = store.dead_letters(LIVE, 10).await.expect("dead letters");
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].position, poison.global_position);
    assert_eq!(letters[0].event_id, poison.event_id);
    assert_eq!(letters[0].attempts, 3);
    assert!(
        letters[0].error.contains("injected failure"),
        "{}",
        letters[0].error
    );
    assert_eq!(running.status(LIVE).expect("status").dead_lettered, 1);
    running.shutdown().await.expect("shutdown");
}

/// The stop policy halts before the poison event, visibly; a healed restart goes on from there.
pub async fn stops_before_a_poison_event<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let head = append(&store, 2, 5).await;
    let projection = Counting::new(&harness, LIVE);
    let events = visible(&store, head).await;
    let poison = events[6].global_position;
    projection.fails.fail(poison, u32::MAX);
    let running = start(&harness, projection, ErrorPolicy::stop_after(1));
    let error = tokio::time::timeout(WAIT, running.wait_until(LIVE, head))
        .await
        .expect("in time")
        .expect_err("the projection stops");
    assert!(
        matches!(&error, ProjectionError::Stopped { position, .. } if *position == poison),
        "{error}"
    );
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    assert_eq!(
        cause,
        Some(format!("injected failure at position {poison}")),
        "the projection's own error is kept as the source"
    );
    let status = running.status(LIVE).expect("status");
    assert!(matches!(status.state, ProjectionState::Stopped { .. }));
    assert_eq!(
        status.checkpoint, events[5].global_position,
        "stopped just before"
    );
    let model = read(&*harness, LIVE).await;
    assert_eq!(model.values().map(|(n, _)| n).sum::<u64>(), 6, "{model:?}");
    running.shutdown().await.expect("shutdown");

    let running = start(
        &harness,
        Counting::new(&harness, LIVE),
        ErrorPolicy::stop_after(1),
    );
    caught_up(&running, head).await;
    assert_eq!(read(&*harness, LIVE).await, truth(&store, head).await);
    running.shutdown().await.expect("shutdown");
}

/// Retrying forever shows the failing event in the status, and moves on once it heals.
pub async fn retrying_forever_is_visible_and_recovers<H: ModelHarness>(harness: Arc<H>) {
    let store = harness.store();
    create(&harness, LIVE).await;
    let last = append(&store, 1, 4).await;
    let projection = Counting::new(&harness, LIVE);
    let fails = projection.fails.clone();
    let poison = nth_position(&store, last, 2).await;
    fails.fail(poison, u32::MAX);
    let running = start(&harness, projection, ErrorPolicy::retry_forever());
    let status = wait_status(&running, "a visible failure", |s| {
        s.failing.as_ref().is_some_and(|f| f.attempts >= 3)
    })
    .await;
    let failing = status.failing.expect("failing");
    assert_eq!(failing.position, poison);
    assert!(
        failing.error.contains("injected failure"),
        "{}",
        failing.error
    );
    assert!(status.checkpoint < poison);
    fails.heal();
    caught_up(&running, last).await;
    assert_eq!(read(&*harness, LIVE).await, truth(&store, last).await);
    assert_eq!(running.status(LIVE).expect("status").failing, None);
    running.shutdown().await.expect("shutdown");
}
