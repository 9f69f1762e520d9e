"""`integrations doctor`: check a deployment before trusting it. Every setting, permission, table, column, KMS key
state and Supabase status column the chosen profile needs, each ok or missing with its exact fix. Changes nothing:
no dataset, table, key or row is created; the BigQuery checks are gets and dry runs, the KMS ones an Encrypt and
Decrypt of a probe and a MacSign.

`--role` checks what each identity of a deployment needs, and only that (deploy/iam.sh grants it):
- `api` (the API, the console, the CLI an operator runs): every table read and written, KMS Encrypt, Decrypt and
  MacSign, Supabase. The checks doctor always ran.
- `job` (the nightly tasks, integrations-tasks): read `org_integrations`, read and write `revalidation_results`,
  KMS Decrypt only (probed with a ciphertext KMS cannot open: a denial is IAM's answer, "invalid" means allowed);
  no Supabase key (a task never writes Supabase).
- `finalize` (integrations-finalize): read `revalidation_results`, read and write `org_integrations` and
  `org_integration_events`, Supabase; no KMS call.
Every role's checks change nothing: gets and dry runs (free), a Decrypt that fails, Supabase selects."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from . import bootstrap, keyversions
from .crypto.base import Cipher
from .errors import IntegrationError
from .files import check_private
from .settings import Settings
from .vault import probe, probe_decrypt

MIGRATION = "migrations/supabase/001_integration_status_columns.sql"
SYNC_MIGRATION = "migrations/supabase/002_integration_status_sync.sql"
ATTEMPTS_MIGRATION = "migrations/supabase/004_integration_check_attempts.sql"
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


class Check(BaseModel):
    area: str
    name: str
    ok: bool
    detail: str
    fix: str = ""


class DoctorReport(BaseModel):
    profile: str
    role: str = "api"
    backends: dict[str, str] = Field(default_factory=dict)
    checks: list[Check] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _failed(area: str, name: str, exc: IntegrationError) -> Check:
    return Check(area=area, name=name, ok=False, detail=f"{exc.code}: {exc.message}", fix=exc.hint)


def _build(area: str, build: Callable[[], Any], checks: list[Check]) -> Any:
    """The adapter, or None with the missing setting recorded (building one contacts nothing)."""
    try:
        return build()
    except IntegrationError as exc:
        check = _failed(area, "settings", exc)
        if exc.message.startswith("Missing setting(s): "):
            check.fix = f"Set {exc.message.removeprefix('Missing setting(s): ').rstrip('.')} (environment or .env)."
        checks.append(check)
        return None


def _local_file(area: str, path: Path) -> Check:
    """A local profile's file (or the data dir): present, owned by this user and closed to others, as the service
    requires it (files.check_private); or made by `integrations init`."""
    if not path.exists():
        return Check(area=area, name=str(path), ok=False, detail="missing", fix="Run `integrations init`.")
    try:
        check_private(path)
    except IntegrationError as exc:
        return _failed(area, str(path), exc)
    return Check(area=area, name=str(path), ok=True, detail=f"present, {'0700' if path.is_dir() else '0600'}, yours")


def _local_files(settings: Settings) -> list[Check]:
    """The data dir of the local backends, and the SQLite files' -wal and -shm when they exist."""
    if "sqlite" not in (settings.backend("store"), settings.backend("status_cache")) and (
        settings.backend("cipher") != "local"
    ):
        return []
    extra = [p for p in sorted(settings.data_dir.glob("*.sqlite-*")) if p.suffix in (".sqlite-wal", ".sqlite-shm")]
    return [_local_file("data dir", settings.data_dir), *(_local_file("data dir", p) for p in extra)]


def _keyring_checks(settings: Settings) -> list[Check]:
    """The local keyring as the service opens it: readable, private, and holding every key version the store
    recorded, its current one not retired (what start-up and /readyz refuse: KEYRING_MISMATCH, ...)."""
    path = settings.data_dir / "local.keyring"
    if not path.exists():
        return [_local_file("cipher", path)]
    try:
        ring = bootstrap.build_cipher(settings, create=False)
    except IntegrationError as exc:
        return [_failed("cipher", str(path), exc)]
    checks = [Check(area="cipher", name=str(path), ok=True, detail=f"present, 0600, current {ring.current_key_ref()}")]
    warehouse = settings.data_dir / "warehouse.sqlite"
    if settings.backend("store") != "sqlite" or not warehouse.is_file():
        return checks
    name = "keyring holds the key versions the store recorded"
    try:
        keyversions.check_current(bootstrap.build_store(settings), ring, record=False)
    except IntegrationError as exc:
        return [*checks, _failed("cipher", name, exc)]
    return [*checks, Check(area="cipher", name=name, ok=True, detail="every recorded version, current not retired")]


