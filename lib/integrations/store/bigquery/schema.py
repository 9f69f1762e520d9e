"""The BigQuery store's schema: inspect the dataset and its tables (doctor), create what is missing (init), and
dry-run the permissions each table needs. Mixed into BigQueryStore."""

from __future__ import annotations

from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from ...errors import IntegrationError
from ..base import SchemaFinding
from . import sql


class BigQuerySchema:
    """Needs the store's client, project, dataset, location, timeout, retry and `_query`."""

    client: Any
    project: str
    dataset: str
    location: str | None
    timeout: float
    _t: str
    _retry: Any

    def _query(
        self, template: str, params: dict[str, Any] | None = None, arrays: list[Any] | None = None
    ) -> list[dict[str, Any]]:
        raise NotImplementedError

    # --- schema -----------------------------------------------------------------------------------------------------
    def init(self) -> None:
        """Get the dataset and tables; create only what is missing, naming a missing permission only then."""
        for finding in self.inspect(create=True):
            if not finding.ok:
                raise IntegrationError("STORAGE_FAILED", f"{finding.detail} Fix: {finding.fix}", retryable=False)

    def inspect(self, create: bool = False) -> list[SchemaFinding]:
        """The dataset and each table: present with every column, or what is wrong and its fix. With `create`,
        what is missing is created (init); without, nothing is changed (doctor)."""
        findings = [self._dataset(create)]
        if not findings[0].ok:
            return findings
        return findings + [self._table(name, create) for name in sql.TABLES]

    def _dataset(self, create: bool) -> SchemaFinding:
        ref = bigquery.DatasetReference(self.project, self.dataset)
        name = f"dataset {self._t}"
        try:
            self.client.get_dataset(ref, retry=self._retry, timeout=self.timeout)
            return SchemaFinding(name, True, "present")
        except gexc.Forbidden:
            return SchemaFinding(
                name,
                False,
                f"No bigquery.datasets.get on {self._t}.",
                f"Grant the service account BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t}.",
            )
        except gexc.NotFound:
            pass
        missing = SchemaFinding(
            name,
            False,
            f"The dataset {self._t} does not exist.",
            f"Create it (`bq mk --location={self.location or 'US'} --dataset {self.project}:{self.dataset}`) and grant "
            "BigQuery Data Editor on it, or grant bigquery.datasets.create on the project and run `integrations init`.",
        )
        if not create:
            return missing
        dataset = bigquery.Dataset(ref)
        dataset.location = self.location
        try:
            self.client.create_dataset(dataset, exists_ok=True, retry=self._retry, timeout=self.timeout)
        except gexc.Forbidden:
            return missing._replace(
                detail=f"{missing.detail} Creating it needs bigquery.datasets.create on the "
                f"project {self.project}, which this service account does not have."
            )
        return SchemaFinding(name, True, "created")

    def _table(self, table: str, create: bool) -> SchemaFinding:
        name, full = f"table {table}", f"{self._t}.{table}"
        try:
            found = self.client.get_table(full, retry=self._retry, timeout=self.timeout)
        except gexc.Forbidden:
            return SchemaFinding(
                name,
                False,
                f"No bigquery.tables.get on {full}.",
                f"Grant BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t}.",
            )
        except gexc.NotFound:
            if not create:
                return SchemaFinding(name, False, f"{full} does not exist.", "Run `integrations init`.")
            try:
                self._query(sql.CREATE[table])
            except IntegrationError as exc:
                if exc.retryable:
                    raise
                return SchemaFinding(
                    name,
                    False,
                    f"{full} does not exist and could not be created ({exc.message[:160]}).",
                    f"Grant bigquery.tables.create (BigQuery Data Editor) on the dataset {self._t} and BigQuery Job "
                    "User on the project, then run `integrations init`.",
                )
            return SchemaFinding(name, True, "created")
        have = {f.name for f in found.schema}
        missing = [c for c in sql.COLUMNS[table] if c not in have]
        addable = sql.ADD_COLUMNS.get(table, {})
        if missing and all(c in addable for c in missing):  # additive columns: init adds them in place
            if not create:
                return SchemaFinding(
                    name, False, f"{full} lacks column(s) {', '.join(missing)}.", "Run `integrations init` (adds them)."
                )
            for column in missing:
                self._query(addable[column])
            return SchemaFinding(name, True, f"present; added {', '.join(missing)}")
        if missing:
            return SchemaFinding(
                name,
                False,
                f"{full} lacks column(s) {', '.join(missing)}.",
                sql.MIGRATIONS.get(table, "").format(t=self._t)
                or f"Add the column(s) {', '.join(missing)} as in store/bigquery/sql.py.",
            )
        return SchemaFinding(name, True, "present, every column")

    def probe_permissions(self) -> list[SchemaFinding]:
        """Dry runs (free, change nothing) of a read and a write on each table: jobs.create, getData, updateData."""
        findings = []
        for table, column in (
            ("org_integrations", "credential_id"),
            ("org_integration_events", "event_id"),
            ("org_api_keys", "key_id"),
        ):
            for kind, text in (
                ("read", f"SELECT {column} FROM `{{t}}.{table}` WHERE {column} = @probe"),
                ("write", f"UPDATE `{{t}}.{table}` SET {column} = @probe WHERE FALSE"),
            ):
                name = f"{kind} {table} (dry run)"
                config = bigquery.QueryJobConfig(
                    dry_run=True, query_parameters=[bigquery.ScalarQueryParameter("probe", "STRING", "probe")]
                )
                try:
                    self.client.query(
                        text.format(t=self._t),
                        job_config=config,
                        location=self.location,
                        timeout=self.timeout,
                        retry=self._retry,
                    ).result(timeout=self.timeout)
                    findings.append(SchemaFinding(name, True, "allowed"))
                except gexc.Forbidden as exc:
                    findings.append(
                        SchemaFinding(
                            name,
                            False,
                            f"Denied: {exc.message[:200]}",
                            f"Grant BigQuery Data Editor (roles/bigquery.dataEditor) on the dataset {self._t} and "
                            f"BigQuery Job User (roles/bigquery.jobUser) on the project {self.project}.",
                        )
                    )
                except gexc.GoogleAPICallError as exc:
                    findings.append(
                        SchemaFinding(
                            name, False, f"BigQuery refused it: {exc.message[:200]}", "See the table's finding above."
                        )
                    )
        return findings
