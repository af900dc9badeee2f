-- The read bound of migration 0005, also counting ids that have just been assigned.
--
-- A transaction's id enters the snapshots (the proc array) a moment before the lock on that
-- id enters the lock table: in between, an event-writing transaction that holds the store's
-- gate shows in the snapshot's in-flight ids but not yet as a gate holder with that id, and
-- 0005 passed it. A later id that committed meanwhile let the snapshot see it in flight, and
-- readers then delivered that later id's events and skipped this one's when it committed
-- (found by the stress test in CI: a stream delivered at version 41 after 39). The window is
-- short, but a writer can be held in it: the lock needs a lock-table partition lock, which
-- every reader's scan of pg_locks holds (shared) on all partitions.
--
-- An id the snapshot saw in flight whose lock the scan did not find, and that is still in
-- progress after the scan, is in that window: it counts as a writer. (One that finished
-- between the snapshot and the scan is not in flight: if it committed, the rows statement
-- sees it.) Counting such an id holds readers back for the moment it takes to lock its id;
-- once the lock is in the table it counts only if it holds the gate, as before.
CREATE OR REPLACE FUNCTION eventcore_read_bound(gate_class INT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    snap pg_snapshot;
    writers BIGINT[];
    locked BIGINT[];
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
    SELECT pg_current_snapshot(),
           COALESCE(array_agg(t.transactionid::TEXT::BIGINT)
                        FILTER (WHERE t.vt IN (
                            SELECT g.vt FROM locks g
                            WHERE g.locktype = 'advisory' AND g.objsubid = 2
                              AND g.classid = gate_class::OID
                              AND g.database = (SELECT oid FROM pg_database
                                                WHERE datname = current_database()))),
                    '{}'),
           COALESCE(array_agg(t.transactionid::TEXT::BIGINT), '{}')
    INTO snap, writers, locked
    FROM locks t
    WHERE t.locktype = 'transactionid';
    IF current_setting('transaction_isolation') = 'read committed' THEN
        SELECT min(x) INTO oldest
        FROM pg_snapshot_xip(snap) AS x
        WHERE (x::TEXT::BIGINT & 4294967295) = ANY (writers)
           OR (NOT (x::TEXT::BIGINT & 4294967295) = ANY (locked)
               AND pg_xact_status(x) = 'in progress');
    ELSE
        SELECT min(x) INTO oldest
        FROM pg_snapshot_xip(snap) AS x
        WHERE (x::TEXT::BIGINT & 4294967295) = ANY (writers)
           OR NOT (x::TEXT::BIGINT & 4294967295) = ANY (locked)
           OR pg_xact_status(x) IS DISTINCT FROM 'in progress';
    END IF;
    RETURN COALESCE(oldest, pg_snapshot_xmax(snap))::TEXT::BIGINT << 20;
END $$;
