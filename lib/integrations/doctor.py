"""`integrations doctor`: check a deployment before trusting it. Every setting, permission, table, column, KMS key
state and Supabase status column the chosen profile needs, each ok or missing with its exact fix. Changes nothing:
no dataset, table, key or row is created; the BigQuery checks are gets and dry runs, the KMS ones an Encrypt and
Decrypt of a probe and a MacSign."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from . import bootstrap, doctor_roles, keyversions
from .crypto.base import Cipher
from .doctor_roles import Role
from .errors import IntegrationError
from .files import check_private
from .settings import Settings
from .vault import probe

MIGRATION = "migrations/supabase/001_integration_status_columns.sql"
SYNC_MIGRATION = "migrations/supabase/002_integration_status_sync.sql"
ATTEMPTS_MIGRATION = "migrations/supabase/004_integration_check_attempts.sql"


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
            ok, detail, fix = doctor_roles.dataset_location(store, settings.bigquery_location)
            checks.append(Check(area="bigquery", name="dataset location", ok=ok, detail=detail, fix=fix))
        if all(f.ok for f in findings):
            findings += store.probe_permissions() if role == "api" else []
    except IntegrationError as exc:
        return [*checks, _failed("bigquery", "reachable", exc)]
    checks += [Check(area="bigquery", name=f.name, ok=f.ok, detail=f.detail, fix=f.fix) for f in findings]
    if role != "api" and all(c.ok for c in checks):
        checks += [
            Check(area="bigquery", name=name, ok=ok, detail=detail, fix=fix)
            for name, ok, detail, fix in doctor_roles.table_probes(store, role)
        ]
    return checks


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
        ok, detail, fix = doctor_roles.decrypt_allowed(cipher)
        return [*checks, Check(area="kms", name="decrypt", ok=ok, detail=detail, fix=fix)]
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
        detail, fix = doctor_roles.supabase_failure(exc)
        return [*checks, Check(area="supabase", name="organizations table reachable", ok=False, detail=detail, fix=fix)]
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
    """Check what the configured profile needs for `role` (doctor_roles.py); change nothing."""
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
