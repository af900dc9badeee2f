-- The read bound: log readers return only positions below it. It follows the oldest
-- transaction still in flight that may append to this store's log, not the oldest one in the
-- cluster, so that a long transaction that appends no events (a batch update, a session idle
-- in transaction, a write in another database) does not stall readers.
--
-- Event-writing transactions hold the store's gate, the shared advisory lock (gate_class,
-- their backend pid), taken before the transaction gets its id (see
-- eventcore-postgres/src/insert.rs). The bound is computed by one statement that takes its
-- snapshot S and then scans the lock table: the smallest id, among those S saw in flight, of a
-- transaction holding the gate; with none, S's xmax. The rows are then read by a later
-- statement, whose snapshot shows every writer that finished before the scan. (Under a
-- stricter isolation level all statements share one snapshot, taken before the scan; then ids
-- that finished since S count too, as they may have committed events S does not show.)
--
-- Ids in flight that hold no gate are passed: should such a transaction append later, its
-- append sees whether events readers may have passed it by were committed, and is refused.
CREATE OR REPLACE FUNCTION eventcore_read_bound(gate_class INT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    snap pg_snapshot;
    writers BIGINT[];
    oldest xid8;
BEGIN
    SELECT pg_current_snapshot() INTO snap;
    IF pg_snapshot_xmin(snap) = pg_snapshot_xmax(snap) THEN
        RETURN pg_snapshot_xmax(snap)::TEXT::BIGINT << 20; -- nothing was in flight
    END IF;
    -- Its snapshot, then one scan of the lock table; a transaction's rows share its virtual
    -- transaction id (prepared transactions included, which have no pid).
    WITH locks AS MATERIALIZED (
        SELECT locktype, virtualtransaction AS vt, transactionid, database, classid, objsubid
        FROM pg_locks
        WHERE granted AND locktype IN ('advisory', 'transactionid')
    )
    SELECT pg_current_snapshot(), COALESCE(array_agg(t.transactionid::TEXT::BIGINT), '{}')
    INTO snap, writers
    FROM locks t
    WHERE t.locktype = 'transactionid'
      AND t.vt IN (SELECT g.vt FROM locks g
                   WHERE g.locktype = 'advisory' AND g.objsubid = 2
                     AND g.classid = gate_class::OID
                     AND g.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database()));
    IF current_setting('transaction_isolation') = 'read committed' THEN
        SELECT min(x) INTO oldest
        FROM pg_snapshot_xip(snap) AS x
        WHERE (x::TEXT::BIGINT & 4294967295) = ANY (writers);
    ELSE
        SELECT min(x) INTO oldest
        FROM pg_snapshot_xip(snap) AS x
        WHERE (x::TEXT::BIGINT & 4294967295) = ANY (writers)
           OR pg_xact_status(x) IS DISTINCT FROM 'in progress';
    END IF;
    RETURN COALESCE(oldest, pg_snapshot_xmax(snap))::TEXT::BIGINT << 20;
END $$;

-- A page of the log from `from_pos`, below the read bound (returned with each row). The inner
-- query is the plain keyset page a raw reader would write (an ordered primary-key scan); the
-- outer filter drops its tail at or above the bound. Positions at or above the bound all sort
-- after those below it, so what remains is exactly the first rows of [from_pos, bound).
CREATE OR REPLACE FUNCTION eventcore_read_all(from_pos BIGINT, max_count BIGINT, gate_class INT)
RETURNS TABLE (out_position BIGINT, out_event_id UUID, out_stream_id TEXT,
               out_stream_version BIGINT, out_event_type TEXT, out_schema_version INT,
               out_recorded_at DOUBLE PRECISION, out_metadata TEXT, out_payload TEXT)
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    bound BIGINT := eventcore_read_bound(gate_class);
BEGIN
    RETURN QUERY
    SELECT * FROM (
        SELECT e.global_position, e.event_id, e.stream_id, e.stream_version, e.event_type,
               e.schema_version, date_part('epoch', e.recorded_at), e.metadata::TEXT,
               e.payload::TEXT
        FROM eventcore_events e
        WHERE e.global_position >= from_pos ORDER BY e.global_position LIMIT max_count
    ) page
    WHERE page.global_position < bound
    ORDER BY page.global_position;
END $$;

-- The highest position below the read bound; 0 when there is none.
CREATE OR REPLACE FUNCTION eventcore_head(gate_class INT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    bound BIGINT := eventcore_read_bound(gate_class);
    found BIGINT;
BEGIN
    SELECT e.global_position INTO found FROM eventcore_events e
    WHERE e.global_position < bound ORDER BY e.global_position DESC LIMIT 1;
    RETURN COALESCE(found, 0);
END $$;

-- How many events at or below `through` are below the read bound.
CREATE OR REPLACE FUNCTION eventcore_count_through(through BIGINT, gate_class INT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    bound BIGINT := eventcore_read_bound(gate_class);
    counted BIGINT;
BEGIN
    SELECT count(*) INTO counted FROM eventcore_events e
    WHERE e.global_position <= through AND e.global_position < bound;
    RETURN counted;
END $$;
