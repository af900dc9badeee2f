//! The event store contract: appending ([`EventAppender`]) and reading ([`EventReader`]),
//! together [`EventStore`].

use std::collections::HashSet;
use std::ops::ControlFlow;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::{InputError, StoreError};
use crate::event::{FoldEvent, FoldEventRef, NewEvent, RecordedEvent};
use crate::id::{
    EventId, MAX_EVENT_TYPE_BYTES, MAX_EVENTS_PER_APPEND, MAX_JSON_DEPTH, MAX_PAYLOAD_BYTES,
    MAX_STREAMS_PER_APPEND, StreamId, validate_text,
};
pub use crate::session::CommandSession;
use crate::version::ExpectedVersion;

/// Events for one stream within an [`AppendRequest`], with the version the stream must have.
#[derive(Clone, Debug)]
pub struct StreamAppend {
    /// The stream to append to.
    pub stream: StreamId,
    /// The version the stream must have for the append to go ahead.
    pub expected: ExpectedVersion,
    /// The events, in order. May be empty: the stream's version is then only checked.
    pub events: Vec<NewEvent>,
}

/// One atomic append: events for one or more streams, each with an expected version.
///
/// ```
/// use eventcore::{AppendRequest, ExpectedVersion, NewEvent, StreamId};
/// use serde_json::value::to_raw_value;
///
/// let order = StreamId::new("order-1").unwrap();
/// let email = StreamId::new("email-a@example.com").unwrap();
/// let event = NewEvent::raw("Placed", 1, to_raw_value(&serde_json::json!({})).unwrap());
/// let request = AppendRequest::new()
///     .stream(order, ExpectedVersion::NoStream, vec![event])
///     .stream(email, ExpectedVersion::NoStream, vec![]);
/// assert_eq!(request.streams.len(), 2);
/// assert!(request.validate().is_ok());
/// ```
#[derive(Clone, Debug, Default)]
pub struct AppendRequest {
    /// The streams, each named at most once.
    pub streams: Vec<StreamAppend>,
}

impl AppendRequest {
    /// An empty request; add streams with [`AppendRequest::stream`].
    pub fn new() -> Self {
        Self::default()
    }

    /// A request for a single stream.
    pub fn single(stream: StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self::new().stream(stream, expected, events)
    }

    /// Adds a stream to the request.
    pub fn stream(
        mut self,
        stream: StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Self {
        self.streams.push(StreamAppend {
            stream,
            expected,
            events,
        });
        self
    }

    /// The number of events across all streams.
    pub fn event_count(&self) -> usize {
        self.streams.iter().map(|s| s.events.len()).sum()
    }

    /// Checks the request against the limits every backend shares. Backends call this before
    /// touching storage, so bad input is rejected identically everywhere and nothing is written.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty request, too many streams, a repeated stream,
    /// too many events, an empty or oversized event type, a zero schema version, or a payload
    /// or metadata that is too large or nests too deeply; [`StoreError::DuplicateEventId`] for an event id repeated within the request.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.streams.is_empty() {
            return Err(InputError::EmptyAppend.into());
        }
        if self.streams.len() > MAX_STREAMS_PER_APPEND {
            return Err(InputError::TooManyStreams {
                count: self.streams.len(),
                max: MAX_STREAMS_PER_APPEND,
            }
            .into());
        }
        let count = self.event_count();
        if count > MAX_EVENTS_PER_APPEND {
            return Err(InputError::TooManyEvents {
                count,
                max: MAX_EVENTS_PER_APPEND,
            }
            .into());
        }
        // Sets only when there is something to compare (the common single-event append
        // allocates nothing here).
        let mut streams = HashSet::with_capacity(if self.streams.len() > 1 {
            self.streams.len()
        } else {
            0
        });
        let mut ids: HashSet<EventId> = HashSet::with_capacity(if count > 1 { count } else { 0 });
        for append in &self.streams {
            if self.streams.len() > 1 && !streams.insert(&append.stream) {
                return Err(InputError::DuplicateStream {
                    stream: append.stream.clone(),
                }
                .into());
            }
            for event in &append.events {
                validate_event(event)?;
                if count > 1 && !ids.insert(event.event_id) {
                    return Err(StoreError::DuplicateEventId {
                        event_id: event.event_id,
                    });
                }
            }
        }
        Ok(())
    }
}

