"""Reading what is stored: an org's integrations (never a secret), the overview table, the history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .. import changes, freshness
from ..deps import Deps
from ..domain import Provider, Status, StoredCredential, utcnow
from ..errors import Code, IntegrationError
from ..overview import overview_frame
from ..providers.kinds import kind_of
from ..results import ErrorInfo, Integration, OrgIntegrations
from ..store.staging import RUN_WINDOW, RunProgress
from . import orgs
from .orgs import require

if TYPE_CHECKING:
    import pandas as pd
else:
    from ..lazy_modules import pandas as pd  # imported when a frame is first built

HISTORY_DAYS, HISTORY_LIMIT = 90, 20  # the Setup page's history of one integration: its last 90 days, 20 rows


def view(provider: Provider, record: StoredCredential | None) -> Integration:
    """What callers see of a provider's active credential: its hint, status and last error, never a secret."""
    if record is None:
        return Integration(provider=provider, status=Status.NOT_CONFIGURED)
    error = None
    if record.encrypted_credential is None:
        error = ErrorInfo.of(
            IntegrationError(Code.DECRYPTION_FAILED, "No ciphertext is stored for this credential; re-enter it.")
        )
    elif record.validation_error_code:
        error = ErrorInfo.of(IntegrationError(Code(record.validation_error_code), record.validation_error_message))
    return Integration(
        provider=provider,
        status=record.validation_status,
        credential_id=record.credential_id,
        credential_name=record.credential_name,
        credential_hint=record.credential_hint,
        credential_kind=record.credential_kind or kind_of(provider, record.credential_hint),  # older rows: the hint
        last_validated_at=record.last_validated_at,
        created_at=record.created_at,
        error=error,
        data_status=freshness.current(record, utcnow()),  # aged to now: a source not re-checked does not stay FRESH
        data_through=record.data_through,
        last_success_at=record.last_success_at,
        expiry=record.expiry,
        expires_at=record.expires_at,
        last_used_at=record.last_used_at,
        metadata=record.metadata,
        key_ref=record.key_ref,
    )


def get_all(deps: Deps, org_slug: str) -> OrgIntegrations:
    """Every provider's integration for an org; never a secret. From the system of record: the status cache is only
    compared with it, and `warnings` says when it cannot be read or disagrees."""
    require(deps, org_slug)
    records = {r.provider: r for r in deps.store.list_credentials(org_slug)}
    views = {p: view(p, records.get(p)) for p in Provider}
    result = OrgIntegrations(
        org_slug=org_slug,
        integrations=views,
        providers_configured=[p for p, v in views.items() if v.status != Status.NOT_CONFIGURED],
        all_valid=all(v.status == Status.VALID for v in views.values()),  # every provider, as the contract says
    )
    result.warning_details = orgs.cache_warnings(deps, org_slug, {p: i.status for p, i in views.items()})
    return result


def get_one(deps: Deps, org_slug: str, provider: Provider | str) -> Integration:
    """One provider's integration (status NOT_CONFIGURED when there is none)."""
    provider = Provider.parse(provider)
    require(deps, org_slug)
    return view(provider, deps.store.get_active(org_slug, provider))


def overview(deps: Deps) -> pd.DataFrame:
    """One row per org x provider: recorded status beside cached status, in one query to each side. When the cache
    cannot be read the cached columns are empty and `frame.attrs["warnings"]` says so."""
    cached, warnings = orgs.cached_frame(deps)
    frame = overview_frame(deps.store.active_frame(), cached)
    if warnings:  # nothing to compare with: no row is reported as drifted
        frame["drift"] = False
    frame.attrs["warnings"] = warnings
    return frame


def data_version(deps: Deps) -> str | None:
    """The store's marker of 'the data changed' (see IntegrationStore.data_version), None when it has none."""
    return deps.store.data_version()


def events(deps: Deps, org_slug: str | None = None, since: datetime | None = None) -> pd.DataFrame:
    """The append-only history, newest first (only from `since` on, when given: the store reads no more)."""
    frame = deps.store.events_frame(org_slug, since)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame["duration_ms"] = frame["duration_ms"].fillna(0).astype(int)
    return frame


def history(
    deps: Deps, org_slug: str, provider: Provider, days: int = HISTORY_DAYS, limit: int = HISTORY_LIMIT
) -> pd.DataFrame:
    """One integration's latest events: a bounded read (the store reads only the last `days`, BigQuery scans only
    those days' partitions) cut to `limit` rows, newest first."""
    frame = events(deps, org_slug, since=utcnow() - timedelta(days=days))
    return frame[frame.provider == provider.value].head(limit)


def run_events(deps: Deps) -> pd.DataFrame:
    """The checks, alerts and run events within changes.LOOKBACK (all that the runs are read from), newest first:
    the store selects them (the status page reads them on every render), with `at` as UTC timestamps."""
    frame = deps.store.run_events(utcnow() - changes.LOOKBACK)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame["duration_ms"] = frame["duration_ms"].fillna(0).astype(int)
    return frame


def run_changes(deps: Deps, run_id: str | None = None) -> pd.DataFrame:
    """One run's status flips, worst first (by default the last bulk or nightly run, which a later single check
    does not replace)."""
    return changes.run_changes(run_events(deps), run_id)


def runs_in_progress(deps: Deps) -> list[RunProgress]:
    """The runs whose tasks have staged results that are not finalized yet, started in any process (the console,
    the CLI, a Cloud Run task): one store query within RUN_WINDOW (no task runs longer)."""
    return deps.store.runs_in_progress(utcnow() - RUN_WINDOW)
