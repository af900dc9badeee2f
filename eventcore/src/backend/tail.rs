//! [`SharedTail`]: one read of the log's tail serves every follower of a store handle.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use crate::error::StoreError;
use crate::event::RecordedEvent;

/// How long a page may serve followers at most, whatever the head watch says: less than the
/// shortest fallback poll, so a follower that wakes up only by its poll reads the store.
pub const TAIL_FRESHNESS: Duration = Duration::from_millis(50);

/// The last page of the log a follower read, shared by every follower of one store handle, for
/// backends implementing [`EventReader::read_all_following`](crate::EventReader::read_all_following).
///
/// When an append wakes a store's followers (its projections, relays and saga intakes, each
/// caught up), each reads the log from where it stands, which is mostly where the others stand:
/// without sharing, that is one statement per follower for the same rows. Here the first read
/// after a wake-up is kept, and a follower asking for positions it covers is answered from it
/// while the head watch has not changed since that read began (and for at most
/// [`TAIL_FRESHNESS`]). Followers waking together queue behind the read in flight and are
/// then answered from it.
///
/// A page answers only what a read of the store would have answered when the page was read: a
/// suffix of it when it reached the end of what that read could see, or a full batch. A
/// follower behind the page reads the store itself (the page stays for the others).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use eventcore::backend::SharedTail;
/// use eventcore::{EventReader, InMemoryEventStore};
///
/// let store = InMemoryEventStore::new();
/// let tail = SharedTail::new(store.head_watch());
/// // Nothing stored yet: the first follower reads the store, the second is answered by the page.
/// let first = tail.read(1, 100, |from, max| store.read_all(from, max)).await.unwrap();
/// let second = tail.read(1, 100, |_, _| async { unreachable!("served by the page") }).await.unwrap();
/// assert!(first.is_empty() && second.is_empty());
/// # });
/// ```
#[derive(Debug)]
pub struct SharedTail {
    /// The store's head watch, cloned for each page.
    watch: watch::Receiver<u64>,
    page: Mutex<Option<Page>>,
    /// How long a page serves at most.
    freshness: Duration,
}

#[derive(Debug)]
struct Page {
    /// Marked seen when the read began: a change since means the page may be stale.
    seen: watch::Receiver<u64>,
    read_at: Instant,
    /// The position the read started from.
    from: u64,
    events: Vec<RecordedEvent>,
    /// Fewer events than asked for: the read reached the end of what it could see.
    complete: bool,
}

impl Page {
    /// Whether nothing may have become visible since the read began, `freshness` ago at most.
    fn current(&self, freshness: Duration) -> bool {
        matches!(self.seen.has_changed(), Ok(false)) && self.read_at.elapsed() <= freshness
    }

    /// What a read of `max` events from `from` answered when the page was read, if the page
    /// covers it and is current.
    fn serve(&self, from: u64, max: usize, freshness: Duration) -> Option<Vec<RecordedEvent>> {
        let end = self
            .events
            .last()
            .map_or(self.from, |e| e.global_position + 1);
        if from < self.from || from > end || !self.current(freshness) {
            return None;
        }
        let start = self.events.partition_point(|e| e.global_position < from);
        let rest = &self.events[start..];
        if rest.len() >= max {
            Some(rest[..max].to_vec())
        } else if self.complete {
            Some(rest.to_vec())
        } else {
            None
        }
    }
}

impl SharedTail {
    /// A tail for the store whose head watch is `watch` (it must change whenever events may
    /// have become visible, as [`EventReader::head_watch`](crate::EventReader::head_watch)
    /// promises).
    pub fn new(watch: watch::Receiver<u64>) -> Self {
        Self::with_freshness(watch, TAIL_FRESHNESS)
    }

    /// As [`new`](Self::new), a page serving for `freshness` at most instead of
    /// [`TAIL_FRESHNESS`] (keep it below the followers' fallback poll).
    pub fn with_freshness(watch: watch::Receiver<u64>, freshness: Duration) -> Self {
        Self {
            watch,
            page: Mutex::new(None),
            freshness,
        }
    }

    /// Up to `max` events from position `from`: from the current page if it covers them,
    /// otherwise by `read` (the store's `read_all`), whose answer becomes the page unless the
    /// caller is behind the current one.
    ///
    /// # Errors
    /// What `read` returned.
    pub async fn read<F, Fut>(
        &self,
        from: u64,
        max: usize,
        read: F,
    ) -> Result<Vec<RecordedEvent>, StoreError>
    where
        F: FnOnce(u64, usize) -> Fut,
        Fut: Future<Output = Result<Vec<RecordedEvent>, StoreError>>,
    {
        let mut page = self.page.lock().await;
        if let Some(current) = page.as_ref() {
            if let Some(events) = current.serve(from, max, self.freshness) {
                return Ok(events);
            }
            if from < current.from && current.current(self.freshness) {
                drop(page); // behind the others: read alone, keep their page
                return read(from, max).await;
            }
        }
        let mut seen = self.watch.clone();
        seen.borrow_and_update();
        let read_at = Instant::now();
        let events = read(from, max).await?;
        *page = Some(Page {
            seen,
            read_at,
            from,
            complete: events.len() < max,
            events: events.clone(),
        });
        Ok(events)
    }
}

#[cfg(test)]
mod tests;
