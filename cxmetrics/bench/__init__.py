"""The performance benchmark (`make bench`): dashboards, survey answering, CRM ingest
and imports at a million responses, on PostgreSQL. See docs/benchmarks.md."""