fn validate_event(event: &NewEvent) -> Result<(), StoreError> {
    validate_text("event type", &event.event_type, MAX_EVENT_TYPE_BYTES)?;
    if event.schema_version == 0 {
        return Err(InputError::ZeroSchemaVersion {
            event_type: event.event_type.clone(),
        }
        .into());
    }
    if event.schema_version > i32::MAX as u32 {
        return Err(InputError::SchemaVersionTooLarge {
            event_type: event.event_type.clone(),
            version: event.schema_version,
        }
        .into());
    }
    let too_large = |what, size| InputError::PayloadTooLarge {
        what,
        event_type: event.event_type.clone(),
        size,
        max: MAX_PAYLOAD_BYTES,
    };
    let too_deep = |what, depth| InputError::TooDeeplyNested {
        what,
        event_type: event.event_type.clone(),
        depth,
        max: MAX_JSON_DEPTH,
    };
    let payload = event.payload.get();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(too_large("payload", payload.len()).into());
    }
    if let Some(depth) = depth_beyond(payload, MAX_JSON_DEPTH) {
        return Err(too_deep("payload", depth).into());
    }
    if !event.metadata.extra.is_empty() {
        let text = serde_json::to_string(&event.metadata).map_err(StoreError::backend)?;
        if text.len() > MAX_PAYLOAD_BYTES {
            return Err(too_large("metadata", text.len()).into());
        }
        // The metadata object and its `extra` map wrap every value: two levels.
        if let Some(depth) = depth_beyond(&text, MAX_JSON_DEPTH + 2) {
            return Err(too_deep("metadata", depth - 2).into());
        }
    }
    Ok(())
}

