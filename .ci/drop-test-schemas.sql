-- Drops the schemas eventcore's PostgreSQL tests and benchmarks create (one per test), each in
-- its own statement (one transaction for all would exhaust the lock table).
SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace
WHERE nspname LIKE 'ec\_test\_%' OR nspname LIKE 'ec\_bench\_%' OR nspname LIKE 'we"ird %'
   OR nspname LIKE 'ec\_quiet\_%' OR nspname = 'rdtest'
\gexec

-- Databases the read-bound stress test makes for its transaction in another database (a run
-- cut short leaves one behind).
SELECT format('DROP DATABASE %I WITH (FORCE)', datname) FROM pg_database
WHERE datname LIKE 'ec\_other\_%'
\gexec

-- Every test run creates and drops thousands of tables: the catalogs' dead rows (140,000 in
-- pg_attribute after a few runs) slow every service on this server down by a fifth until
-- autovacuum gets to them. Vacuum them now (well under a second).
VACUUM pg_catalog.pg_attribute, pg_catalog.pg_class, pg_catalog.pg_depend, pg_catalog.pg_type,
    pg_catalog.pg_index, pg_catalog.pg_constraint, pg_catalog.pg_attrdef, pg_catalog.pg_trigger,
    pg_catalog.pg_proc, pg_catalog.pg_namespace, pg_catalog.pg_description;
