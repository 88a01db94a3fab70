-- gridsync PostgreSQL schema, version 5: the records with a field in
-- conflict, indexed apart, so that the metrics' count of open conflicts
-- reads only them (docs/adr/0031-metrics-and-fault-injection.md).
CREATE INDEX records_conflicted ON records (township) WHERE conflicted;
