-- Events a projection or handler gave up on, with the error, one per consumer and position.
CREATE TABLE IF NOT EXISTS eventcore_dead_letters (
    consumer   TEXT    NOT NULL,
    position   INTEGER NOT NULL,
    event_id   BLOB    NOT NULL,
    event_type TEXT    NOT NULL,
    error      TEXT    NOT NULL,
    attempts   INTEGER NOT NULL,
    failed_at  INTEGER NOT NULL,
    PRIMARY KEY (consumer, position)
) WITHOUT ROWID;
