//! Reading streams and the global log back.

use std::collections::BTreeMap;

use crate::{AppendRequest, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, StreamId};

use super::{Backend, fresh_stream, number_of, numbered, wait_until_visible};

/// `read_stream` returns events in version order from the asked version, at most `max_count`.
pub async fn read_stream_returns_versions_in_order_from_version<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("read");
    for n in 1..=5 {
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Exact(n - 1),
                vec![numbered(n)],
            ))
            .await
            .unwrap();
    }
    let all = store.read_stream(&stream, 1, 100).await.unwrap();
    let numbers: Vec<u64> = all.iter().map(|e| number_of(&e.payload)).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    let versions: Vec<u64> = all.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5]);
    let tail: Vec<u64> = store
        .read_stream(&stream, 3, 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.stream_version)
        .collect();
    assert_eq!(tail, [3, 4], "from version 3, at most 2");
    assert!(store.read_stream(&stream, 6, 10).await.unwrap().is_empty());
    let missing = fresh_stream("missing");
    assert!(store.read_stream(&missing, 1, 10).await.unwrap().is_empty());
}

/// `read_all` returns the log in global order from a position, consistent with stream versions.
pub async fn read_all_returns_global_order_from_position<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (a, b) = (fresh_stream("all-a"), fresh_stream("all-b"));
    let start = store.head_position().await.unwrap() + 1;
    let mut written = Vec::new();
    for n in 0..6 {
        let stream = if n % 2 == 0 { &a } else { &b };
        let recorded = store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::Any,
                vec![numbered(n)],
            ))
            .await
            .unwrap();
        written.push(recorded[0].global_position);
    }
    assert!(
        written.windows(2).all(|w| w[0] < w[1]),
        "later appends get higher positions"
    );
    wait_until_visible(store, written[5]).await;
    assert!(
        store.head_position().await.unwrap() >= written[5],
        "the head never goes back"
    );
    let ours = |events: Vec<crate::RecordedEvent>| -> Vec<u64> {
        events
            .into_iter()
            .filter(|e| e.stream_id == a || e.stream_id == b)
            .map(|e| number_of(&e.payload))
            .collect()
    };
    let all = store.read_all(start, 10_000).await.unwrap();
    assert!(
        all.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
    assert_eq!(ours(all), [0, 1, 2, 3, 4, 5]);
    let from_third = store.read_all(written[2], 10_000).await.unwrap();
    assert_eq!(
        from_third[0].global_position, written[2],
        "starts at the given position"
    );
    assert_eq!(ours(from_third), [2, 3, 4, 5]);
    let limited = store.read_all(written[0], 2).await.unwrap();
    assert_eq!(limited.len(), 2, "at most max_count");
}

/// `event_by_id` finds stored events and nothing else.
pub async fn event_by_id_finds_committed_events_only<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("byid");
    let event = numbered(7);
    let id = event.event_id;
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![numbered(6), event],
        ))
        .await
        .unwrap();
    let found = store
        .event_by_id(id)
        .await
        .unwrap()
        .expect("stored event is found");
    assert_eq!(found.stream_id, stream);
    assert_eq!(found.stream_version, 2);
    assert_eq!(number_of(&found.payload), 7);
    assert!(
        store
            .event_by_id(EventId::new_random())
            .await
            .unwrap()
            .is_none()
    );
}

/// Payloads, type names, schema versions and metadata come back exactly as written.
pub async fn payload_and_metadata_round_trip_verbatim<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let stream = fresh_stream("verbatim");
    let payload_text =
        r#"{"b":1,"a":[1.5,"two",null,{"nested":"é \" \\ \u0001"}],"big":18446744073709551615}"#;
    let payload = serde_json::value::RawValue::from_string(payload_text.to_owned()).unwrap();
    let mut extra = BTreeMap::new();
    extra.insert("tenant".to_owned(), serde_json::json!("acme"));
    extra.insert(
        "actor".to_owned(),
        serde_json::json!({"id": 7, "roles": ["admin"]}),
    );
    let metadata = Metadata {
        correlation_id: Some(uuid::Uuid::new_v4()),
        causation_id: Some(uuid::Uuid::new_v4()),
        extra,
    };
    let event = NewEvent::raw("Ünïcode.Type/v\"1\"", 3, payload).with_metadata(metadata.clone());
    let id = event.event_id;
    store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::Any,
            vec![event],
        ))
        .await
        .unwrap();
    let back = &store.read_stream(&stream, 1, 1).await.unwrap()[0];
    assert_eq!(back.event_id, id);
    assert_eq!(back.event_type, "Ünïcode.Type/v\"1\"");
    assert_eq!(back.schema_version, 3);
    assert_eq!(back.metadata, metadata);
    let written: serde_json::Value = serde_json::from_str(payload_text).unwrap();
    let read: serde_json::Value = serde_json::from_str(back.payload.get()).unwrap();
    assert_eq!(read, written, "payload is the same JSON");
    let from_log = store.event_by_id(id).await.unwrap().unwrap();
    assert_eq!(from_log.metadata, metadata);
}

