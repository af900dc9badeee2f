-- Events a projection or handler gave up on, with the error, one per consumer and position.
-- Runs with search_path set to the target schema.
CREATE TABLE IF NOT EXISTS eventcore_dead_letters (
    consumer   TEXT        NOT NULL,
    position   BIGINT      NOT NULL,
    event_id   UUID        NOT NULL,
    event_type TEXT        NOT NULL,
    error      TEXT        NOT NULL,
    attempts   INTEGER     NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (consumer, position)
);
