"""A wire double of the Google services keyless GCP uses, served over HTTP on loopback (tests/servers.py): the OAuth
token endpoint (google-auth refreshes the runtime's user credentials against it), IAM Credentials
generateAccessToken, the IAM API's serviceAccounts.create, BigQuery tables.get and jobs.insert (dry runs).

As strict as the services (shapes and texts from /work/shared/reference/providers.md, "Keyless GCP"): every call is
authorized by its bearer token and the identity it was minted for; Token Creator is checked per caller and target;
a grant applies only after the propagation delay on the double's clock; SERVICE_DISABLED with Google's ErrorInfo for
the consumer project; BigQuery reads need a Data Viewer grant on the dataset or table, jobs need Job User in the
job's project, and a query runs only in the table's location; VPC Service Controls perimeters refuse outsiders.
Every call is recorded with the identity that made it, so a test can assert who read what."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote

from google.auth import jwt

from tests.servers import Reply, Seen

CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
PLATFORM = "platform-proj"
RUNTIME = f"runtime@{PLATFORM}.iam.gserviceaccount.com"
REFRESH_TOKEN = "rt-runtime"  # noqa: S105 - the double's fake refresh token
BILLING_FIELDS = ["billing_account_id", "service", "sku", "usage_start_time", "cost", "currency", "export_time"]
SA_ID_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")


def home(identity: str) -> str:
    """The project a service account lives in (its email's domain)."""
    return identity.split("@")[-1].split(".")[0]


def error(status: int, message: str, state: str, **extra: Any) -> Reply:
    return Reply(status, {"error": {"code": status, "message": message, "status": state, **extra}})


def bigquery_error(status: int, message: str, reason: str, state: str) -> Reply:
    errors = [{"message": message, "domain": "global", "reason": reason}]
    return error(status, message, state, errors=errors)


@dataclass
class Table:
    location: str = "US"
    fields: list[str] = field(default_factory=lambda: list(BILLING_FIELDS))
    modified: datetime = field(default_factory=lambda: datetime(2026, 12, 6, 6, 0, tzinfo=UTC))
    kind: str = "TABLE"
    rows: int = 48211  # numRows; 0 with `created` = `modified`: a new export that holds no data yet
    created: datetime | None = None  # creationTime; None: 60 days before `modified`


@dataclass
class Call:
    method: str
    api: str  # token, generateAccessToken, serviceAccounts.create, tables.get, jobs.insert
    identity: str
    resource: str
    body: dict[str, Any]


@dataclass
class GoogleDouble:
    """State of the double's Google; tests change it between checks (grants, tables, policies, the clock)."""

    propagation: timedelta = timedelta(minutes=2)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # expireTime is read against real time
    accounts: set[str] = field(default_factory=set)
    token_creators: dict[str, dict[str, datetime]] = field(default_factory=dict)  # target -> member -> granted at
    project_token_creators: dict[str, set[str]] = field(default_factory=lambda: {PLATFORM: {RUNTIME}})
    readers: dict[str, dict[str, datetime]] = field(default_factory=dict)  # "p.d" or "p.d.t" -> member -> at
    job_users: dict[str, set[str]] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)  # "p.d.t"
    disabled: set[tuple[str, str]] = field(default_factory=set)  # (project, service)
    perimeters: dict[str, set[str]] = field(default_factory=dict)  # protected project -> identities let in
    exhausted: set[str] = field(default_factory=set)  # projects whose token-request quota is used up
    tokens: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    runtime_certs: dict[str, bytes] = field(default_factory=dict)  # key id -> PEM public key of the runtime's key
    numbers: dict[str, int] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    # --- set-up helpers -------------------------------------------------------------------------------------
    def advance(self, delta: timedelta) -> None:
        self.now += delta

    def grant_reader(self, member: str, resource: str, ago: timedelta = timedelta(hours=1)) -> None:
        """roles/bigquery.dataViewer on a dataset (p.d) or a table (p.d.t), granted `ago` before now."""
        self.readers.setdefault(resource, {})[member] = self.now - ago

    def revoke_reader(self, member: str, resource: str) -> None:
        self.readers.get(resource, {}).pop(member, None)

    def grant_token_creator(self, member: str, target: str, ago: timedelta = timedelta(hours=1)) -> None:
        self.token_creators.setdefault(target, {})[member] = self.now - ago

    def number(self, project: str) -> int:
        return self.numbers.setdefault(project, 100000000000 + len(self.numbers) + 1)

    def by(self, api: str) -> list[Call]:
        return [c for c in self.calls if c.api == api]

    # --- the wire ---------------------------------------------------------------------------------------------
    def route(self, seen: Seen) -> Reply:
        path = unquote(seen.path.split("?")[0])
        if path == "/token":
            return self._refresh(seen)
        identity = self._identity(seen)
        if identity is None:
            return error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        body = json.loads(seen.body) if seen.body else {}
        if path.startswith("/iamcredentials/v1/") and path.endswith(":generateAccessToken"):
            return self._generate(identity, path, body)
        if path.startswith("/iam/v1/projects/") and path.endswith("/serviceAccounts") and seen.method == "POST":
            return self._create_account(identity, path, body)
        found = re.fullmatch(r"/bigquery/v2/projects/([^/]+)/datasets/([^/]+)/tables/([^/]+)", path)
        if found and seen.method == "GET":
            return self._table(identity, *found.groups())
        found = re.fullmatch(r"/bigquery/v2/projects/([^/]+)/jobs", path)
        if found and seen.method == "POST":
            return self._job(identity, found.group(1), body)
        return error(404, f"The double does not serve {seen.method} {path}", "NOT_FOUND")

    def _refresh(self, seen: Seen) -> Reply:
        """The runtime's ADC: user credentials (a refresh token) or the runtime's own key file (a JWT grant whose
        signature is verified with its public key, in `runtime_certs`)."""
        form = parse_qs(seen.body.decode())
        self.calls.append(Call("POST", "token", RUNTIME, "oauth2", {}))
        if form.get("grant_type") == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            claims = jwt.decode(form["assertion"][0], certs=self.runtime_certs)  # raises on a bad signature
            if claims.get("iss") != RUNTIME:
                return Reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        elif form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [REFRESH_TOKEN]:
            return Reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        token = self._mint(RUNTIME, timedelta(seconds=3599))
        return Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": CLOUD_PLATFORM})

    def _identity(self, seen: Seen) -> str | None:
        token = seen.headers.get("authorization", "").removeprefix("Bearer ")
        found = self.tokens.get(token)
        return found[0] if found and found[1] > self.now else None

    def _mint(self, identity: str, lifetime: timedelta) -> str:
        token = f"ya29.double-{next(self._ids)}"
        self.tokens[token] = (identity, self.now + lifetime)
        return token

    def _applied(self, granted: datetime | None) -> bool:
        return granted is not None and granted + self.propagation <= self.now

    def _service_disabled(self, project: str, service: str, title: str) -> Reply | None:
        if (project, service) not in self.disabled:
            return None
        n = self.number(project)
        message = (
            f"{title} has not been used in project {n} before or it is disabled. Enable it by visiting "
            f"https://console.developers.google.com/apis/api/{service}/overview?project={n} then retry. If you "
            "enabled this API recently, wait a few minutes for the action to propagate to our systems and retry."
        )
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "SERVICE_DISABLED",
                "domain": "googleapis.com",
                "metadata": {"service": service, "consumer": f"projects/{n}"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Google developers console API activation",
                        "url": f"https://console.developers.google.com/apis/api/{service}/overview?project={n}",
                    }
                ],
            },
        ]
        return error(403, message, "PERMISSION_DENIED", details=details)

    def _generate(self, caller: str, path: str, body: dict[str, Any]) -> Reply:
        found = re.fullmatch(r"/iamcredentials/v1/projects/([^/]+)/serviceAccounts/([^/:]+):generateAccessToken", path)
        if not found or found.group(1) != "-":
            return error(400, "The project in the resource name must be '-'.", "INVALID_ARGUMENT")
        target = found.group(2)
        self.calls.append(Call("POST", "generateAccessToken", caller, target, body))
        lifetime = str(body.get("lifetime", "3600s"))
        if not re.fullmatch(r"\d+s", lifetime) or not 0 < int(lifetime[:-1]) <= 3600:
            return error(400, "The lifetime must be between 1s and 3600s.", "INVALID_ARGUMENT")
        if CLOUD_PLATFORM not in (body.get("scope") or []):
            return error(400, "Scope required.", "INVALID_ARGUMENT")
        consumer = home(caller)
        disabled = self._service_disabled(
            consumer, "iamcredentials.googleapis.com", "IAM Service Account Credentials API"
        )
        if disabled:
            return disabled
        if consumer in self.exhausted:
            return error(429, "Quota exceeded for quota metric 'Generate access token requests'.", "RESOURCE_EXHAUSTED")
        allowed = caller in self.project_token_creators.get(home(target), set()) or self._applied(
            self.token_creators.get(target, {}).get(caller)
        )
        if target not in self.accounts or not allowed:  # a missing account and a missing grant look the same
            detail = {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com",
                "metadata": {"permission": "iam.serviceAccounts.getAccessToken"},
            }
            message = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
            return error(403, message, "PERMISSION_DENIED", details=[detail])
        seconds = int(lifetime[:-1])
        token = self._mint(target, timedelta(seconds=seconds))
        expires = (self.now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Reply(200, {"accessToken": token, "expireTime": expires})

    def _create_account(self, caller: str, path: str, body: dict[str, Any]) -> Reply:
        project = path.split("/")[4]
        account = str(body.get("accountId", ""))
        self.calls.append(Call("POST", "serviceAccounts.create", caller, f"{project}/{account}", body))
        if caller != RUNTIME:
            return error(
                403,
                f"Permission 'iam.serviceAccounts.create' denied on resource project {project}.",
                "PERMISSION_DENIED",
            )
        if not 6 <= len(account) <= 30 or not SA_ID_RE.fullmatch(account):
            return error(
                400, "Invalid accountId: it must be 6-30 lower-case letters, digits or dashes.", "INVALID_ARGUMENT"
            )
        email = f"{account}@{project}.iam.gserviceaccount.com"
        if email in self.accounts:
            return error(
                409, f"Service account {account} already exists within project projects/{project}.", "ALREADY_EXISTS"
            )
        self.accounts.add(email)
        return Reply(
            200,
            {
                "name": f"projects/{project}/serviceAccounts/{email}",
                "projectId": project,
                "email": email,
                "uniqueId": str(self.number(email)),
            },
        )

    def _can_read(self, identity: str, table: str) -> bool:
        dataset = table.rsplit(".", 1)[0]
        return any(self._applied(self.readers.get(r, {}).get(identity)) for r in (table, dataset))

    def _perimeter(self, identity: str, project: str) -> Reply | None:
        if project in self.perimeters and identity not in self.perimeters[project]:
            message = (
                "VPC Service Controls: Request is prohibited by organization's policy. "
                "vpcServiceControlsUniqueIdentifier: 6kVmJuTDVm0C8YqSHkd3qzPOrpTGgWL4H7rMCeKvTXRbA1wEmNVVTA"
            )
            return bigquery_error(403, message, "accessDenied", "PERMISSION_DENIED")
        return None

    def _table(self, identity: str, project: str, dataset: str, name: str) -> Reply:
        full = f"{project}.{dataset}.{name}"
        self.calls.append(Call("GET", "tables.get", identity, full, {}))
        disabled = self._service_disabled(home(identity), "bigquery.googleapis.com", "BigQuery API")
        if disabled:
            return disabled
        blocked = self._perimeter(identity, project)
        if blocked:
            return blocked
        ref = f"{project}:{dataset}.{name}"
        if not self._can_read(identity, full):
            message = (
                f"Access Denied: Table {ref}: Permission bigquery.tables.get denied on table {ref} (or it may not "
                "exist)."
            )
            return bigquery_error(403, message, "accessDenied", "PERMISSION_DENIED")
        table = self.tables.get(full)
        if table is None:
            return bigquery_error(404, f"Not found: Table {ref}", "notFound", "NOT_FOUND")
        millis = str(int(table.modified.timestamp() * 1000))
        created = table.created or table.modified - timedelta(days=60)
        return Reply(
            200,
            {
                "kind": "bigquery#table",
                "id": ref,
                "tableReference": {"projectId": project, "datasetId": dataset, "tableId": name},
                "type": table.kind,
                "location": table.location,
                "schema": {"fields": [{"name": f, "type": "STRING"} for f in table.fields]},
                "timePartitioning": {"type": "DAY"},
                "lastModifiedTime": millis,
                "creationTime": str(int(created.timestamp() * 1000)),
                "numRows": str(table.rows),  # int64 as a JSON string, like the times
                "numBytes": str(table.rows * 512),
            },
        )

    def _job(self, identity: str, project: str, body: dict[str, Any]) -> Reply:
        config = body.get("configuration") or {}
        query = str((config.get("query") or {}).get("query", ""))
        referenced = query.split("`")[1] if query.count("`") >= 2 else ""
        self.calls.append(Call("POST", "jobs.insert", identity, referenced, body))
        if config.get("dryRun") is not True:
            return error(400, "The double runs dry-run jobs only.", "INVALID_ARGUMENT")
        reference = body.get("jobReference") or {}
        if reference.get("projectId") not in (None, project):
            return error(400, "jobReference.projectId does not match the project in the URL.", "INVALID_ARGUMENT")
        disabled = self._service_disabled(project, "bigquery.googleapis.com", "BigQuery API")
        if disabled:
            return disabled
        if project in self.exhausted:
            return bigquery_error(
                403,
                "Quota exceeded: Your project exceeded quota for free query bytes scanned.",
                "quotaExceeded",
                "PERMISSION_DENIED",
            )
        if identity not in self.job_users.get(project, set()):
            message = (
                f"Access Denied: Project {project}: User does not have bigquery.jobs.create permission in project "
                f"{project}."
            )
            return bigquery_error(403, message, "accessDenied", "PERMISSION_DENIED")
        location = str(reference.get("location") or "US")
        table_project, dataset, name = (referenced.split(".") + ["", "", ""])[:3]
        blocked = self._perimeter(identity, table_project)
        if blocked:
            return blocked
        ref = f"{table_project}:{dataset}.{name}"
        table = self.tables.get(referenced)
        if not self._can_read(identity, referenced):
            message = (
                f"Access Denied: Table {ref}: User does not have permission to query table {ref}, or perhaps it does "
                f"not exist in location {location}."
            )
            return bigquery_error(403, message, "accessDenied", "PERMISSION_DENIED")
        if table is None or table.location != location:
            message = f"Not found: Dataset {table_project}:{dataset} was not found in location {location}"
            return bigquery_error(404, message, "notFound", "NOT_FOUND")
        return Reply(
            200,
            {
                "kind": "bigquery#job",
                "configuration": config,
                "jobReference": {"projectId": project, "location": location},
                "status": {"state": "DONE"},
                "statistics": {"totalBytesProcessed": "1048576", "query": {"totalBytesProcessed": "1048576"}},
            },
        )


def live_settings(url: str) -> dict[str, Any]:
    """Settings for live validation against the double served at `url` (the runtime's ADC comes from
    GOOGLE_APPLICATION_CREDENTIALS, or is injected)."""
    return {
        "validation": "live",
        "allow_http_endpoints": True,
        "google_token_uri": f"{url}/token",
        "bigquery_api_url": f"{url}/bigquery/v2",
        "iamcredentials_api_url": f"{url}/iamcredentials/v1",
        "iam_api_url": f"{url}/iam/v1",
        "gcp_principals_project": PLATFORM,
        "gcp_customer_id": "C0test123",
    }
