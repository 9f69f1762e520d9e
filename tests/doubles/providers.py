"""Wire doubles of the provider APIs the validators call, served by tests/servers.py on loopback: OpenAI and
Anthropic (models list, cost reports, their error bodies) and Google (a token endpoint that verifies the JWT
google-auth signs, Resource Manager's testIamPermissions, BigQuery's datasets, tables and dry-run jobs). Shapes
follow /work/shared/reference and the providers' documentation."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from google.auth import jwt

from tests.servers import Reply, Seen

OPENAI_MODELS = {
    "object": "list",
    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}],
}
ANTHROPIC_MODELS = {
    "data": [
        {
            "type": "model",
            "id": "claude-sonnet-4-5",
            "display_name": "Claude Sonnet 4.5",
            "created_at": "2025-09-29T00:00:00Z",
        }
    ],
    "has_more": False,
    "first_id": "claude-sonnet-4-5",
    "last_id": "claude-sonnet-4-5",
}


def openai_error(message: str, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def anthropic_error(kind: str, message: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": message}}


OPENAI_COSTS = {
    "object": "page",
    "data": [
        {
            "object": "bucket",
            "start_time": 1730419200,
            "end_time": 1730505600,
            "results": [
                {
                    "object": "organization.costs.result",
                    "amount": {"value": 0.06, "currency": "usd"},
                    "line_item": None,
                    "project_id": None,
                }
            ],
        }
    ],
    "has_more": False,
    "next_page": None,
}
ANTHROPIC_COSTS = {
    "data": [
        {
            "starting_at": "2026-11-26T00:00:00Z",
            "ending_at": "2026-11-27T00:00:00Z",
            "results": [{"currency": "USD", "amount": "1.23", "workspace_id": None, "description": None}],
        }
    ],
    "has_more": False,
    "next_page": None,
}


def _aged_buckets(age_hours: float | None, now: float) -> list[tuple[int, int, bool]]:
    """Three daily buckets, the newest data ending `age_hours` ago (None: no data yet), then an empty bucket up to
    now (no spend since)."""
    newest = now - (age_hours or 0) * 3600
    full = [(int(newest - (i + 1) * 86_400), int(newest - i * 86_400), age_hours is not None) for i in (2, 1, 0)]
    return [*full, (int(newest), int(now), False)]


def openai_costs(age_hours: float | None, now: float | None = None) -> dict:
    """An OpenAI cost page whose newest non-empty bucket ends `age_hours` ago."""
    result = OPENAI_COSTS["data"][0]["results"][0]
    data = [
        {"object": "bucket", "start_time": s, "end_time": e, "results": [result] if full else []}
        for s, e, full in _aged_buckets(age_hours, time.time() if now is None else now)
    ]
    return {"object": "page", "data": data, "has_more": False, "next_page": None}


def anthropic_costs(age_hours: float | None, now: float | None = None) -> dict:
    """An Anthropic cost report whose newest non-empty bucket ends `age_hours` ago (RFC 3339 bounds)."""
    result = ANTHROPIC_COSTS["data"][0]["results"][0]

    def rfc(at: int) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    data = [
        {"starting_at": rfc(s), "ending_at": rfc(e), "results": [result] if full else []}
        for s, e, full in _aged_buckets(age_hours, time.time() if now is None else now)
    ]
    return {"data": data, "has_more": False, "next_page": None}


MISSING_SCOPE = (
    "You have insufficient permissions for this operation. Missing scopes: api.usage.read. Check that you have the "
    "correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a "
    "restricted API key, that it has the necessary scopes."
)


EMAIL = "exporter@proj-123.iam.gserviceaccount.com"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth signs for Google's endpoint


def public_pem(key_json: str) -> bytes:
    private = serialization.load_pem_private_key(json.loads(key_json)["private_key"].encode(), password=None)
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


ALL = ["bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create"]
CRM_PATH = "/crm/v1/projects/proj-123:testIamPermissions"
TABLE = ("billing-proj", "billing_export", "gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")


def google(
    key_json: str,
    token: Reply | None = None,
    datasets: Reply | None = None,
    jobs: Reply | None = None,
    crm: Reply | None = None,
    table: Reply | None = None,
    key: Reply | None = None,
):
    """Route: token endpoint verifying the JWT signature, Resource Manager, then BigQuery datasets, tables, jobs,
    and IAM keys.get for the key file's own key (a key that never expires unless `key` says otherwise)."""
    certs = {json.loads(key_json)["private_key_id"]: public_pem(key_json)}
    key_id = json.loads(key_json)["private_key_id"]

    def route(seen: Seen) -> Reply:
        if seen.path == "/token":
            form = parse_qs(seen.body.decode())
            assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
            claims = jwt.decode(form["assertion"][0], certs=certs, audience=GOOGLE_AUDIENCE)
            assert claims["iss"] == EMAIL and "bigquery" in claims["scope"]  # signature verified above
            assert "cloud-platform.read-only" in claims["scope"]  # what testIamPermissions needs
            return token or Reply(200, {"access_token": "ya29.local-token", "expires_in": 3599, "token_type": "Bearer"})
        assert seen.headers["authorization"] == "Bearer ya29.local-token"
        if seen.path == CRM_PATH:
            assert seen.method == "POST" and json.loads(seen.body) == {"permissions": ALL}
            return crm or Reply(200, {"permissions": ALL})
        if seen.path == "/bigquery/v2/projects/{}/datasets/{}/tables/{}".format(*TABLE):
            return table or Reply(200, {"kind": "bigquery#table", "location": "EU"})
        if seen.path.startswith("/bigquery/v2/projects/proj-123/datasets"):
            return datasets or Reply(200, {"kind": "bigquery#datasetList", "datasets": []})
        if seen.path == f"/iam/v1/projects/proj-123/serviceAccounts/{EMAIL}/keys/{key_id}" and seen.method == "GET":
            return key or iam_key(key_id, NEVER_EXPIRES)
        if seen.path == "/bigquery/v2/projects/proj-123/jobs":
            assert json.loads(seen.body)["configuration"]["dryRun"] is True
            return jobs or Reply(200, {"kind": "bigquery#job", "status": {"state": "DONE"}})
        return Reply(404, {"error": {"code": 404, "message": "not found"}})

    return route


