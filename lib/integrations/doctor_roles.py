"""`integrations doctor --role`: what each identity of a deployment needs, and only that (deploy/iam.sh grants it).

- `api` (the API, the console, the CLI an operator runs): every table read and written, KMS Encrypt, Decrypt and
  MacSign, Supabase. The checks doctor always ran.
- `job` (the nightly tasks, integrations-tasks): read `org_integrations`, read and write `revalidation_results`,
  KMS Decrypt only (probed with a ciphertext KMS cannot open: a denial is IAM's answer, "invalid" means allowed);
  no Supabase key (a task never writes Supabase).
- `finalize` (integrations-finalize): read `revalidation_results`, read and write `org_integrations` and
  `org_integration_events`, Supabase; no KMS call.

Every check changes nothing: gets and dry runs (free), a Decrypt that fails, Supabase selects."""

from __future__ import annotations

from typing import Any, Literal

from .errors import IntegrationError
from .vault import probe_decrypt

Role = Literal["api", "job", "finalize"]
ROLES: tuple[Role, ...] = ("api", "job", "finalize")
# per role: (table, a column of it, written too)
TABLES: dict[Role, tuple[tuple[str, str, bool], ...]] = {
    "job": (("org_integrations", "credential_id", False), ("revalidation_results", "credential_id", True)),
    "finalize": (
        ("revalidation_results", "credential_id", False),
        ("org_integrations", "credential_id", True),
        ("org_integration_events", "event_id", True),
    ),
}
SUPABASE_KEY_REFUSED = ("Invalid API key", "401", "JWT")


def table_probes(store: Any, role: Role) -> list[tuple[str, bool, str, str]]:
    """Dry runs of what `role` reads and writes, each (name, ok, detail, fix); the fix names the table-level role."""
    from google.api_core import exceptions as gexc
    from google.cloud import bigquery

    found = []
    dataset = f"{store.project}.{store.dataset}"
    for table, column, writes in TABLES[role]:
        kinds = [("read", "roles/bigquery.dataViewer")] + ([("write", "roles/bigquery.dataEditor")] if writes else [])
        for kind, grant in kinds:
            text = (
                f"SELECT {column} FROM `{dataset}.{table}` WHERE {column} = @probe"
                if kind == "read"
                else f"UPDATE `{dataset}.{table}` SET {column} = @probe WHERE FALSE"
            )
            config = bigquery.QueryJobConfig(
                dry_run=True, query_parameters=[bigquery.ScalarQueryParameter("probe", "STRING", "probe")]
            )
            name = f"{kind} {table} (dry run)"
            try:
                store.client.query(text, job_config=config, location=store.location, timeout=store.timeout).result(
                    timeout=store.timeout
                )
                found.append((name, True, "allowed", ""))
            except gexc.Forbidden as exc:
                fix = (
                    f"Grant {grant} on the table {store.project}:{store.dataset}.{table} (`bq add-iam-policy-binding`, "
                    f"deploy/iam.sh) and roles/bigquery.jobUser on the project {store.project}."
                )
                found.append((name, False, f"Denied: {exc.message[:200]}", fix))
            except gexc.GoogleAPICallError as exc:
                found.append((name, False, f"BigQuery refused it: {exc.message[:200]}", "See the table's finding."))
    return found


def dataset_location(store: Any, expected: str | None) -> tuple[bool, str, str]:
    """The dataset's location against INTEGRATIONS_BIGQUERY_LOCATION (unset: BigQuery's default, US): a job sent to
    another location does not find the dataset."""
    from google.cloud import bigquery

    found = store.client.get_dataset(bigquery.DatasetReference(store.project, store.dataset), timeout=store.timeout)
    actual, wanted = str(found.location or "US"), expected or "US"
    if actual.lower() == wanted.lower():
        return True, f"{actual}, as INTEGRATIONS_BIGQUERY_LOCATION says", ""
    return (
        False,
        f"The dataset is in {actual}; INTEGRATIONS_BIGQUERY_LOCATION is {expected or 'unset (US)'}.",
        f"Set INTEGRATIONS_BIGQUERY_LOCATION={actual} (in deploy/: BQ_LOCATION={actual}, then deploy/deploy.sh).",
    )


def decrypt_allowed(cipher: Any) -> tuple[bool, str, str]:
    """Decrypt permission on the credentials key, without Encrypt: a ciphertext no key version can open."""
    exc = probe_decrypt(cipher)
    if exc is None:
        return False, "KMS decrypted a ciphertext no key can open", "Check INTEGRATIONS_KMS_KEY names a Cloud KMS key."
    if "denied" in exc.message:
        return False, f"{exc.code}: {exc.message}", "Grant roles/cloudkms.cryptoKeyDecrypter on the key."
    if "invalid" in exc.message.lower() or "refused decrypt" in exc.message:
        return True, "Decrypt allowed (the probe ciphertext was refused as invalid, as expected)", ""
    return False, f"{exc.code}: {exc.message}", exc.hint


def supabase_failure(exc: IntegrationError) -> tuple[str, str]:
    """Detail and fix for a Supabase failure: a refused key is a configuration error ("check the key"), which no
    retry mends; anything else keeps the catalog's fix."""
    if any(marker in exc.message for marker in SUPABASE_KEY_REFUSED):
        return (
            f"{exc.code}: Supabase refused the key (401 Invalid API key).",
            "Check the key: SUPABASE_SERVICE_ROLE_KEY must be this project's service_role key (Supabase: Project "
            "Settings > API), not the anon key nor another project's; retrying will not help.",
        )
    return f"{exc.code}: {exc.message}", exc.hint
