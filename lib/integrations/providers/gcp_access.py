"""What a GCP service account may do once it has a token: the three BigQuery permissions the integration needs
(one Cloud Resource Manager `projects.testIamPermissions` call, or today's probes when that API is disabled),
and, when the integration names one, whether the organization's billing export table can be read."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import urllib3

from ..domain import Capability, CheckItem, CheckResult, DataObservation, Expiry, Status
from ..errors import Code, IntegrationError
from ..verdict import failed
from .base import ParsedCredential, rfc3339

PERMISSIONS = ("bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create")
DATASET_LEVEL = ("bigquery.datasets.get", "bigquery.tables.get")  # can be granted on one dataset only
TABLE_RE = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z_][A-Za-z0-9_]{0,1023})\.([A-Za-z0-9_-]{1,1024})$")
BILLING_KEY = "billing_export_table"
TEST_IAM = "projects.testIamPermissions"
_FALLBACK_LIST, _FALLBACK_JOB = "bigquery.datasets.list", "bigquery.jobs.create (dry-run query)"


def billing_table(metadata: dict[str, Any] | None) -> tuple[str, str, str] | None:
    """(project, dataset, table) from metadata's billing_export_table; INVALID_INPUT when it is malformed."""
    value = (metadata or {}).get(BILLING_KEY)
    if value is None or value == "":
        return None
    found = TABLE_RE.fullmatch(value) if isinstance(value, str) else None
    if not found:
        raise IntegrationError(
            Code.INVALID_INPUT,
            f"metadata {BILLING_KEY} must name a table as project.dataset.table, e.g. "
            "my-billing-project.billing_export.gcp_billing_export_v1_0123AB_456789_ABCDEF.",
        )
    return found.group(1), found.group(2), found.group(3)


class Unreachable(Exception):
    """A Google endpoint could not be reached (refused, reset, timed out)."""


def google_request(
    http: urllib3.PoolManager, method: str, url: str, token: str, payload: dict[str, Any] | None = None
) -> urllib3.BaseHTTPResponse:
    """One request to a Google REST endpoint with a bearer token (JSON body when `payload`); Unreachable."""
    try:
        return http.request(method, url, headers={"Authorization": f"Bearer {token}"}, json=payload)
    except urllib3.exceptions.HTTPError:
        raise Unreachable(url) from None


@dataclass
class GoogleCalls:
    """Requests to Google's REST endpoints with the service account's token, over the validator's pool."""

    http: urllib3.PoolManager
    token: str
    credential: ParsedCredential

    def call(self, method: str, url: str, payload: dict[str, Any] | None = None) -> urllib3.BaseHTTPResponse:
        return google_request(self.http, method, url, self.token, payload)

    def message(self, resp: urllib3.BaseHTTPResponse) -> str:
        return self.credential.scrub(str(_error(resp).get("message") or f"HTTP {resp.status}"))[:300]


@dataclass
class AccessCheck:
    """One run of the checks: the checklist so far, and what the verdict needs to know."""

    project: str
    checks: list[CheckItem]
    missing: list[str] = field(default_factory=list)
    table_error: str | None = None  # INSUFFICIENT_PERMISSIONS or BILLING_EXPORT_NOT_FOUND
    table_read: bool = False
    data: DataObservation | None = None  # what tables.get said of the export's data (freshness)


def check_access(
    google: GoogleCalls, bigquery_url: str, resource_manager_url: str, checks: list[CheckItem], table: Any
) -> CheckResult:
    """The permission checklist, then the billing export table when one is named; one verdict for all."""
    project = google.credential.info["project_id"]
    run = AccessCheck(project, checks)
    try:
        granted = _test_permissions(google, resource_manager_url, run)
        if granted is None:
            _probe(google, bigquery_url, run)
        else:
            run.missing = [p for p in PERMISSIONS if p not in granted]
        if table is not None:
            _billing_table(google, bigquery_url, run, table)
    except Unreachable:
        message = "Google could not be reached; the key was not fully checked."
        return failed("NETWORK_ERROR", message, retryable=True, checks=checks)
    except _Transient as exc:
        return failed(exc.code, exc.message, retryable=True, checks=checks, rate_limit=exc.rate_limit)
    return _verdict(run, table)


class _Transient(Exception):
    def __init__(self, code: str, message: str, rate_limit: dict[str, str]) -> None:
        super().__init__(message)
        self.code, self.message, self.rate_limit = code, message, rate_limit


QUOTA_REASONS = ("rateLimitExceeded", "quotaExceeded", "RATE_LIMIT_EXCEEDED")


def _transient(resp: urllib3.BaseHTTPResponse, what: str) -> None:
    if resp.status == 403 and _reason(resp) in QUOTA_REASONS:  # Google's quotas answer 403 too: never a verdict
        raise _Transient("RATE_LIMITED", f"Google quota ({_reason(resp)}) during {what}; not fully checked.", {})
    if 300 <= resp.status < 400:  # redirects are not followed: no verdict from wherever they point
        raise _Transient("PROVIDER_UNAVAILABLE", f"Google answered a redirect ({resp.status}) during {what}.", {})
    if resp.status == 429 or resp.status >= 500:
        code = "RATE_LIMITED" if resp.status == 429 else "PROVIDER_UNAVAILABLE"
        wait = resp.headers.get("Retry-After")
        limits = {"retry-after": wait} if wait else {}
        raise _Transient(code, f"Google answered HTTP {resp.status} during {what}.", limits)


