-- The read bound: log readers return only positions below it. It follows the oldest
-- transaction still in flight that may append to this store's log, not the oldest one in the
-- cluster, so that a long transaction that appends no events (a batch update, a session idle
-- in transaction, a write in another database) does not stall readers.
--
-- Event-writing transactions hold the store's gate, the shared advisory lock (gate_class, their
-- backend pid), taken before the transaction gets its id (see eventcore-postgres/src/insert.rs). `snap` is the snapshot the
-- reading statement reads with; the steps run in this order:
-- 1. who holds the gate now, with their transaction ids;
-- 2. which of the ids the snapshot saw in flight are gate holders, or have finished since
--    (those may have appended and committed after the snapshot, so they are not in it).
-- The bound is the smallest such id, or the snapshot's xmax when there is none. Ids still in
-- flight that hold no gate are passed: should such a transaction append later, its append
-- sees what readers may have passed and is refused.
CREATE OR REPLACE FUNCTION eventcore_read_bound(snap pg_snapshot, gate_class INT)
RETURNS BIGINT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    writers BIGINT[];
    oldest xid8;
BEGIN
    IF pg_snapshot_xmin(snap) = pg_snapshot_xmax(snap) THEN
        RETURN pg_snapshot_xmax(snap)::TEXT::BIGINT << 20; -- nothing was in flight
    END IF;
    -- One scan of the lock table; a transaction's rows share its virtual transaction id
    -- (prepared transactions included, which have no pid).
    WITH locks AS MATERIALIZED (
        SELECT locktype, virtualtransaction AS vt, transactionid, database, classid, objid,
               objsubid
        FROM pg_locks
        WHERE granted AND locktype IN ('advisory', 'transactionid')
    )
    SELECT COALESCE(array_agg(t.transactionid::TEXT::BIGINT), '{}') INTO writers
    FROM locks t
    WHERE t.locktype = 'transactionid'
      AND t.vt IN (SELECT g.vt FROM locks g
                   WHERE g.locktype = 'advisory' AND g.objsubid = 2
                     AND g.classid = gate_class::OID
                     AND g.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database()));
    SELECT min(x) INTO oldest
    FROM pg_snapshot_xip(snap) AS x
    WHERE (x::TEXT::BIGINT & 4294967295) = ANY (writers)
       OR pg_xact_status(x) IS DISTINCT FROM 'in progress';
    RETURN COALESCE(oldest, pg_snapshot_xmax(snap))::TEXT::BIGINT << 20;
END $$;
