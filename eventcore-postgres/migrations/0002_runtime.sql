-- Durable runtime state beside the log: projection checkpoints, saga state, deadlines and a
-- consumer inbox. Runs with search_path set to the target schema.
CREATE TABLE IF NOT EXISTS eventcore_checkpoints (
    name       TEXT        PRIMARY KEY,
    position   BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS eventcore_sagas (
    saga_type  TEXT        NOT NULL,
    saga_id    TEXT        NOT NULL,
    status     TEXT        NOT NULL,
    state      JSON        NOT NULL,
    version    BIGINT      NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (saga_type, saga_id)
);
CREATE INDEX IF NOT EXISTS eventcore_sagas_by_status ON eventcore_sagas (status, updated_at);

CREATE TABLE IF NOT EXISTS eventcore_deadlines (
    deadline_id TEXT        PRIMARY KEY,
    saga_type   TEXT        NOT NULL,
    saga_id     TEXT        NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    payload     JSON        NOT NULL
);
CREATE INDEX IF NOT EXISTS eventcore_deadlines_by_due ON eventcore_deadlines (due_at);

CREATE TABLE IF NOT EXISTS eventcore_inbox (
    consumer     TEXT        NOT NULL,
    event_id     UUID        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