def _documented(resp: urllib3.BaseHTTPResponse, what: str, kind: str | None) -> None:
    """A 2xx counts only with the JSON Google documents for the call (its "kind", or an object), not any 2xx."""
    try:
        body = json.loads(resp.data)
    except ValueError:
        body = None
    if not isinstance(body, dict) or (kind is not None and body.get("kind") != kind):
        raise _Transient(
            "PROVIDER_UNAVAILABLE", f"Google answered {what} without its documented JSON (a proxy?); not checked.", {}
        )


def _test_permissions(google: GoogleCalls, resource_manager_url: str, run: AccessCheck) -> set[str] | None:
    """The subset of PERMISSIONS granted on the project, or None when the API is disabled or refused the call."""
    resp = google.call(
        "POST",
        f"{resource_manager_url}/projects/{quote(run.project, safe='')}:testIamPermissions",
        {"permissions": list(PERMISSIONS)},
    )
    _transient(resp, TEST_IAM)
    if resp.status == 200:
        _documented(resp, TEST_IAM, None)
        granted = _json(resp).get("permissions") or []  # an empty object when none is granted
        for permission in PERMISSIONS:
            ok = permission in granted
            where = "not granted at project level" if permission in DATASET_LEVEL else "not granted on the project"
            detail = f"granted on project {run.project}" if ok else where
            if not ok and permission in DATASET_LEVEL:
                detail += " (a grant made only on a dataset does not show here; the billing table check decides)"
            run.checks.append(CheckItem(name=permission, passed=ok, detail=detail))
        return set(granted)
    if _reason(resp) == "SERVICE_DISABLED":
        why = f"the Cloud Resource Manager API is disabled in project {run.project}"
    else:
        why = f"it answered HTTP {resp.status}: {google.message(resp)}"
    run.checks.append(
        CheckItem(
            name=TEST_IAM,
            passed=False,
            detail=f"not used: {why}; fell back to probing BigQuery (datasets.list and a dry-run job). Enable "
            "cloudresourcemanager.googleapis.com to have each permission checked by name.",
        )
    )
    return None


def _probe(google: GoogleCalls, bigquery_url: str, run: AccessCheck) -> None:
    """Today's checks when testIamPermissions cannot be used: list datasets, dry-run a query."""
    base = f"{bigquery_url}/projects/{quote(run.project, safe='')}"
    job = {"configuration": {"dryRun": True, "query": {"query": "SELECT 1", "useLegacySql": False}}}
    for name, method, url, payload, kind in (
        (_FALLBACK_LIST, "GET", f"{base}/datasets?maxResults=1", None, "bigquery#datasetList"),
        (_FALLBACK_JOB, "POST", f"{base}/jobs", job, "bigquery#job"),
    ):
        resp = google.call(method, url, payload)
        _transient(resp, name)
        ok = 200 <= resp.status < 300
        if ok:
            _documented(resp, name, kind)
        run.checks.append(CheckItem(name=name, passed=ok, detail="" if ok else google.message(resp)))
        if not ok:
            run.missing.append(name)


def _billing_table(google: GoogleCalls, bigquery_url: str, run: AccessCheck, table: tuple[str, str, str]) -> None:
    """tables.get the billing export, then dry-run a query over it in the table's location."""
    project, dataset, name = table
    full = f"{project}.{dataset}.{name}"
    path = "/".join(quote(part, safe="") for part in (project, "datasets", dataset, "tables", name))
    resp = google.call("GET", f"{bigquery_url}/projects/{path}")
    _transient(resp, "tables.get on the billing export")
    if resp.status != 200:
        run.table_error = "BILLING_EXPORT_NOT_FOUND" if resp.status == 404 else "INSUFFICIENT_PERMISSIONS"
        run.checks.append(CheckItem(name=f"billing export table {full}", passed=False, detail=google.message(resp)))
        return
    _documented(resp, "tables.get on the billing export", "bigquery#table")
    location = _json(resp).get("location")
    run.data = table_data(_json(resp))
    run.checks.append(CheckItem(name=f"billing export table {full}", passed=True, detail=f"found in {location}"))
    job: dict[str, Any] = {
        "configuration": {
            "dryRun": True,
            "query": {"query": f"SELECT cost FROM `{full}` LIMIT 1", "useLegacySql": False},
        },
        "jobReference": {"projectId": run.project, "location": location},
    }
    resp = google.call("POST", f"{bigquery_url}/projects/{quote(run.project, safe='')}/jobs", job)
    _transient(resp, "the dry-run query over the billing export")
    if resp.status == 200:
        _documented(resp, "the dry-run query over the billing export", "bigquery#job")
    run.table_read = resp.status == 200
    if not run.table_read:
        run.table_error = "BILLING_EXPORT_NOT_FOUND" if resp.status == 404 else "INSUFFICIENT_PERMISSIONS"
    detail = "the platform can query it" if run.table_read else google.message(resp)
    run.checks.append(CheckItem(name="dry-run query over the billing export", passed=run.table_read, detail=detail))


