-- Drops the schemas eventcore's PostgreSQL tests and benchmarks create (one per test), each in
-- its own statement (one transaction for all would exhaust the lock table).
SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace
WHERE nspname LIKE 'ec\_test\_%' OR nspname LIKE 'ec\_bench\_%' OR nspname LIKE 'we"ird %'
   OR nspname = 'rdtest'
\gexec
