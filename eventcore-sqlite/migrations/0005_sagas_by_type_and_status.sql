-- Sagas by type and status in update order: what the dispatcher asks for after every change
-- (its in-flight instances) and operators list. The (status, saga_type) index it replaces lost
-- to the primary key in SQLite's planner, which then scanned every instance of the type.
CREATE INDEX IF NOT EXISTS eventcore_sagas_by_type_status
    ON eventcore_sagas (saga_type, status, updated_at, saga_id);
DROP INDEX IF EXISTS eventcore_sagas_by_status;