def _verdict(run: AccessCheck, table: Any) -> CheckResult:
    if run.table_read:  # the table check decides for grants made on the billing dataset only
        run.missing = [p for p in run.missing if p not in DATASET_LEVEL]
        for item in run.checks:
            if item.name in DATASET_LEVEL and not item.passed:
                item.passed, item.detail = True, "granted on the billing export's dataset (not at project level)"
    cost = _cost_capability(run, table)
    if run.missing or run.table_error:
        code = "INSUFFICIENT_PERMISSIONS" if run.missing else str(run.table_error)
        message = f"The key is valid but lacks: {', '.join(run.missing)} on project {run.project}."
        if not run.missing:
            message = f"The key is valid but cannot read the billing export table {'.'.join(table)}."
        if any(p in DATASET_LEVEL for p in run.missing) and table is None:
            message += f" If granted on a dataset only, name the billing export table in metadata ({BILLING_KEY})."
        result = failed(code, message, retryable=False, checks=run.checks)
        return result.model_copy(update={"capabilities": [cost], "data": run.data})
    return CheckResult(
        status=Status.VALID,
        message=f"The service account can use BigQuery in {run.project}. {cost.detail}",
        checks=run.checks,
        capabilities=[cost],
        data=run.data,
    )


def _cost_capability(run: AccessCheck, table: Any) -> Capability:
    if table is None:
        return Capability(
            name="cost data",
            status="not available",
            detail=f"No billing export table named: add {BILLING_KEY}: project.dataset.table to the integration's "
            "metadata to check that the platform can read the organization's GCP costs.",
        )
    if run.table_read and not run.missing:
        return Capability(
            name="cost data", status="passed", detail="The platform can read the organization's GCP costs."
        )
    return Capability(
        name="cost data",
        status="not available",
        detail="The platform cannot read the organization's GCP costs: see the billing export lines of the checklist.",
    )


EXPORT_SOURCE = "billing export table"
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # validBeforeTime 9999-12-31T23:59:59Z: a key that never expires


def millis(value: object) -> datetime | None:
    """BigQuery's int64 milliseconds since the epoch, sent as a JSON string."""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def table_data(body: dict[str, Any]) -> DataObservation:
    """What BigQuery tables.get says of a billing export's data, for freshness.judge (free: metadata only).
    `lastModifiedTime` is when the export last wrote (Harness's signal); a table whose `numRows` is "0" and whose
    streaming buffer is empty holds no data yet (its `creationTime` starts the wait for first data)."""
    modified, created = millis(body.get("lastModifiedTime")), millis(body.get("creationTime"))
    buffer = body.get("streamingBuffer") if isinstance(body.get("streamingBuffer"), dict) else {}
    buffered = str((buffer or {}).get("estimatedRows") or "0")
    empty = str(body.get("numRows", "")) == "0" and buffered in ("0", "")
    if empty or modified is None:
        return DataObservation(source=EXPORT_SOURCE, since=created)
    return DataObservation(source=EXPORT_SOURCE, newest_at=modified, data_through=modified.date(), since=created)


def key_expiry(google: GoogleCalls, iam_url: str) -> Expiry:
    """The key file's own key, as IAM projects.serviceAccounts.keys.get shows it (needs iam.serviceAccountKeys.get,
    in roles/iam.serviceAccountViewer): validBeforeTime is the expiry, 9999-12-31 none. Refused or unreadable:
    unknown, never a failure. Google shows no last use on a key."""
    info = google.credential.info
    path = "/".join(
        quote(part, safe="@")
        for part in ("projects", info["project_id"], "serviceAccounts", info["client_email"], "keys")
    )
    try:
        resp = google.call("GET", f"{iam_url}/{path}/{quote(info['private_key_id'], safe='')}")
    except Unreachable:
        return Expiry(known=False)
    body = _json(resp)
    before = rfc3339(body.get("validBeforeTime")) if resp.status == 200 else None
    if before is None:
        return Expiry(known=False)
    return Expiry(known=True, never=before >= NEVER, expires_at=None if before >= NEVER else before)


def _json(resp: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    try:
        body = json.loads(resp.data)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(resp: urllib3.BaseHTTPResponse) -> dict[str, Any]:
    error = _json(resp).get("error")
    return error if isinstance(error, dict) else {}


def _reason(resp: urllib3.BaseHTTPResponse) -> str:
    """google.rpc.ErrorInfo's reason (SERVICE_DISABLED, ...), else the legacy errors[].reason."""
    error = _error(resp)
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and detail.get("reason"):
            return str(detail["reason"])
    legacy = [e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)]
    return "SERVICE_DISABLED" if "accessNotConfigured" in legacy else str(legacy[0] if legacy else "")