def _store_checks(settings: Settings, role: Role = "api") -> list[Check]:
    checks: list[Check] = []
    if settings.backend("store") == "sqlite":
        return [_local_file("store", settings.data_dir / "warehouse.sqlite")]
    store = _build("bigquery", lambda: bootstrap.build_store(settings), checks)
    if store is None:
        return checks
    checks.append(
        Check(
            area="bigquery",
            name="settings",
            ok=True,
            detail=f"dataset {store.project}.{store.dataset}"
            f", location {settings.bigquery_location or 'BigQuery default'}",
        )
    )
    try:
        findings = store.inspect(create=False)
        if findings and findings[0].ok:
            checks.append(_dataset_location(store, settings.bigquery_location))
        if all(f.ok for f in findings):
            findings += store.probe_permissions() if role == "api" else []
    except IntegrationError as exc:
        return [*checks, _failed("bigquery", "reachable", exc)]
    checks += [Check(area="bigquery", name=f.name, ok=f.ok, detail=f.detail, fix=f.fix) for f in findings]
    if role != "api" and all(c.ok for c in checks):
        checks += _table_probes(store, role)
    return checks


def _table_probes(store: Any, role: Role) -> list[Check]:
    """Dry runs of what `role` reads and writes; a denial's fix names the table-level role."""
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
            try:
                store.client.query(text, job_config=config, location=store.location, timeout=store.timeout).result(
                    timeout=store.timeout
                )
                ok, detail, fix = True, "allowed", ""
            except gexc.Forbidden as exc:
                ok, detail = False, f"Denied: {exc.message[:200]}"
                fix = (
                    f"Grant {grant} on the table {store.project}:{store.dataset}.{table} (`bq add-iam-policy-binding`, "
                    f"deploy/iam.sh) and roles/bigquery.jobUser on the project {store.project}."
                )
            except gexc.GoogleAPICallError as exc:
                ok, detail, fix = False, f"BigQuery refused it: {exc.message[:200]}", "See the table's finding."
            found.append(Check(area="bigquery", name=f"{kind} {table} (dry run)", ok=ok, detail=detail, fix=fix))
    return found


def _dataset_location(store: Any, expected: str | None) -> Check:
    """The dataset's location against INTEGRATIONS_BIGQUERY_LOCATION (unset: BigQuery's default, US): a job sent to
    another location does not find the dataset."""
    from google.cloud import bigquery

    found = store.client.get_dataset(bigquery.DatasetReference(store.project, store.dataset), timeout=store.timeout)
    actual, wanted = str(found.location or "US"), expected or "US"
    name = "dataset location"
    if actual.lower() == wanted.lower():
        return Check(area="bigquery", name=name, ok=True, detail=f"{actual}, as INTEGRATIONS_BIGQUERY_LOCATION says")
    return Check(
        area="bigquery",
        name=name,
        ok=False,
        detail=f"The dataset is in {actual}; INTEGRATIONS_BIGQUERY_LOCATION is {expected or 'unset (US)'}.",
        fix=f"Set INTEGRATIONS_BIGQUERY_LOCATION={actual} (in deploy/: BQ_LOCATION={actual}, then deploy/deploy.sh).",
    )


