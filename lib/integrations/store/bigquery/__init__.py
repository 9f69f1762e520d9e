"""The BigQuery store: `store.py` (the adapter), `sql.py` (its statements), `runs.py` (re-validation runs),
`schema.py` (tables, inspect, init), `params.py` (query parameters and rows), `jobs.py` (job errors)."""

from .store import BigQueryStore

__all__ = ["BigQueryStore"]
