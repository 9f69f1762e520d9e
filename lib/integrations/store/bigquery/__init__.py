"""The BigQuery store: `store.py` (the adapter and its tables: inspect, init), `sql.py` (its statements), `runs.py`
+ `runs_sql.py` (re-validation runs), `params.py` (query parameters and rows), `jobs.py` (job failures)."""

from .store import BigQueryStore

__all__ = ["BigQueryStore"]