def _cipher_checks(settings: Settings, role: Role = "api") -> list[Check]:
    checks: list[Check] = []
    if role == "finalize" and settings.backend("cipher") == "kms":
        return [Check(area="kms", name="not needed", ok=True, detail="finalize decrypts nothing (no KMS role)")]
    if settings.backend("cipher") == "local":
        return _keyring_checks(settings)
    cipher: Cipher | None = _build("kms", lambda: bootstrap.build_cipher(settings), checks)
    if cipher is None:
        return checks
    if role == "job":  # Decrypt only: the tasks' identity has roles/cloudkms.cryptoKeyDecrypter, nothing else
        return [*checks, _decrypt_allowed(cipher)]
    try:
        key_ref, ok = probe(cipher)
        checks.append(Check(area="kms", name="encrypt (primary version enabled)", ok=True, detail=key_ref))
        checks.append(Check(area="kms", name="decrypt", ok=ok, detail="round trip" if ok else "mismatch"))
    except IntegrationError as exc:
        checks.append(_failed("kms", "encrypt and decrypt", exc))
    try:
        cipher.fingerprint(b"doctor")
        checks.append(Check(area="kms", name="MAC key version (fingerprints)", ok=True, detail="MacSign allowed"))
    except IntegrationError as exc:
        checks.append(_failed("kms", "MAC key version (fingerprints)", exc))
    return checks


def _decrypt_allowed(cipher: Cipher) -> Check:
    """Decrypt permission on the credentials key, without Encrypt: a ciphertext no key version can open."""
    exc = probe_decrypt(cipher)
    if exc is None:
        detail, fix = "KMS decrypted a ciphertext no key can open", "Check INTEGRATIONS_KMS_KEY names a Cloud KMS key."
    elif "denied" in exc.message:
        detail, fix = f"{exc.code}: {exc.message}", "Grant roles/cloudkms.cryptoKeyDecrypter on the key."
    elif "invalid" in exc.message.lower() or "refused decrypt" in exc.message:
        detail = "Decrypt allowed (the probe ciphertext was refused as invalid, as expected)"
        return Check(area="kms", name="decrypt", ok=True, detail=detail)
    else:
        detail, fix = f"{exc.code}: {exc.message}", exc.hint
    return Check(area="kms", name="decrypt", ok=False, detail=detail, fix=fix)


def _cache_checks(settings: Settings, role: Role = "api") -> list[Check]:
    checks: list[Check] = []
    if role == "job":
        return [Check(area="supabase", name="not needed", ok=True, detail="a task writes no status (no Supabase key)")]
    if settings.backend("status_cache") == "sqlite":
        return [_local_file("status_cache", settings.data_dir / "status.sqlite")]
    cache = _build("supabase", lambda: bootstrap.build_cache(settings), checks)
    if cache is None:
        return checks
    try:
        missing = cache.missing_columns()
        function = cache.has_sync_function()
        attempts = cache.has_attempt_function()
    except IntegrationError as exc:
        check = _failed("supabase", "organizations table reachable", exc)
        if any(marker in exc.message for marker in SUPABASE_KEY_REFUSED):  # a configuration error no retry mends
            check.detail = f"{exc.code}: Supabase refused the key (401 Invalid API key)."
            check.fix = (
                "Check the key: SUPABASE_SERVICE_ROLE_KEY must be this project's service_role key (Supabase: Project "
                "Settings > API), not the anon key nor another project's; retrying will not help."
            )
        return [*checks, check]
    return checks + [
        Check(
            area="supabase",
            name="status columns of organizations",
            ok=not missing,
            detail="all six present" if not missing else f"missing: {', '.join(missing)}",
            fix="" if not missing else f"Apply {MIGRATION} (idempotent) to the Supabase database.",
        ),
        Check(
            area="supabase",
            name="function integration_status_sync",
            ok=function,
            detail="present" if function else "missing",
            fix="" if function else f"Apply {SYNC_MIGRATION} (idempotent) to the Supabase database.",
        ),
        Check(
            area="supabase",
            name="function integration_check_attempt",
            ok=attempts,
            detail="present" if attempts else "missing: the attempt limit is counted per API process",
            fix="" if attempts else f"Apply {ATTEMPTS_MIGRATION} (idempotent) to the Supabase database.",
        ),
    ]


def run(settings: Settings | None = None, role: Role = "api") -> DoctorReport:
    """Check what the configured profile needs for `role` (see the module's docstring); change nothing."""
    settings = settings or Settings()
    report = DoctorReport(profile=settings.profile, role=role)
    for part in ("store", "cipher", "status_cache", "validation"):
        try:
            report.backends[part] = settings.backend(part)
        except IntegrationError as exc:
            report.checks.append(_failed("settings", part, exc))
    if report.checks:
        return report
    report.checks += _local_files(settings)
    for area_checks in (_store_checks, _cipher_checks, _cache_checks):
        report.checks += area_checks(settings, role)
    return report
