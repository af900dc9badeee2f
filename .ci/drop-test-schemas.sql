-- Drops the schemas eventcore's PostgreSQL tests and benchmarks create (one per test), each in
-- its own statement (one transaction for all would exhaust the lock table).
SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace
WHERE nspname LIKE 'ec\_test\_%' OR nspname LIKE 'ec\_bench\_%' OR nspname LIKE 'we"ird %'
   OR nspname = 'rdtest'
\gexec

-- Databases the read-bound stress test makes for its transaction in another database (a run
-- cut short leaves one behind).
SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database
WHERE datname LIKE 'ec\_other\_%'
\gexec