/// `Some(depth)` when the JSON text `json` nests arrays and objects more than `max` levels
/// deep (counting stops at `max + 1`); a plain scan, so any depth is checked in constant
/// stack space.
fn depth_beyond(json: &str, max: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(depth);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// Reading the log: one stream, or everything in global order.
///
/// # Contract
/// - Stream versions are contiguous from 1; [`read_stream`](Self::read_stream) returns them in
///   version order starting at `from_version`: `max_count` of them, or all that remain if fewer
///   (a shorter result means the end of the stream).
/// - Global positions are strictly increasing (not necessarily contiguous) and consistent with
///   each stream's versions. [`read_all`](Self::read_all) returns events in global order starting
///   at the first position `>= from_position`, and never skips one: an event becomes visible to
///   it only once every event with a lower position is visible too. A backend may therefore
///   make a committed append visible to `read_all` a little after `append` returns (while
///   older concurrent transactions finish); stream reads see it at once.
/// - [`head_position`](Self::head_position) is the highest position `read_all` can return now;
///   it never goes backwards.
/// - [`head_watch`](Self::head_watch) changes (at least) whenever new events become visible in
///   this process; it is a wake-up hint, not a source of truth.
#[async_trait]
pub trait EventReader: Send + Sync {
    /// Up to `max_count` events of `stream` with version `>= from_version`, in version order.
    /// A missing stream reads as empty.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for `from_version == 0`; backend failures.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max_count` events with global position `>= from_position`, in global order.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for `from_position == 0`; backend failures.
    async fn read_all(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// [`read_all`](Self::read_all) for a follower: a reader that, given fewer events than it
    /// asked for, waits for [`head_watch`](Self::head_watch) to change before reading on (a
    /// subscription, a projection, a relay). A store may answer it from a page it read for
    /// another follower since the head watch last changed, a moment ago at most
    /// ([`SharedTail`](crate::backend::SharedTail)): so it may not yet show an append of another
    /// process whose wake-up is still on its way, which such a follower waits for anyway. Its
    /// answer is always one `read_all` gave. The default is `read_all`.
    ///
    /// # Errors
    /// As [`read_all`](Self::read_all).
    async fn read_all_following(
        &self,
        from_position: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_all(from_position, max_count).await
    }

    /// The stream's current version; 0 when it has no events.
    ///
    /// # Errors
    /// Backend failures.
    async fn stream_version(&self, stream: &StreamId) -> Result<u64, StoreError>;

    /// The event with this id, if stored.
    ///
    /// # Errors
    /// Backend failures.
    async fn event_by_id(&self, event_id: EventId) -> Result<Option<RecordedEvent>, StoreError>;

    /// What a command needs before it decides, read together: whether `probe` (the command's
    /// first derived event id, if given) is stored in `stream` — then the command was handled
    /// before, and [`CommandRead::handled_at`] is that event's version — and otherwise the
    /// events of `stream` from `from_version` on, in version order, with just what folding
    /// needs ([`FoldEvent`]). Backends that can answer both in one statement, reading only
    /// those columns (PostgreSQL, SQLite), override the default, which is
    /// [`event_by_id`](Self::event_by_id) and then [`read_stream`](Self::read_stream) in pages.
    ///
    /// # Errors
    /// As [`read_stream`](Self::read_stream).
    async fn read_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
    ) -> Result<CommandRead, StoreError> {
        if let Some(probe) = probe {
            match self.event_by_id(probe).await? {
                Some(handled) if handled.stream_id == *stream => {
                    return Ok(CommandRead {
                        handled_at: Some(handled.stream_version),
                        events: Vec::new(),
                    });
                }
                _ => {}
            }
        }
        const PAGE: usize = 1024;
        let mut events: Vec<FoldEvent> = Vec::new();
        loop {
            let from = events.last().map_or(from_version, |e| e.stream_version + 1);
            let page = self.read_stream(stream, from, PAGE).await?;
            let full = page.len() == PAGE;
            events.extend(page.into_iter().map(FoldEvent::from));
            if !full {
                return Ok(CommandRead {
                    handled_at: None,
                    events,
                });
            }
        }
    }

    /// [`read_for_command`](Self::read_for_command), handing each event to `sink` as it is
    /// read instead of collecting them: `Some(version)` when the probe is stored (the
    /// command was handled; the sink may have received events, which are to be dropped),
    /// `None` after the sink received the stream's events from `from_version` on, in version
    /// order, or returned [`ControlFlow::Break`] (then the read stops). Backends that stream
    /// rows (PostgreSQL) override the default, which calls `read_for_command`, so that a long
    /// stream is folded while it is still arriving and no event is copied out of its row.
    ///
    /// # Errors
    /// As [`read_for_command`](Self::read_for_command).
    async fn fold_for_command(
        &self,
        stream: &StreamId,
        from_version: u64,
        probe: Option<EventId>,
        sink: &mut dyn FoldSink,
    ) -> Result<Option<u64>, StoreError> {
        let read = self.read_for_command(stream, from_version, probe).await?;
        if read.handled_at.is_some() {
            return Ok(read.handled_at);
        }
        for event in &read.events {
            if sink.event(event.as_ref()).is_break() {
                break;
            }
        }
        Ok(None)
    }

    /// The highest global position visible to [`read_all`](Self::read_all); 0 when empty.
    ///
    /// # Errors
    /// Backend failures.
    async fn head_position(&self) -> Result<u64, StoreError>;

    /// A receiver that is notified when new events may have become visible.
    fn head_watch(&self) -> watch::Receiver<u64>;
}

/// Receives a stream's events one by one from [`EventReader::fold_for_command`].
pub trait FoldSink: Send {
    /// Takes the next event; [`ControlFlow::Break`] stops the read (the sink keeps its own
    /// reason, a decoding error say).
    fn event(&mut self, event: FoldEventRef<'_>) -> ControlFlow<()>;
}

/// Collects every event, owned.
impl FoldSink for Vec<FoldEvent> {
    fn event(&mut self, event: FoldEventRef<'_>) -> ControlFlow<()> {
        self.push(event.to_owned());
        ControlFlow::Continue(())
    }
}

/// What [`EventReader::read_for_command`] found.
#[derive(Clone, Debug, Default)]
pub struct CommandRead {
    /// The stream version of the probed event, when stored (the command was handled before;
    /// `events` may then be empty).
    pub handled_at: Option<u64>,
    /// The stream's events from the asked version on, in version order.
    pub events: Vec<FoldEvent>,
}

/// Publishes `position` as the new head on a backend's head watch, never moving it backwards
/// (appends that finish out of order may publish out of order). Wakes receivers only when the
/// head moved.
pub fn publish_head(head: &watch::Sender<u64>, position: u64) {
    head.send_if_modified(|current| {
        let newer = position > *current;
        if newer {
            *current = position;
        }
        newer
    });
}

/// Appending to the log.
///
/// # Contract
/// - An append is atomic: every stream's expected version is checked and every event written,
///   or nothing is written at all.
/// - A failed version check is [`StoreError::Conflict`] naming the stream, what was expected and
///   the actual version; an event id already stored or repeated in the request is
///   [`StoreError::DuplicateEventId`]; invalid input is [`StoreError::InvalidInput`] (see
///   [`AppendRequest::validate`]). In each case nothing is written.
/// - On success the recorded events are returned in request order, with contiguous stream
///   versions and increasing global positions.
#[async_trait]
pub trait EventAppender: Send + Sync {
    /// Appends atomically.
    ///
    /// # Errors
    /// As described in the trait's contract, plus backend failures.
    async fn append(&self, request: AppendRequest) -> Result<Vec<RecordedEvent>, StoreError>;

    /// A session in which one command's read and its append run on one connection, for a
    /// store whose every call would otherwise take a connection from a pool and give it back
    /// (a round trip of its own, with some pools). `None`, the default, when the store gains
    /// nothing by it; [`Repository`](crate::Repository) takes one per command.
    fn command_session(&self) -> Option<Box<dyn CommandSession + '_>> {
        None
    }
}

/// A complete event store: [`EventReader`] and [`EventAppender`]. Implemented for every type
/// that is both.
pub trait EventStore: EventReader + EventAppender {}

impl<T: EventReader + EventAppender + ?Sized> EventStore for T {}

mod shared;

#[cfg(test)]
mod tests {
    use super::depth_beyond;

    #[test]
    fn depth_counts_nesting_outside_strings() {
        assert_eq!(depth_beyond(r#"{"a":[1,{"b":2}]}"#, 3), None);
        assert_eq!(depth_beyond(r#"{"a":[1,{"b":2}]}"#, 2), Some(3));
        assert_eq!(depth_beyond(r#"{"a":"[[[[\"{{{"}"#, 1), None);
        assert_eq!(depth_beyond(&"[".repeat(70), 64), Some(65));
        assert_eq!(depth_beyond("5", 0), None);
    }
}