/// Stream ids with quotes, SQL, Unicode and control characters are stored and read verbatim.
pub async fn hostile_stream_ids_round_trip_verbatim<S: EventStore + Clone + 'static>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let suffix = uuid::Uuid::new_v4();
    let hostile = [
        format!("o'brien\"; DROP TABLE events; --{suffix}"),
        format!("日本語-🦀-{suffix}"),
        format!("tab\tnewline\ncr\r\u{1b}[31m-{suffix}"),
        format!("%_*?\\[]{{}}-{suffix}"),
        format!(" {suffix} "),
        format!("{}{suffix}", "x".repeat(crate::MAX_STREAM_ID_BYTES - 36)),
    ];
    for text in hostile {
        let stream = StreamId::new(text.clone()).expect("hostile but valid id");
        store
            .append(AppendRequest::single(
                stream.clone(),
                ExpectedVersion::NoStream,
                vec![numbered(1)],
            ))
            .await
            .unwrap_or_else(|e| panic!("append to {text:?}: {e}"));
        let back = store.read_stream(&stream, 1, 10).await.unwrap();
        assert_eq!(back.len(), 1, "one event in {text:?}");
        assert_eq!(back[0].stream_id.as_str(), text, "id read back verbatim");
        assert_eq!(store.stream_version(&stream).await.unwrap(), 1);
    }
    assert!(StreamId::new("x".repeat(crate::MAX_STREAM_ID_BYTES + 1)).is_err());
    assert!(StreamId::new("nul\0inside").is_err());
}

/// A fresh stream of 1,100 numbered events (past a page of 1,024).
async fn stream_past_a_page<S: EventStore>(
    store: &S,
    name: &str,
) -> (StreamId, Vec<crate::RecordedEvent>) {
    let stream = fresh_stream(name);
    let recorded = store
        .append(AppendRequest::single(
            stream.clone(),
            ExpectedVersion::NoStream,
            (1..=1_100).map(numbered).collect(),
        ))
        .await
        .unwrap();
    (stream, recorded)
}

/// `read_for_command` answers what a command needs in one go: the probed event when it is
/// stored, otherwise the whole stream from the asked version (also past a page of 1,024).
pub async fn read_for_command_finds_a_handled_command_or_reads_the_stream<
    S: EventStore + Clone + 'static,
>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (stream, recorded) = stream_past_a_page(store, "for-command").await;
    let unknown = EventId::new_random();
    for probe in [None, Some(unknown)] {
        let read = store.read_for_command(&stream, 3, probe).await.unwrap();
        assert!(read.handled_at.is_none(), "{probe:?} is not stored");
        let versions: Vec<u64> = read.events.iter().map(|e| e.stream_version).collect();
        assert_eq!(
            versions,
            (3..=1_100).collect::<Vec<_>>(),
            "the stream from version 3"
        );
    }
    let probe = recorded[41].event_id;
    let read = store
        .read_for_command(&stream, 1, Some(probe))
        .await
        .unwrap();
    assert_eq!(
        read.handled_at,
        Some(42),
        "the probed event is stored, at version 42"
    );
    let empty = store
        .read_for_command(&fresh_stream("none"), 1, Some(unknown))
        .await
        .unwrap();
    assert!(empty.handled_at.is_none() && empty.events.is_empty());
}

/// Collects what a fold receives, and can stop it after `stop_after` events.
struct Collect {
    events: Vec<crate::FoldEvent>,
    stop_after: usize,
}

impl crate::FoldSink for Collect {
    fn event(&mut self, event: crate::FoldEventRef<'_>) -> std::ops::ControlFlow<()> {
        self.events.push(event.to_owned());
        if self.events.len() >= self.stop_after {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }
}

/// `fold_for_command` hands the sink exactly what `read_for_command` returns, in order (also
/// past a page of 1,024), reports a handled command, and stops when the sink says so.
pub async fn fold_for_command_hands_over_what_read_for_command_reads<
    S: EventStore + Clone + 'static,
>(
    backend: &Backend<S>,
) {
    let store = &backend.events;
    let (stream, recorded) = stream_past_a_page(store, "fold").await;
    let mut sink = Collect {
        events: Vec::new(),
        stop_after: usize::MAX,
    };
    let handled = store
        .fold_for_command(&stream, 3, Some(EventId::new_random()), &mut sink)
        .await
        .unwrap();
    assert_eq!(handled, None);
    let read = store.read_for_command(&stream, 3, None).await.unwrap();
    assert_eq!(
        sink.events, read.events,
        "the same events, in version order"
    );
    assert_eq!(sink.events.len(), 1_098);

    let mut sink = Collect {
        events: Vec::new(),
        stop_after: usize::MAX,
    };
    let handled = store
        .fold_for_command(&stream, 1, Some(recorded[41].event_id), &mut sink)
        .await
        .unwrap();
    assert_eq!(
        handled,
        Some(42),
        "the probed event is stored, at version 42"
    );

    let mut sink = Collect {
        events: Vec::new(),
        stop_after: 5,
    };
    let handled = store
        .fold_for_command(&stream, 1, None, &mut sink)
        .await
        .unwrap();
    assert_eq!(handled, None);
    assert_eq!(
        sink.events.len(),
        5,
        "the read stopped when the sink said so"
    );
    // The store is usable afterwards (a stopped read leaves no connection half-read).
    assert_eq!(store.stream_version(&stream).await.unwrap(), 1_100);
}
