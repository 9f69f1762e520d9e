"""GCP service-account keys: strict JSON checks, a real google-auth token request, BigQuery access checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import requests
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from google.auth import crypt
from google.auth import exceptions as gauth_errors
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from pydantic import SecretStr

from ..domain import CheckItem, CheckResult, Provider, Status
from .base import ParsedCredential, Validator, failure, malformed

GOOGLE_TOKEN_URIS = ("https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token")
REQUIRED = ("type", "project_id", "private_key_id", "private_key", "client_email", "token_uri")
SCOPES = ("https://www.googleapis.com/auth/bigquery",)
SessionFactory = Callable[[], requests.Session]


def _load_json(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise malformed(
            f"The service-account key is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise malformed("The service-account key JSON is nested too deeply.") from None
    if not isinstance(data, dict):
        raise malformed("The service-account key must be a JSON object (the key file downloaded from IAM).")
    return data


def _check_fields(data: dict[str, Any], full_key_check: bool = True) -> None:
    kind = data.get("type")
    if kind != "service_account":
        raise malformed(
            f"The JSON has type {str(kind)[:40]!r}; a service-account key file has "
            '"type": "service_account" (external_account and authorized_user are not accepted).'
        )
    missing = [f for f in REQUIRED if not isinstance(data.get(f), str) or not data.get(f)]
    if missing:
        raise malformed(f"The service-account key is missing: {', '.join(missing)}.")
    if data["token_uri"] not in GOOGLE_TOKEN_URIS:
        raise malformed(
            "The key's token_uri is not Google's token endpoint (https://oauth2.googleapis.com/token);"
            " it is refused so that no request goes to an address taken from the key file."
        )
    if data.get("universe_domain", "googleapis.com") != "googleapis.com":
        raise malformed("The key's universe_domain is not googleapis.com; only Google Cloud keys are accepted.")
    if "@" not in data["client_email"]:
        raise malformed("The key's client_email is not an email address.")
    try:
        # RSA key validation costs ~27 ms of CPU: done once, when the key is set up, not on every re-check
        load_pem_private_key(
            data["private_key"].encode(), password=None, unsafe_skip_rsa_key_validation=not full_key_check
        )
    except (ValueError, TypeError):
        raise malformed("The key's private_key cannot be read as a PEM private key; download a new key file.") from None


class GcpValidator(Validator):
    provider = Provider.GCP

    def __init__(
        self, token_uri: str, bigquery_url: str, timeout: float, session: SessionFactory = requests.Session
    ) -> None:
        self.token_uri, self.bigquery_url, self.timeout, self.session = token_uri, bigquery_url, timeout, session
        self._local = threading.local()

    def _http(self) -> requests.Session:
        """One session (one connection pool) per thread, kept across checks: requests sessions are not
        thread-safe. Proxy and CA settings are read from the environment once, not on every request."""
        http: requests.Session | None = getattr(self._local, "http", None)
        if http is None:
            http = self.session()
            env = http.merge_environment_settings(self.bigquery_url, {}, None, None, None)
            http.proxies.update(env["proxies"])
            http.verify = env["verify"]
            http.trust_env = False
            self._local.http = http
        return http

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        data = _load_json(credential.get_secret_value())
        _check_fields(data, full_key_check=not stored)
        info = {
            "client_email": data["client_email"],
            "project_id": data["project_id"],
            "private_key_id": data["private_key_id"],
        }
        hint = f"{data['client_email']} (key {data['private_key_id'][:8]})"
        return ParsedCredential(
            provider=self.provider,
            secret=credential,
            hint=hint,
            info=info,
            secret_parts=(SecretStr(data["private_key"]),),
        )

    def check(self, credential: ParsedCredential) -> CheckResult:
        """Token from the endpoint in settings (never the key file's), then the BigQuery checks."""
        data = json.loads(credential.secret.get_secret_value())
        key = load_pem_private_key(data["private_key"].encode(), password=None, unsafe_skip_rsa_key_validation=True)
        signer = crypt.RSASigner(key, key_id=data["private_key_id"])  # the key was validated by parse()
        creds = service_account.Credentials(
            signer, data["client_email"], self.token_uri, scopes=SCOPES, project_id=data["project_id"]
        )
        http = self._http()
        token = self._token(creds, http, credential)
        if isinstance(token, CheckResult):
            return token
        return self._bigquery(http, token, credential)

    def _token(self, creds: Any, http: requests.Session, credential: ParsedCredential) -> str | CheckResult:
        item = CheckItem(name="token", passed=False)
        try:
            creds.refresh(Request(session=http))
        except gauth_errors.RefreshError as exc:
            text = credential.scrub(str(exc.args[0] if exc.args else exc))[:300]
            if getattr(exc, "retryable", False) or "invalid_grant" not in text and "invalid_client" not in text:
                return failure(
                    "PROVIDER_UNAVAILABLE", f"Google's token endpoint failed: {text}", retryable=True, checks=[item]
                )
            return failure(
                "INVALID_CREDENTIAL",
                f"Google refused the key (deleted, rotated or disabled): {text}",
                retryable=False,
                checks=[item],
            )
        except gauth_errors.TransportError:
            return failure(
                "NETWORK_ERROR",
                "Google's token endpoint could not be reached; the key was not checked.",
                retryable=True,
                checks=[item],
            )
        return creds.token

    def _bigquery(self, http: requests.Session, token: str, credential: ParsedCredential) -> CheckResult:
        project = credential.info["project_id"]
        base = f"{self.bigquery_url}/projects/{project}"
        headers = {"Authorization": f"Bearer {token}"}
        body: dict[str, Any] = {
            "configuration": {"dryRun": True, "query": {"query": "SELECT 1", "useLegacySql": False}}
        }
        steps = [
            ("bigquery.datasets.list", "GET", f"{base}/datasets?maxResults=1", None),
            ("bigquery.jobs.create (dry-run query)", "POST", f"{base}/jobs", body),
        ]
        checks = [CheckItem(name="token", passed=True)]
        for name, method, url, payload in steps:
            try:
                resp = http.request(method, url, headers=headers, json=payload, timeout=self.timeout)
            except requests.RequestException:
                return failure(
                    "NETWORK_ERROR",
                    "BigQuery could not be reached; the key was not fully checked.",
                    retryable=True,
                    checks=checks,
                )
            if resp.status_code == 429 or resp.status_code >= 500:
                code = "RATE_LIMITED" if resp.status_code == 429 else "PROVIDER_UNAVAILABLE"
                return failure(
                    code, f"BigQuery answered HTTP {resp.status_code} during {name}.", retryable=True, checks=checks
                )
            detail = "" if resp.ok else credential.scrub(_google_message(resp))[:300]
            checks.append(CheckItem(name=name, passed=resp.ok, detail=detail))
        missing = [c.name for c in checks if not c.passed]
        if missing:
            return failure(
                "INSUFFICIENT_PERMISSIONS",
                f"The key is valid but lacks: {', '.join(missing)} on project {project}.",
                retryable=False,
                checks=checks,
            )
        return CheckResult(
            status=Status.VALID, message=f"The service account can use BigQuery in {project}.", checks=checks
        )


def _google_message(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error", {}).get("message", f"HTTP {resp.status_code}"))
    except ValueError:
        return f"HTTP {resp.status_code}"
