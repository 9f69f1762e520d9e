"""Wire-level doubles of the cloud services the adapters talk to: BigQuery (ZetaSQL-checked, DuckDB-run), Cloud KMS
(gRPC), Supabase's PostgREST (on a real PostgreSQL, started by pg_cluster)."""
