"""Keyless GCP: no key file. The platform's runtime identity (Application Default Credentials) mints a 300 s token
for the organization's own principal (a service account in the platform's project, named from the org) through
iamcredentials generateAccessToken; in mode b that token mints one for the customer's service account (Token
Creator). The reading identity then proves read access: BigQuery tables.get on the billing export (exists, location,
looks like a billing export, lastModifiedTime) and a dry-run query in the table's location. testIamPermissions is
never used as proof (Google documents that it may fail open).

What is stored is a descriptor (the org, the export table, the customer's service account, when it was set up):
nothing secret. It is sealed like any credential, under the row's associated data, so a descriptor cannot move to
another org's row; and a descriptor is accepted only from storage, never from a caller (who could otherwise name
another org's principal)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import urllib3
from google.auth import exceptions as gauth_errors
from google.auth.transport.urllib3 import Request
from pydantic import SecretStr

from ..domain import Capability, CheckItem, CheckResult, CredentialKind, DataObservation, Expiry, Provider, Status
from ..errors import Code, IntegrationError
from ..verdict import AWAITING_CUSTOMER, failed
from .base import ParsedCredential, rfc3339
from .gcp_access import QUOTA_REASONS, TABLE_RE, Unreachable, _error, _json, _reason, google_request, millis, table_data
from .scrub import scrub

KEYLESS_TYPE = "keyless_gcp"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_LIFETIME = "300s"  # noqa: S105 - a duration, not a secret; the shortest that covers a check; Google's default and maximum are 3600 s
PROPAGATION = timedelta(minutes=10)  # IAM grants usually apply in ~2 min, sometimes 7+: a denial inside is PENDING
BILLING_FIELDS = ("billing_account_id", "cost", "usage_start_time", "export_time")
SA_EMAIL_RE = re.compile(r"^([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.gserviceaccount\.com$")
EXPIRY_MARGIN = timedelta(seconds=60)  # a cached token is used only while it has a minute left
DENIALS = (Code.GCP_KEYLESS_NOT_GRANTED, Code.GCP_TOKEN_CREATOR_MISSING, Code.GCP_API_DISABLED)

# Google's texts (match on the substring), in the order they are tried: /work/shared/reference/providers.md
SIGNATURES: tuple[tuple[str, Code], ...] = (
    ("do not belong to a permitted customer", Code.GCP_DOMAIN_RESTRICTED_SHARING),
    ("iam.allowedPolicyMemberDomains", Code.GCP_DOMAIN_RESTRICTED_SHARING),
    ("iam.managed.allowedPolicyMembers", Code.GCP_DOMAIN_RESTRICTED_SHARING),
    ("Key creation is not allowed", Code.GCP_KEY_CREATION_DISABLED),
    ("Service account key creation is disabled", Code.GCP_KEY_CREATION_DISABLED),
    ("disableServiceAccountKeyCreation", Code.GCP_KEY_CREATION_DISABLED),
    ("vpcServiceControlsUniqueIdentifier", Code.GCP_VPC_SERVICE_CONTROLS),
    ("VPC Service Controls", Code.GCP_VPC_SERVICE_CONTROLS),
    ("SERVICE_DISABLED", Code.GCP_API_DISABLED),
    ("has not been used in project", Code.GCP_API_DISABLED),
    ("iam.serviceAccounts.getAccessToken", Code.GCP_TOKEN_CREATOR_MISSING),
    ("was not found in location", Code.GCP_EXPORT_WRONG_LOCATION),
)


def diagnose(text: str) -> Code | None:
    """The blocker a Google error text names (pasted by a customer, or answered to a check), if any."""
    return next((code for signature, code in SIGNATURES if signature.lower() in text.lower()), None)


def principal_id(org_slug: str) -> str:
    """The org's service-account id: `int-` and 24 hex digits of a hash of the slug (Google's rules: 6-30
    characters, lower-case letters, digits and dashes, starting with a letter). Deterministic: the same org always
    has the same principal, and no org can choose another's."""
    return "int-" + hashlib.sha256(f"integrations-org:{org_slug}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class KeylessSettings:
    """What keyless access needs from the deployment's settings."""

    project: str  # where the per-org principals live and where mode-a dry runs are billed
    iamcredentials_url: str
    iam_url: str
    customer_id: str = ""
    organization_id: str = ""
    locations: tuple[str, ...] = ("US", "EU")  # empty: any location
    create_principals: bool = False

    def principal(self, org_slug: str) -> str:
        return f"{principal_id(org_slug)}@{self.project}.iam.gserviceaccount.com"


def check_input(export_table: object, customer_sa: object) -> tuple[str, str | None]:
    """The export table (project.dataset.table) and the optional customer service account, or INVALID_INPUT."""
    if not isinstance(export_table, str) or not TABLE_RE.fullmatch(export_table.strip()):
        raise IntegrationError(
            Code.INVALID_INPUT,
            "The billing export table must be project.dataset.table, e.g. "
            "my-billing-project.billing_export.gcp_billing_export_v1_0123AB_456789_ABCDEF.",
        )
    if customer_sa in (None, ""):
        return export_table.strip(), None
    if not isinstance(customer_sa, str) or not SA_EMAIL_RE.fullmatch(customer_sa.strip()):
        raise IntegrationError(
            Code.INVALID_INPUT,
            "The customer's service account must be a service-account email: NAME@PROJECT.iam.gserviceaccount.com.",
        )
    return export_table.strip(), customer_sa.strip()


def descriptor(org_slug: str, export_table: str, customer_sa: str | None, at: datetime) -> SecretStr:
    """What a keyless integration stores (sealed like a key, though nothing in it is secret)."""
    body = {
        "type": KEYLESS_TYPE,
        "org_slug": org_slug,
        "export_table": export_table,
        "customer_service_account": customer_sa,
        "configured_at": at.astimezone(UTC).isoformat(),
    }
    return SecretStr(json.dumps(body, sort_keys=True))


def parsed_descriptor(data: dict[str, Any], text: SecretStr, keyless: KeylessSettings | None) -> ParsedCredential:
    """A stored descriptor as a ParsedCredential of kind KEYLESS (its principal derived from its org)."""
    org = data.get("org_slug")
    table, customer = check_input(data.get("export_table"), data.get("customer_service_account"))
    try:
        configured = datetime.fromisoformat(str(data.get("configured_at")))
    except ValueError:
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, "The stored keyless setup has no setup time.") from None
    if not isinstance(org, str):
        raise IntegrationError(Code.MALFORMED_CREDENTIAL, "The stored keyless setup names no organization.")
    principal = keyless.principal(org) if keyless else f"{principal_id(org)}@(platform project not set)"
    info = {
        "org_slug": org,
        "export_table": table,
        "customer_service_account": customer,
        "principal": principal,
        "configured_at": configured.isoformat(),
        "mode": "impersonation" if customer else "grant",
    }
    return ParsedCredential(
        provider=Provider.GCP,
        secret=text,
        hint=f"keyless: {customer or principal} reads {table}",
        info=info,
        kind=CredentialKind.KEYLESS,
    )


