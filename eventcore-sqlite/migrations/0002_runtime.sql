-- Durable runtime state kept beside the log: projection checkpoints, saga state, deadlines and
-- a consumer inbox.
CREATE TABLE IF NOT EXISTS eventcore_checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS eventcore_sagas (
    saga_type  TEXT    NOT NULL,
    saga_id    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (saga_type, saga_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS eventcore_sagas_by_status ON eventcore_sagas (status, saga_type);

CREATE TABLE IF NOT EXISTS eventcore_deadlines (
    deadline_id TEXT    PRIMARY KEY,
    saga_type   TEXT    NOT NULL,
    saga_id     TEXT    NOT NULL,
    due_at      INTEGER NOT NULL,
    payload     TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS eventcore_deadlines_by_due ON eventcore_deadlines (due_at);

CREATE TABLE IF NOT EXISTS eventcore_inbox (
    consumer     TEXT    NOT NULL,
    event_id     BLOB    NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
) WITHOUT ROWID;
