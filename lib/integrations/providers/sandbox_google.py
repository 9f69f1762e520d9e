"""The sandbox's Google: a urllib3 pool playing Google's token endpoint, Cloud Resource Manager and BigQuery for
service accounts, by the markers of sandbox.py (in client_email)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import urllib3

from .sandbox import SandboxRules


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


def _bigquery_denied(project: str, permission: str) -> urllib3.HTTPResponse:
    message = f"Access Denied: Project {project}: User does not have {permission} permission in project {project}."
    errors = [{"message": message, "domain": "global", "reason": "accessDenied"}]
    return _google_error(403, message, "PERMISSION_DENIED", errors=errors)


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
        if marker == "ratelimited":
            return _google_error(429, "Quota exceeded", "RESOURCE_EXHAUSTED")
        if path.endswith(":testIamPermissions"):
            return self._test_permissions(marker, scope, project, payload)
        if "/tables/" in path and method == "GET":
            return self._table(marker, path)
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
            return _google_error(
                403,
                f"Cloud Resource Manager API has not been used in project {project} before or it is disabled. "
                "Enable it by visiting https://console.developers.google.com/apis/api/"
                f"cloudresourcemanager.googleapis.com/overview?project={project} then retry.",
                "PERMISSION_DENIED",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "SERVICE_DISABLED",
                        "domain": "googleapis.com",
                        "metadata": {
                            "service": "cloudresourcemanager.googleapis.com",
                            "consumer": f"projects/{project}",
                        },
                    }
                ],
            )
        held = {"noperms": PERMISSIONS[:2], "datasetonly": PERMISSIONS[2:]}.get(marker, PERMISSIONS)
        granted = [p for p in asked if p in held]
        return _response(200, {"permissions": granted} if granted else {})  # none granted: an empty object

    def _table(self, marker: str, path: str) -> urllib3.BaseHTTPResponse:
        project, dataset, table = path.split("/projects/")[1].split("/")[0], path.split("/")[-3], path.split("/")[-1]
        if marker == "notable":
            return _google_error(404, f"Not found: Table {project}:{dataset}.{table}", "NOT_FOUND")
        reference = {"projectId": project, "datasetId": dataset, "tableId": table}
        return _response(200, {"kind": "bigquery#table", "tableReference": reference, "location": TABLE_LOCATION})

    def _job(self, marker: str, project: str, payload: Any) -> urllib3.BaseHTTPResponse:
        config = payload.get("configuration", {}) if isinstance(payload, dict) else {}
        if config.get("dryRun") is not True:
            return _google_error(400, "The sandbox runs dry-run jobs only.", "INVALID_ARGUMENT")
        if marker == "noperms":
            return _bigquery_denied(project, "bigquery.jobs.create")
        query = str(config.get("query", {}).get("query", ""))
        location = (payload.get("jobReference") or {}).get("location") or TABLE_LOCATION
        if "`" in query and location != TABLE_LOCATION:  # a query over a table runs in the table's location
            dataset = query.split("`")[1].rsplit(".", 1)[0].replace(".", ":", 1)
            return _google_error(404, f"Not found: Dataset {dataset} was not found in location {location}", "NOT_FOUND")
        return _response(
            200, {"kind": "bigquery#job", "status": {"state": "DONE"}, "statistics": {"totalBytesProcessed": "0"}}
        )


def _response(status: int, body: dict[str, Any]) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def sandbox_pool_factory(rules: SandboxRules) -> Callable[[], urllib3.PoolManager]:
    return lambda: GoogleSandboxPool(rules)
