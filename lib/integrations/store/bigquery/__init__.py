"""The BigQuery store: `store.py` (the adapter: its tables, records, events, keys and re-validation runs), `sql.py`
(its statements), `params.py` (query parameters and rows), `jobs.py` (job failures)."""

from .store import BigQueryStore

__all__ = ["BigQueryStore"]
