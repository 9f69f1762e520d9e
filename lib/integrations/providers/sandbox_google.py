"""The sandbox's Google: a urllib3 pool playing Google's token endpoint, Cloud Resource Manager and BigQuery for
service accounts, by the markers of sandbox.py (in client_email); and IAM Credentials and BigQuery for keyless orgs,
by the markers of KEYLESS_MARKERS (in the export table's project or the customer's service account)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import urllib3

from .sandbox import AGE_RE, EXPIRES_RE, SandboxRules, marker_of


def _jwt_claims(assertion: str) -> dict[str, Any]:
    payload = assertion.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims if isinstance(claims, dict) else {}


CLOUD_PLATFORM = (
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/cloud-platform.read-only",
)
PERMISSIONS = ("bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create")
TABLE_LOCATION = "US"


def _google_error(status: int, message: str, state: str, **extra: Any) -> urllib3.HTTPResponse:
    return _response(status, {"error": {"code": status, "message": message, "status": state, **extra}})


def _access_denied(message: str) -> urllib3.HTTPResponse:
    """BigQuery's 403, with the legacy errors[] reason accessDenied."""
    errors = [{"message": message, "domain": "global", "reason": "accessDenied"}]
    return _google_error(403, message, "PERMISSION_DENIED", errors=errors)


def _error_info(reason: str, domain: str, metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": domain,
        "metadata": metadata,
    }


def _service_disabled(title: str, service: str, project: str) -> urllib3.HTTPResponse:
    """Google's 403 for an API not enabled in `project` (reason SERVICE_DISABLED)."""
    message = (
        f"{title} API has not been used in project {project} before or it is disabled. Enable it by visiting "
        f"https://console.developers.google.com/apis/api/{service}/overview?project={project} then retry."
    )
    info = _error_info("SERVICE_DISABLED", "googleapis.com", {"service": service, "consumer": f"projects/{project}"})
    return _google_error(403, message, "PERMISSION_DENIED", details=[info])


def _dry_run_done(scanned: str) -> urllib3.HTTPResponse:
    return _response(
        200, {"kind": "bigquery#job", "status": {"state": "DONE"}, "statistics": {"totalBytesProcessed": scanned}}
    )


def _table_ref(path: str) -> tuple[str, str, str]:
    return path.split("/projects/")[1].split("/")[0], path.split("/")[-3], path.split("/")[-1]


