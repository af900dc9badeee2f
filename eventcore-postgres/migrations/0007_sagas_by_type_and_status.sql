-- Sagas by type and status in update order: what every saga dispatcher asks for after each
-- change (its instances with steps to run) and operators list, as
-- `WHERE saga_type = $1 AND status = $2 ORDER BY updated_at, saga_id LIMIT $3`. The (status,
-- updated_at) index it replaces had no saga type: a store shared by several saga types (a
-- service's saga and its policies) read every type's entries of the status, and with them the
-- entries of old row versions that every saga save leaves until vacuum (each save changes
-- `updated_at`, so none is a HOT update). Measured in the shop's order service under load:
-- about 2,700 index entries read per dispatcher query, none of them returned.
CREATE INDEX IF NOT EXISTS eventcore_sagas_by_type_status
    ON eventcore_sagas (saga_type, status, updated_at, saga_id);
DROP INDEX IF EXISTS eventcore_sagas_by_status;
