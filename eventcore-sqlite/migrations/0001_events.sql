-- The log and the snapshots. Events are never updated or deleted.
CREATE TABLE IF NOT EXISTS eventcore_events (
    position       INTEGER PRIMARY KEY,          -- global position, assigned in commit order
    event_id       BLOB    NOT NULL UNIQUE,      -- 16-byte UUID
    stream_id      TEXT    NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    recorded_at    INTEGER NOT NULL,             -- microseconds since the Unix epoch
    metadata       TEXT,                         -- JSON, NULL when empty
    payload        TEXT    NOT NULL,             -- JSON
    UNIQUE (stream_id, stream_version)
);

CREATE TABLE IF NOT EXISTS eventcore_snapshots (
    stream_id      TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    state          TEXT    NOT NULL,
    taken_at       INTEGER NOT NULL
) WITHOUT ROWID;
