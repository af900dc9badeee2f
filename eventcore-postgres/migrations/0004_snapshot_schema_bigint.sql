-- Snapshot schema versions are u32 (`Aggregate::SNAPSHOT_VERSION`); INTEGER holds only half of
-- that range, so versions above 2^31 - 1 were clamped and one schema could read another's.
ALTER TABLE eventcore_snapshots ALTER COLUMN schema_version TYPE BIGINT;