NEVER_EXPIRES = "9999-12-31T23:59:59Z"  # Google's validBeforeTime for a key without expiry


def iam_key(key_id: str, valid_before: str) -> Reply:
    """IAM projects.serviceAccounts.keys.get (https://cloud.google.com/iam/docs/keys-list-get): no key material."""
    return Reply(
        200,
        {
            "name": f"projects/proj-123/serviceAccounts/{EMAIL}/keys/{key_id}",
            "validAfterTime": "2026-11-01T09:00:00Z",
            "validBeforeTime": valid_before,
            "keyAlgorithm": "KEY_ALG_RSA_2048",
            "keyOrigin": "GOOGLE_PROVIDED",
            "keyType": "USER_MANAGED",
        },
    )


def billing_table(modified: datetime, rows: int, created: datetime | None = None) -> Reply:
    """BigQuery tables.get of a billing export: times are int64 milliseconds sent as JSON strings, numRows too."""

    def ms(at: datetime) -> str:
        return str(int(at.timestamp() * 1000))

    return Reply(
        200,
        {
            "kind": "bigquery#table",
            "location": "EU",
            "type": "TABLE",
            "timePartitioning": {"type": "DAY"},
            "creationTime": ms(created or modified),
            "lastModifiedTime": ms(modified),
            "numRows": str(rows),
            "numBytes": str(rows * 512),
        },
    )


def denied(permission: str) -> Reply:
    msg = f"Access Denied: Project proj-123: User does not have {permission} permission in project proj-123."
    return Reply(
        403,
        {
            "error": {
                "code": 403,
                "message": msg,
                "errors": [{"message": msg, "domain": "global", "reason": "accessDenied"}],
                "status": "PERMISSION_DENIED",
            }
        },
    )


def service_disabled() -> Reply:
    message = (
        "Cloud Resource Manager API has not been used in project 123 before or it is disabled. Enable it by "
        "visiting https://console.developers.google.com/apis/api/cloudresourcemanager.googleapis.com/overview"
        "?project=123 then retry."
    )
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "SERVICE_DISABLED",
        "domain": "googleapis.com",
        "metadata": {"service": "cloudresourcemanager.googleapis.com", "consumer": "projects/123"},
    }
    return Reply(403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED", "details": [info]}})
