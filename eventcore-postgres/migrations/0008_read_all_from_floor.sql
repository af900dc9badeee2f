-- A page of the log from `from_pos` in one statement when it starts below `floor_pos`, the
-- store's final floor: a position below which every transaction had finished when some
-- earlier snapshot was taken, so that no event can appear there any more. The part below the
-- floor is the plain keyset read; the rest of the page, if it is not full by then, comes from
-- `eventcore_read_all` (below the read bound, which is computed only then). A live reader's
-- page mostly starts a little below the floor and ends above it: before this, that was two
-- statements, the plain read and then the bounded one.
CREATE OR REPLACE FUNCTION eventcore_read_all_from(from_pos BIGINT, floor_pos BIGINT,
                                                   max_count BIGINT, gate_class INT)
RETURNS TABLE (out_position BIGINT, out_event_id UUID, out_stream_id TEXT,
               out_stream_version BIGINT, out_event_type TEXT, out_schema_version INT,
               out_recorded_at DOUBLE PRECISION, out_metadata TEXT, out_payload TEXT)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    found BIGINT;
BEGIN
    RETURN QUERY
    SELECT e.global_position, e.event_id, e.stream_id, e.stream_version, e.event_type,
           e.schema_version, date_part('epoch', e.recorded_at), e.metadata::TEXT,
           e.payload::TEXT
    FROM eventcore_events e
    WHERE e.global_position >= from_pos AND e.global_position < floor_pos
    ORDER BY e.global_position LIMIT max_count;
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found < max_count THEN
        RETURN QUERY SELECT * FROM eventcore_read_all(floor_pos, max_count - found, gate_class);
    END IF;
END $$;
