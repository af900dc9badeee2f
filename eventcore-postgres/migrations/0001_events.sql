-- The log and the snapshots. Runs with search_path set to the target schema.
--
-- global_position = (id of the writing transaction << 20) + index of the event within that
-- transaction. Readers return only positions below (oldest in-flight transaction id << 20), a
-- set that can no longer grow below what they have read: see the crate docs.
CREATE TABLE IF NOT EXISTS eventcore_events (
    global_position BIGINT      NOT NULL,
    event_id        UUID        NOT NULL,
    stream_id       TEXT        NOT NULL,
    stream_version  BIGINT      NOT NULL,
    event_type      TEXT        NOT NULL,
    schema_version  INTEGER     NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    metadata        JSON,                 -- JSON (not JSONB): stored verbatim
    payload         JSON        NOT NULL,
    CONSTRAINT eventcore_events_pkey PRIMARY KEY (global_position),
    CONSTRAINT eventcore_events_event_id UNIQUE (event_id),
    CONSTRAINT eventcore_events_stream_version UNIQUE (stream_id, stream_version),
    CONSTRAINT eventcore_events_version_positive CHECK (stream_version > 0)
);

CREATE TABLE IF NOT EXISTS eventcore_snapshots (
    stream_id      TEXT        PRIMARY KEY,
    version        BIGINT      NOT NULL,
    schema_version INTEGER     NOT NULL,
    state          JSON        NOT NULL,
    taken_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