class GoogleSandboxPool(urllib3.PoolManager):
    """A urllib3 pool playing Google's token endpoint, Cloud Resource Manager and BigQuery for sandboxed service
    accounts: google-auth signs and sends a real JWT grant, and the validator's requests go through it unchanged.
    The token remembers the marker of the account and whether it carries a cloud-platform scope."""

    def __init__(self, rules: SandboxRules) -> None:
        super().__init__()
        self.rules = rules

    def urlopen(  # type: ignore[override]  # the signature of urllib3.PoolManager.urlopen
        self, method: str, url: str, redirect: bool = True, **kw: Any
    ) -> urllib3.BaseHTTPResponse:
        body, headers = kw.get("body"), kw.get("headers") or {}
        if method == "POST" and "jwt-bearer" in str(body or ""):
            return self._token(body)
        token = str(headers.get("Authorization", "")).removeprefix("Bearer ya29.sandbox.")
        marker, _, scope = token.partition(".")
        path = url.split("?")[0]
        project = path.split("/projects/")[1].split("/")[0].split(":")[0] if "/projects/" in path else "unknown"
        payload = json.loads(body) if body else {}
        if path.endswith(":generateAccessToken"):
            return keyless_token(marker, scope, path)
        if marker == "kl":  # a keyless token: scope holds the identity it was minted for
            return keyless_bigquery(scope, method, path, payload)
        if marker == "ratelimited":
            return _google_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED")
        if path.endswith(":testIamPermissions"):
            return self._test_permissions(marker, scope, project, payload)
        if "/tables/" in path and method == "GET":
            return self._table(marker, path)
        if "/serviceAccounts/" in path and "/keys/" in path and method == "GET":
            return service_account_key(path)
        if path.endswith("/jobs"):
            return self._job(marker, project, payload)
        if path.endswith("/datasets"):
            return _response(200, {"kind": "bigquery#datasetList", "datasets": []})
        return _google_error(404, f"Not found: {path}", "NOT_FOUND")

    def _token(self, body: Any) -> urllib3.BaseHTTPResponse:
        self.rules.wait()
        form = parse_qs(body.decode() if isinstance(body, bytes) else str(body or ""))
        claims = _jwt_claims(form["assertion"][0])
        marker = self.rules.marker("GCP", str(claims.get("iss", "")))
        if marker == "unreachable":
            raise urllib3.exceptions.NewConnectionError(None, "sandbox: connection refused")  # type: ignore[arg-type]
        if marker == "revoked":
            return _response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if marker == "outage":
            return _response(503, {"error": "internal_failure", "error_description": "Backend Error"})
        scope = "cp" if set(str(claims.get("scope", "")).split()) & set(CLOUD_PLATFORM) else "bq"
        token = f"ya29.sandbox.{marker or 'ok'}.{scope}"
        return _response(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _test_permissions(self, marker: str, scope: str, project: str, payload: Any) -> urllib3.BaseHTTPResponse:
        asked = payload.get("permissions") if isinstance(payload, dict) else None
        if not isinstance(asked, list) or not all(isinstance(p, str) for p in asked):
            message = "Invalid JSON payload: permissions must be a list of strings."
            return _google_error(400, message, "INVALID_ARGUMENT")
        if scope != "cp":
            return _google_error(403, "Request had insufficient authentication scopes.", "PERMISSION_DENIED")
        if marker == "crmdisabled":
            return _service_disabled("Cloud Resource Manager", "cloudresourcemanager.googleapis.com", project)
        held = {"noperms": PERMISSIONS[:2], "datasetonly": PERMISSIONS[2:]}.get(marker, PERMISSIONS)
        granted = [p for p in asked if p in held]
        return _response(200, {"permissions": granted} if granted else {})  # none granted: an empty object

    def _table(self, marker: str, path: str) -> urllib3.BaseHTTPResponse:
        project, dataset, table = _table_ref(path)
        if marker == "notable":
            return _google_error(404, f"Not found: Table {project}:{dataset}.{table}", "NOT_FOUND")
        reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        body = {"kind": "bigquery#table", "tableReference": reference, "location": TABLE_LOCATION}
        return _response(200, {**body, "type": "TABLE", "timePartitioning": {"type": "DAY"}, **table_times(project)})

    def _job(self, marker: str, project: str, payload: Any) -> urllib3.BaseHTTPResponse:
        config = payload.get("configuration", {}) if isinstance(payload, dict) else {}
        if config.get("dryRun") is not True:
            return _google_error(400, "The sandbox runs dry-run jobs only.", "INVALID_ARGUMENT")
        if marker == "noperms":
            return _access_denied(
                f"Access Denied: Project {project}: User does not have bigquery.jobs.create permission in project "
                f"{project}."
            )
        query = str(config.get("query", {}).get("query", ""))
        location = (payload.get("jobReference") or {}).get("location") or TABLE_LOCATION
        if "`" in query and location != TABLE_LOCATION:  # a query over a table runs in the table's location
            dataset = query.split("`")[1].rsplit(".", 1)[0].replace(".", ":", 1)
            return _google_error(404, f"Not found: Dataset {dataset} was not found in location {location}", "NOT_FOUND")
        return _dry_run_done("0")


# Keyless orgs, played by a marker in the export table's project (or the customer's service account):
# notgranted / restricted (the customer's grant was refused) -> 403 on tables.get, wrongloc -> a table in
# asia-northeast1, vpcsc -> a perimeter, notbilling -> not an export, apidisabled -> BigQuery off in the customer's
# project, notokencreator (in the customer's service account) -> Token Creator missing. Anything else reads.
KEYLESS_MARKERS = ("notgranted", "restricted", "wrongloc", "vpcsc", "notbilling", "apidisabled", "notokencreator")
BILLING_SCHEMA = [
    {"name": n, "type": t}
    for n, t in (
        ("billing_account_id", "STRING"),
        ("service", "RECORD"),
        ("usage_start_time", "TIMESTAMP"),
        ("cost", "FLOAT"),
        ("currency", "STRING"),
        ("export_time", "TIMESTAMP"),
    )
]
DENIED_MINT = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."


NEVER = "9999-12-31T23:59:59Z"  # Google's validBeforeTime for a key that never expires


def table_times(project: str) -> dict[str, str]:
    """tables.get's freshness fields (int64 milliseconds as strings) for an export in `project`: `nodata` is a table
    created 10 h ago holding no rows yet, `ageNh` one last written N hours ago; else 3 hours ago."""
    now = datetime.now(UTC)
    if "nodata" in project:
        created = str(int((now - timedelta(hours=10)).timestamp() * 1000))
        return {"creationTime": created, "lastModifiedTime": created, "numRows": "0", "numBytes": "0"}
    found = AGE_RE.search(project)
    modified = int((now - timedelta(hours=int(found.group(1)) if found else 3)).timestamp() * 1000)
    return {"creationTime": str(modified - 86_400_000 * 30), "lastModifiedTime": str(modified), "numRows": "120000"}


def service_account_key(path: str) -> urllib3.HTTPResponse:
    """IAM projects.serviceAccounts.keys.get for a key file's key: `expNd` in the account's email expires in N days,
    `nokeyview` is refused (the account holds BigQuery roles only), else it never expires."""
    name = path.split("/v1/", 1)[-1] if "/v1/" in path else path.lstrip("/")
    email = path.split("/serviceAccounts/")[1].split("/")[0]
    if "nokeyview" in email:
        message = "Permission 'iam.serviceAccountKeys.get' denied on resource (or it may not exist)."
        return _google_error(403, message, "PERMISSION_DENIED")
    found = EXPIRES_RE.search(email)
    now = datetime.now(UTC)
    before = (now + timedelta(days=int(found.group(1)))).strftime("%Y-%m-%dT%H:%M:%SZ") if found else NEVER
    return _response(
        200,
        {
            "name": name,
            "validAfterTime": (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "validBeforeTime": before,
            "keyAlgorithm": "KEY_ALG_RSA_2048",
            "keyOrigin": "GOOGLE_PROVIDED",
            "keyType": "USER_MANAGED",
        },
    )


def keyless_token(caller: str, identity: str, path: str) -> urllib3.HTTPResponse:
    """generateAccessToken: the runtime mints for any principal; a principal for a customer's service account unless
    that one carries notokencreator."""
    target = path.split("/serviceAccounts/")[1].removesuffix(":generateAccessToken")
    if "/projects/-/" not in path or caller not in ("runtime", "kl"):
        return _google_error(403, "The caller does not have permission", "PERMISSION_DENIED")
    if marker_of(target, KEYLESS_MARKERS) == "notokencreator":
        detail = _error_info(
            "IAM_PERMISSION_DENIED", "iam.googleapis.com", {"permission": "iam.serviceAccounts.getAccessToken"}
        )
        return _google_error(403, DENIED_MINT, "PERMISSION_DENIED", details=[detail])
    expires = (datetime.now(UTC) + timedelta(seconds=300)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _response(200, {"accessToken": f"ya29.sandbox.kl.{target}", "expireTime": expires})


def keyless_bigquery(identity: str, method: str, path: str, payload: Any) -> urllib3.HTTPResponse:
    """tables.get and dry-run jobs for keyless identities."""
    if "/tables/" in path and method == "GET":
        project, dataset, table = _table_ref(path)
        return _keyless_table(marker_of(f"{project} {identity}", KEYLESS_MARKERS), project, dataset, table)
    query = str(((payload or {}).get("configuration") or {}).get("query", {}).get("query", ""))
    if not path.endswith("/jobs") or "`" not in query:
        return _google_error(404, f"Not found: {path}", "NOT_FOUND")
    if ((payload or {}).get("configuration") or {}).get("dryRun") is not True:
        return _google_error(400, "The sandbox runs dry-run jobs only.", "INVALID_ARGUMENT")
    project, dataset, table = query.split("`")[1].split(".")
    found = _keyless_table(marker_of(f"{project} {identity}", KEYLESS_MARKERS), project, dataset, table)
    if found.status != 200:
        return found
    location = (payload.get("jobReference") or {}).get("location")
    if location != json.loads(found.data)["location"]:
        return _google_error(
            404, f"Not found: Dataset {project}:{dataset} was not found in location {location}", "NOT_FOUND"
        )
    return _dry_run_done("52428800")


def _keyless_table(marker: str | None, project: str, dataset: str, table: str) -> urllib3.HTTPResponse:
    if marker in ("notgranted", "restricted"):
        return _access_denied(
            f"Access Denied: Table {project}:{dataset}.{table}: Permission bigquery.tables.get denied on table "
            f"{project}:{dataset}.{table} (or it may not exist)."
        )
    if marker == "vpcsc":
        return _access_denied(
            "VPC Service Controls: Request is prohibited by organization's policy. "
            "vpcServiceControlsUniqueIdentifier: sandbox-2c1e6bd4a3"
        )
    if marker == "apidisabled":
        return _service_disabled("BigQuery", "bigquery.googleapis.com", project)
    schema = BILLING_SCHEMA[:2] if marker == "notbilling" else BILLING_SCHEMA
    return _response(
        200,
        {
            "kind": "bigquery#table",
            "id": f"{project}:{dataset}.{table}",
            "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
            "type": "TABLE",
            "location": "asia-northeast1" if marker == "wrongloc" else TABLE_LOCATION,
            "schema": {"fields": schema},
            "timePartitioning": {"type": "DAY"},
            **table_times(project),
        },
    )


def _response(status: int, body: dict[str, Any]) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )
