//! Subscriptions: catch up from a position, then follow live appends.

use std::collections::VecDeque;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use tokio::sync::watch;

use crate::error::{InputError, StoreError};
use crate::event::RecordedEvent;
use crate::store::EventReader;

/// A live stream of the log from some position on: every event, once, in global order.
/// It ends only after yielding an error.
pub type Subscription = BoxStream<'static, Result<RecordedEvent, StoreError>>;

/// How a subscription reads the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Events fetched per read.
    pub batch_size: usize,
    /// The longest wait for a wake-up before reading again anyway (covers writers in other
    /// processes on backends that cannot notify across processes).
    pub fallback_poll: Duration,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        Self {
            batch_size: 512,
            fallback_poll: Duration::from_millis(500),
        }
    }
}

/// Conveniences over any cloneable [`EventReader`].
pub trait EventReaderExt: EventReader + Clone + 'static {
    /// Subscribes from `from_position` (1 = the beginning) with default options.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use eventcore::{AppendRequest, EventAppender, EventReaderExt, ExpectedVersion};
    /// use eventcore::{InMemoryEventStore, NewEvent, StreamId};
    /// use futures::StreamExt;
    ///
    /// let store = InMemoryEventStore::new();
    /// let mut live = store.subscribe(1);
    /// let payload = serde_json::value::to_raw_value(&1).unwrap();
    /// let stream = StreamId::new("counter-1").unwrap();
    /// store
    ///     .append(AppendRequest::single(stream, ExpectedVersion::Any, vec![NewEvent::raw("Added", 1, payload)]))
    ///     .await
    ///     .unwrap();
    /// let first = live.next().await.unwrap().unwrap();
    /// assert_eq!(first.global_position, 1);
    /// # });
    /// ```
    fn subscribe(&self, from_position: u64) -> Subscription {
        self.subscribe_with(from_position, SubscriptionOptions::default())
    }

    /// Subscribes from `from_position` with the given options.
    fn subscribe_with(&self, from_position: u64, options: SubscriptionOptions) -> Subscription {
        subscribe(self.clone(), from_position, options)
    }
}

impl<T: EventReader + Clone + 'static> EventReaderExt for T {}

struct State<R> {
    reader: R,
    next: u64,
    buffer: VecDeque<RecordedEvent>,
    wake: watch::Receiver<u64>,
    options: SubscriptionOptions,
    failed: bool,
}

fn subscribe<R: EventReader + 'static>(
    reader: R,
    from_position: u64,
    options: SubscriptionOptions,
) -> Subscription {
    if from_position == 0 {
        return stream::once(async { Err(InputError::ZeroVersion.into()) }).boxed();
    }
    let wake = reader.head_watch();
    let state = State {
        reader,
        next: from_position,
        buffer: VecDeque::new(),
        wake,
        options,
        failed: false,
    };
    stream::unfold(state, |mut state| async move {
        if state.failed {
            return None;
        }
        loop {
            if let Some(event) = state.buffer.pop_front() {
                state.next = event.global_position + 1;
                return Some((Ok(event), state));
            }
            // Mark the current head as seen *before* reading, so an append that lands
            // between the read and the wait still wakes us.
            state.wake.borrow_and_update();
            let batch = match state
                .reader
                .read_all_following(state.next, state.options.batch_size.max(1))
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    state.failed = true;
                    return Some((Err(error), state));
                }
            };
            if batch.is_empty() {
                wait(&mut state.wake, state.options.fallback_poll).await;
            } else {
                state.buffer.extend(batch);
            }
        }
    })
    .boxed()
}

/// Waits for the head to move, at most `fallback` (a plain sleep if the store is gone).
pub(crate) async fn wait(wake: &mut watch::Receiver<u64>, fallback: Duration) {
    if matches!(
        tokio::time::timeout(fallback, wake.changed()).await,
        Ok(Err(_))
    ) {
        // The store dropped its sender: fall back to plain polling.
        tokio::time::sleep(fallback).await;
    }
}
