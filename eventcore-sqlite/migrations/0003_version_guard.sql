-- Stream versions stay contiguous whoever writes: an insert whose version is not the stream's
-- current version + 1 aborts the whole statement (SQLITE_CONSTRAINT_TRIGGER). Appends rely on
-- it to check the expected version in the same statement that inserts.
CREATE TRIGGER IF NOT EXISTS eventcore_events_contiguous_versions
BEFORE INSERT ON eventcore_events
WHEN NEW.stream_version <> (
    SELECT COALESCE(MAX(stream_version), 0) FROM eventcore_events WHERE stream_id = NEW.stream_id
) + 1
BEGIN
    SELECT RAISE(ABORT, 'eventcore: stream versions must be contiguous');
END;