class Stop(Exception):
    """The check has its answer: a failed CheckResult."""

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.message)
        self.result = result


@dataclass
class Hop:
    """One identity of the chain: who it is and whether it lives in the platform's project."""

    email: str
    ours: bool
    token: str = ""


class KeylessChecker:
    """The keyless check over one urllib3 pool: mint (1 or 2 generateAccessToken), tables.get, a dry run."""

    def __init__(
        self, settings: KeylessSettings, bigquery_url: str, http: urllib3.PoolManager, adc: Callable[[], Any]
    ) -> None:
        self.settings, self.bigquery_url, self.http, self.adc_factory = settings, bigquery_url, http, adc
        self._runs, self._tokens = 0, dict[tuple[str, str], tuple[str, datetime]]()  # (caller, target): token, expiry
        self._tokens_lock = threading.Lock()
        self._adc: Any = None
        self._adc_lock = threading.Lock()

    @contextmanager
    def run_scope(self) -> Iterator[None]:
        """Tokens minted during a run, per (caller, target), are reused while they have a minute left: one mint per
        org per run, not per check. Outside a run nothing is cached (an interactive check mints fresh tokens)."""
        with self._tokens_lock:
            self._runs += 1
        try:
            yield
        finally:
            with self._tokens_lock:
                self._runs -= 1
                if not self._runs:
                    self._tokens.clear()

    # --- the platform's identity -------------------------------------------------------------------------------
    def runtime_token(self) -> str:
        """A token for the runtime identity (ADC), refreshed by google-auth through this pool when it expires."""
        with self._adc_lock:
            try:
                if self._adc is None:
                    self._adc = self.adc_factory()
                if not self._adc.valid:
                    self._adc.refresh(Request(self.http))
            except gauth_errors.DefaultCredentialsError:
                raise Stop(self._alarm("the runtime has no Application Default Credentials")) from None
            except gauth_errors.TransportError:
                raise Unreachable("adc") from None
            except gauth_errors.RefreshError as exc:
                why = f"the runtime identity's token could not be refreshed ({exc.args[0]!s:.200})"
                raise Stop(self._alarm(why)) from None
            return str(self._adc.token)

    def ensure_principal(self, org_slug: str) -> str:
        """Create the org's principal in the platform's project through the IAM API (409: it exists)."""
        account = principal_id(org_slug)
        url = f"{self.settings.iam_url}/projects/{quote(self.settings.project, safe='')}/serviceAccounts"
        body = {
            "accountId": account,
            "serviceAccount": {"displayName": f"integrations {org_slug}"[:100], "description": "keyless GCP reader"},
        }
        try:
            resp = self._call("POST", url, self.runtime_token(), body)
        except Stop as stop:
            raise IntegrationError(Code.GCP_PLATFORM_ACCESS_FAILED, stop.result.message) from None
        except Unreachable:
            raise IntegrationError(Code.NETWORK_ERROR, "Google's IAM API could not be reached.") from None
        if resp.status not in (200, 409):
            message = f"Creating the principal {self.settings.principal(org_slug)} failed: {_message(resp)}"
            raise IntegrationError(Code.GCP_PLATFORM_ACCESS_FAILED, message)
        return self.settings.principal(org_slug)

    # --- the check ---------------------------------------------------------------------------------------------
    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        info, checks = credential.info, list[CheckItem]()
        org, table = info["org_slug"], info["export_table"]
        principal = Hop(self.settings.principal(org), ours=True)
        customer = info.get("customer_service_account")
        try:
            try:
                principal.token = self._mint(Hop("runtime", ours=True), principal, checks)
                reader = principal
                if customer:
                    reader = Hop(customer, ours=False)
                    reader.token = self._mint(principal, reader, checks)
                location, item, partitioned, data = self._table(reader, table, checks)
                checks.append(item)
                self._dry_run(reader, table, location, partitioned, checks)
            except Stop as stop:
                return self._propagating(stop.result, info, metadata)
        except Unreachable:
            return failed(
                "NETWORK_ERROR", "Google could not be reached; access was not checked.", retryable=True, checks=checks
            )
        who = f"{customer} (impersonated by {principal.email})" if customer else principal.email
        cost = Capability(name="cost data", status="passed", detail="The platform can read the organization's costs.")
        return CheckResult(
            status=Status.VALID,
            message=f"Keyless access works: {who} can read {table}.",
            checks=checks,
            capabilities=[cost],
            data=data,
            expiry=Expiry(known=True, never=True),  # no key to expire: each token lives 300 s
        )

    def _mint(self, caller: Hop, target: Hop, checks: list[CheckItem]) -> str:
        """generateAccessToken for `target`, called with `caller`'s token (the runtime's when caller is runtime)."""
        key, now = (caller.email, target.email), datetime.now(UTC)
        name = "token for the org's principal" if target.ours else "token for the customer's service account"
        with self._tokens_lock:
            cached = self._tokens.get(key) if self._runs else None
        if cached and cached[1] - EXPIRY_MARGIN > now:
            checks.append(CheckItem(name=name, passed=True, detail=f"{target.email}: minted earlier in this run"))
            return cached[0]
        token = self.runtime_token() if caller.email == "runtime" else caller.token
        url = (
            f"{self.settings.iamcredentials_url}/projects/-/serviceAccounts/{quote(target.email, safe='@')}"
            ":generateAccessToken"
        )
        resp = self._call("POST", url, token, {"scope": [CLOUD_PLATFORM], "lifetime": TOKEN_LIFETIME})
        if resp.status == 200:
            body = _json(resp)
            minted, expires = body.get("accessToken"), rfc3339(body.get("expireTime"))
            if not isinstance(minted, str) or not minted or expires is None:
                raise Stop(_unavailable("generateAccessToken answered without accessToken/expireTime", checks))
            with self._tokens_lock:
                if self._runs:
                    self._tokens[key] = (minted, expires)
            checks.append(CheckItem(name=name, passed=True, detail=f"{target.email}, expires {expires.isoformat()}"))
            return minted
        checks.append(CheckItem(name=name, passed=False, detail=f"{target.email}: {_message(resp)}"))
        self._transient(resp, "generateAccessToken", ours=True, checks=checks)
        if _reason(resp) == "SERVICE_DISABLED" or target.ours:  # our project's API, our principal, our grant
            raise Stop(self._alarm(f"minting a token for {target.email} failed: {_message(resp)}", checks))
        raise Stop(
            failed(
                Code.GCP_TOKEN_CREATOR_MISSING,
                f"The organization's principal {caller.email} may not impersonate {target.email}: grant it "
                f"roles/iam.serviceAccountTokenCreator on that service account ({_message(resp)})",
                retryable=False,
                checks=checks,
            )
        )

    def _table(self, reader: Hop, table: str, checks: list[CheckItem]) -> tuple[str, CheckItem, bool, DataObservation]:
        project, dataset, name = table.split(".")
        path = "/".join(quote(p, safe="") for p in (project, "datasets", dataset, "tables", name))
        resp = self._call("GET", f"{self.bigquery_url}/projects/{path}", reader.token)
        label = f"billing export table {table}"
        if resp.status != 200:
            checks.append(CheckItem(name=label, passed=False, detail=_message(resp)))
            self._transient(resp, "tables.get", ours=False, checks=checks)
            self._blocked(resp, reader, checks)
            if resp.status == 404:
                raise Stop(self._not_granted(f"The billing export table {table} does not exist yet", reader, checks))
            raise Stop(self._not_granted(f"{reader.email} cannot read {table}", reader, checks))
        body = _json(resp)
        if body.get("kind") != "bigquery#table":
            raise Stop(_unavailable("tables.get answered without its documented JSON", checks))
        location = str(body.get("location") or "")
        fields = {f.get("name") for f in (body.get("schema") or {}).get("fields") or [] if isinstance(f, dict)}
        modified = millis(body.get("lastModifiedTime"))
        detail = f"{body.get('type', 'TABLE')} in {location}" + (
            f", last modified {modified.isoformat()}" if modified else ""
        )
        allowed = self.settings.locations
        if allowed and location.upper() not in allowed:
            checks.append(CheckItem(name=label, passed=False, detail=detail))
            message = (
                f"The billing export {table} is in {location}; the platform reads exports in "
                f"{', '.join(allowed)}. Export to a dataset there (US/EU also get the previous month's backfill)."
            )
            raise Stop(failed(Code.GCP_EXPORT_WRONG_LOCATION, message, retryable=False, checks=checks))
        missing = [f for f in BILLING_FIELDS if f not in fields]
        if missing:
            checks.append(CheckItem(name=label, passed=False, detail=f"{detail}; no column {', '.join(missing)}"))
            message = f"{table} does not look like a Cloud Billing export (no {', '.join(missing)})."
            raise Stop(failed(Code.GCP_EXPORT_NOT_BILLING, message, retryable=False, checks=checks))
        partitioned = bool(body.get("timePartitioning"))
        item = CheckItem(name=label, passed=True, detail=detail + ("; partitioned" if partitioned else ""))
        return location, item, partitioned, table_data(body)

    def _dry_run(self, reader: Hop, table: str, location: str, partitioned: bool, checks: list[CheckItem]) -> None:
        """A dry-run query in the table's location, billed to our project (mode a) or to the customer's service
        account's project (mode b: their account has no role in ours). Free, and it proves tables.getData."""
        where = " WHERE _PARTITIONTIME >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 3 DAY)" if partitioned else ""
        # a customer's account is NAME@PROJECT.iam.gserviceaccount.com (check_input)
        job_project = self.settings.project if reader.ours else reader.email.split("@")[1].split(".")[0]
        job = {
            "configuration": {
                "dryRun": True,
                "query": {"query": f"SELECT MAX(export_time) FROM `{table}`{where}", "useLegacySql": False},
            },
            "jobReference": {"projectId": job_project, "location": location},
        }
        resp = self._call("POST", f"{self.bigquery_url}/projects/{quote(job_project, safe='')}/jobs", reader.token, job)
        name = f"dry-run query in {location}, billed to {job_project}"
        if resp.status == 200 and _json(resp).get("kind") == "bigquery#job":
            scanned = (_json(resp).get("statistics") or {}).get("totalBytesProcessed", "0")
            checks.append(CheckItem(name=name, passed=True, detail=f"would scan {scanned} bytes; nothing was run"))
            return
        if resp.status == 200:
            raise Stop(_unavailable("jobs.insert answered without its documented JSON", checks))
        checks.append(CheckItem(name=name, passed=False, detail=_message(resp)))
        self._transient(resp, "the dry-run query", ours=reader.ours, checks=checks)
        self._blocked(resp, reader, checks)
        text = _message(resp)
        if resp.status == 404 and "location" in text:
            message = f"The query over {table} could not run in {location}: {text}"
            raise Stop(failed(Code.GCP_EXPORT_WRONG_LOCATION, message, retryable=False, checks=checks))
        if "jobs.create" in text and reader.ours:
            raise Stop(self._alarm(f"{reader.email} may not run jobs in {job_project}: {text}", checks))
        if "jobs.create" in text:
            why = f"{reader.email} may not run (dry-run) jobs in {job_project}: grant it roles/bigquery.jobUser there"
            raise Stop(self._not_granted(why, reader, checks))
        raise Stop(self._not_granted(f"{reader.email} can see {table} but not query it", reader, checks))

    # --- answers -----------------------------------------------------------------------------------------------
    def _blocked(self, resp: urllib3.BaseHTTPResponse, reader: Hop, checks: list[CheckItem]) -> None:
        text = _message(resp)
        if diagnose(text) == Code.GCP_VPC_SERVICE_CONTROLS or _reason(resp) == "SECURITY_POLICY_VIOLATED":
            message = (
                f"A VPC Service Controls perimeter around the export's project refuses {reader.email}; the customer's "
                f"admin adds an ingress rule for it ({text})"
            )
            raise Stop(failed(Code.GCP_VPC_SERVICE_CONTROLS, message, retryable=False, checks=checks))
        if _reason(resp) == "SERVICE_DISABLED":
            if reader.ours:
                raise Stop(self._alarm(f"an API is disabled in the platform's project: {text}", checks))
            message = f"An API is disabled in the project of {reader.email}: {text}"
            raise Stop(failed(Code.GCP_API_DISABLED, message, retryable=False, checks=checks))

    def _transient(self, resp: urllib3.BaseHTTPResponse, what: str, ours: bool, checks: list[CheckItem]) -> None:
        quota = resp.status == 429 or (resp.status == 403 and _reason(resp) in QUOTA_REASONS)
        if quota and ours:
            raise Stop(self._alarm(f"the platform's quota was exhausted during {what}", checks))
        if quota:
            raise Stop(
                failed("RATE_LIMITED", f"Google quota during {what}; not checked.", retryable=True, checks=checks)
            )
        if resp.status >= 500 or 300 <= resp.status < 400:
            raise Stop(_unavailable(f"Google answered HTTP {resp.status} during {what}", checks))

    def _not_granted(self, why: str, reader: Hop, checks: list[CheckItem]) -> CheckResult:
        grant = (
            f"grant {reader.email} roles/bigquery.dataViewer on the export dataset or table"
            if reader.ours
            else f"grant {reader.email} roles/bigquery.dataViewer on the export dataset and roles/bigquery.jobUser "
            "on its project"
        )
        allow = f" {self.settings.customer_id}" if self.settings.customer_id else " (INTEGRATIONS_GCP_CUSTOMER_ID)"
        message = (
            f"{why}. To do: {grant}; a new billing export can take up to 48 h to create its table. If Google "
            f"refused the grant with 'do not belong to a permitted customer', allow-list our customer ID{allow} "
            "first (GCP_DOMAIN_RESTRICTED_SHARING)."
        )
        return failed(Code.GCP_KEYLESS_NOT_GRANTED, message, retryable=False, checks=checks)

    def _alarm(self, why: str, checks: list[CheckItem] | None = None) -> CheckResult:
        message = f"Platform-side failure, not the customer's: {why}. Status unchanged; operators are alerted."
        return failed(Code.GCP_PLATFORM_ACCESS_FAILED, message, retryable=True, checks=checks)

    def _propagating(self, result: CheckResult, info: dict[str, Any], metadata: dict[str, Any] | None) -> CheckResult:
        """A denial within 10 minutes of setup is PENDING and re-checked (IAM propagation); a customer's pasted
        grant error names its blocker."""
        if result.error_code not in DENIALS:
            return result
        reported = diagnose(str((metadata or {}).get("grant_error") or ""))
        if reported in AWAITING_CUSTOMER and reported != result.error_code:
            entry_message = IntegrationError(reported).message
            result = result.model_copy(
                update={"error_code": reported.value, "message": f"{entry_message} Then: {result.message}"}
            )
        configured = datetime.fromisoformat(info["configured_at"])
        age = datetime.now(UTC) - configured
        if age < PROPAGATION:
            minutes = max(int(age.total_seconds() // 60), 0)
            return result.model_copy(
                update={
                    "retryable": True,
                    "status": Status.PENDING,
                    "message": f"{result.message} (Set up {minutes} min ago: a grant takes up to ~10 minutes to "
                    "apply; this is re-checked, not INVALID.)",
                }
            )
        return result

    def _call(
        self, method: str, url: str, token: str, payload: dict[str, Any] | None = None
    ) -> urllib3.BaseHTTPResponse:
        return google_request(self.http, method, url, token, payload)


def _unavailable(why: str, checks: list[CheckItem]) -> CheckResult:
    return failed("PROVIDER_UNAVAILABLE", f"{why}; not checked.", retryable=True, checks=checks)


def _message(resp: urllib3.BaseHTTPResponse) -> str:
    return scrub(str(_error(resp).get("message") or f"HTTP {resp.status}"), [])[:400]
