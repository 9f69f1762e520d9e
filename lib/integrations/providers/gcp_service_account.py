"""GCP service-account keys: strict JSON checks, a real google-auth token request, BigQuery access checks."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import certifi
import urllib3
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_private_key, load_pem_private_key
from google.auth import crypt
from google.auth import exceptions as gauth_errors
from google.auth.transport.urllib3 import Request
from google.oauth2 import _client as oauth2_client
from google.oauth2 import service_account
from pydantic import SecretStr

from ..domain import CheckItem, CheckResult, CredentialKind, Provider
from ..errors import IntegrationError
from ..verdict import failed
from .base import ParsedCredential, Validator, malformed
from .gcp_access import GoogleCalls, billing_table, check_access, key_expiry
from .gcp_keyless import (
    KEYLESS_TYPE,
    KeylessChecker,
    KeylessSettings,
    check_input,
    descriptor,
    diagnose,
    parsed_descriptor,
)
from .kinds import refuse_wrong_kind
from .rsa_key import check_rsa_pem

GOOGLE_TOKEN_URIS = ("https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token")
REQUIRED = ("type", "project_id", "private_key_id", "private_key", "client_email")  # token_uri: Google's if absent
# SHA-256 digests of the DER of private keys that passed the full RSA validation in this process (a digest, never
# the key): the same key file set up again (a retry, the demo fleet's thousands of orgs) is not validated again
_VALIDATED: dict[bytes, None] = {}
_VALIDATED_MAX = 4096
_VALIDATED_LOCK = threading.Lock()
RESOURCE_MANAGER_URL = "https://cloudresourcemanager.googleapis.com/v1"
# bigquery for the probes and the billing table; cloud-platform.read-only for projects.testIamPermissions
SCOPES = ("https://www.googleapis.com/auth/bigquery", "https://www.googleapis.com/auth/cloud-platform.read-only")
# Google's project id format (6-30 characters), optionally domain-scoped (example.com:my-project)
PROJECT_ID_RE = re.compile(r"^(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$")
PoolFactory = Callable[[], urllib3.PoolManager]


def google_pool(url: str, timeout: float) -> urllib3.PoolManager:
    """One thread-safe connection pool for Google's endpoints: certifi's CAs, the environment's HTTPS proxy (read
    once), the timeout on every request, and no retries or redirects (one answer per request, as the SDKs do)."""
    options: dict[str, Any] = {
        "cert_reqs": "CERT_REQUIRED",
        "ca_certs": certifi.where(),
        "timeout": urllib3.Timeout(total=timeout),
        "retries": False,
    }
    proxy = urllib.request.getproxies().get("https")
    if proxy and not urllib.request.proxy_bypass(urlsplit(url).hostname or ""):
        return urllib3.ProxyManager(proxy, **options)
    return urllib3.PoolManager(**options)


def _load_json(text: str) -> dict[str, Any]:
    blocker = diagnose(text) if not text.lstrip().startswith("{") else None
    if blocker is not None:  # a customer pasted Google's refusal instead of a key: name it, point to keyless
        raise IntegrationError(
            blocker,
            f"This is Google's error, not a key: {IntegrationError(blocker).message} Set up keyless access instead "
            "(the billing export table only; no key file).",
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise malformed(
            f"The service-account key is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    except RecursionError:
        raise malformed("The service-account key JSON is nested too deeply.") from None
    except ValueError:  # e.g. an integer over Python's 4,300-digit conversion limit
        raise malformed("The service-account key JSON holds a number too large to read.") from None
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
    for field in ("project_id", "private_key_id", "private_key", "client_email"):
        if not _clean_text(data[field], one_line=field != "private_key"):
            raise malformed(f"The key's {field} holds control characters or invalid Unicode.")
    if data.get("token_uri", GOOGLE_TOKEN_URIS[0]) not in GOOGLE_TOKEN_URIS:
        raise malformed(
            "The key's token_uri is not Google's token endpoint (https://oauth2.googleapis.com/token);"
            " it is refused so that no request goes to an address taken from the key file."
        )
    if data.get("universe_domain", "googleapis.com") != "googleapis.com":
        raise malformed("The key's universe_domain is not googleapis.com; only Google Cloud keys are accepted.")
    if "@" not in data["client_email"]:
        raise malformed("The key's client_email is not an email address.")
    if not PROJECT_ID_RE.fullmatch(data["project_id"]):
        raise malformed("The key's project_id is not a Google Cloud project id (6-30 lower-case letters, digits, -).")
    der = check_rsa_pem(data["private_key"])  # every number of the key bounded from the DER, before the load
    digest = hashlib.sha256(der).digest()
    full = full_key_check and digest not in _VALIDATED
    try:
        # RSA key validation costs ~27 ms of CPU: done once per key, when it is set up, not on every re-check. The
        # loader reads the very DER bytes that were bounded, not its own reading of the PEM text
        key = load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=not full)
    except (ValueError, TypeError):
        raise malformed("The key's private_key cannot be read as a PEM private key; download a new key file.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise malformed("The key's private_key is not an RSA key; download a new key file.")
    if full:
        with _VALIDATED_LOCK:
            if len(_VALIDATED) >= _VALIDATED_MAX:
                _VALIDATED.pop(next(iter(_VALIDATED)))
            _VALIDATED[digest] = None


def _clean_text(text: str, one_line: bool) -> bool:
    """Shown, stored and sent back: valid Unicode (no lone surrogate), and no control characters on one line."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return text.isprintable() or not one_line


class GcpValidator(Validator):
    provider = Provider.GCP

    def __init__(
        self,
        token_uri: str,
        bigquery_url: str,
        timeout: float,
        pool: PoolFactory | None = None,
        resource_manager_url: str = RESOURCE_MANAGER_URL,
        keyless: KeylessSettings | None = None,
        adc: Callable[[], Any] | None = None,
        iam_url: str | None = None,
    ) -> None:
        self.token_uri, self.bigquery_url = token_uri, bigquery_url
        self.iam_url = iam_url  # where a key file's expiry is read (keys.get); None: not read
        self.resource_manager_url = resource_manager_url  # from settings, never from the key file
        # one pool for every check (urllib3 pools are thread-safe): connections to Google are kept alive
        self.http = pool() if pool else google_pool(bigquery_url, timeout)
        self.keyless_settings = keyless
        self.keyless = KeylessChecker(keyless, bigquery_url, self.http, adc or _default_adc) if keyless else None

    def run_scope(self) -> Any:
        """A run reuses each org's keyless token until it nearly expires (one mint per org per run)."""
        return self.keyless.run_scope() if self.keyless else super().run_scope()

    def parse_keyless(self, org_slug: str, export_table: str, customer_sa: str | None, at: Any) -> ParsedCredential:
        """A new keyless setup for `org_slug` (the caller's org, never one named in the input)."""
        text = descriptor(org_slug, *check_input(export_table, customer_sa), at)
        return parsed_descriptor(json.loads(text.get_secret_value()), text, self.keyless_settings)

    def ensure_principal(self, org_slug: str) -> str | None:
        """Create the org's principal when the deployment says so (INTEGRATIONS_GCP_CREATE_PRINCIPALS)."""
        if self.keyless is None or not self.keyless.settings.create_principals:
            return None
        return self.keyless.ensure_principal(org_slug)

    def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
        refuse_wrong_kind(self.provider, credential.get_secret_value())  # a Google API key (AIza...): no JSON
        data = _load_json(credential.get_secret_value())
        if data.get("type") == KEYLESS_TYPE:
            if not stored:  # only the platform writes descriptors: a caller could name another org's principal
                raise malformed(
                    "A keyless setup is not sent as a credential: send keyless.export_table (and "
                    "keyless.customer_service_account) instead; the organization's principal comes from the org."
                )
            return parsed_descriptor(data, credential, self.keyless_settings)
        _check_fields(data, full_key_check=not stored)
        info = {field: data[field] for field in ("client_email", "project_id", "private_key_id")}
        hint = f"{data['client_email']} (key {data['private_key_id'][:8]})"
        return ParsedCredential(
            provider=self.provider,
            secret=credential,
            hint=hint,
            info=info,
            secret_parts=(SecretStr(data["private_key"]),),
            kind=CredentialKind.SERVICE_ACCOUNT,
        )

    def check_metadata(self, metadata: dict[str, Any]) -> None:
        billing_table(metadata)

    def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
        """Token from the endpoint in settings (never the key file's), then the permissions and billing table."""
        if credential.kind == CredentialKind.KEYLESS:
            if self.keyless is None:
                return failed(
                    "GCP_PLATFORM_ACCESS_FAILED",
                    "Keyless GCP is not configured: set INTEGRATIONS_GCP_PRINCIPALS_PROJECT (or _GCP_PROJECT).",
                    retryable=True,
                )
            return self.keyless.check(credential, metadata)
        info, (pem,) = credential.info, credential.secret_parts  # what parse() read from the key file
        key = load_pem_private_key(pem.get_secret_value().encode(), password=None, unsafe_skip_rsa_key_validation=True)
        signer = crypt.RSASigner(key, key_id=info["private_key_id"])  # the key was validated by parse()
        creds = service_account.Credentials(
            signer, info["client_email"], self.token_uri, scopes=SCOPES, project_id=info["project_id"]
        )
        token = self._token(creds, credential)
        if isinstance(token, CheckResult):
            return token
        google = GoogleCalls(self.http, token, credential)
        checks = [CheckItem(name="token", passed=True)]
        result = check_access(google, self.bigquery_url, self.resource_manager_url, checks, billing_table(metadata))
        if self.iam_url is None or result.retryable:  # an inconclusive check reads nothing more
            return result
        return result.model_copy(update={"expiry": key_expiry(google, self.iam_url)})

    def _token(self, creds: Any, credential: ParsedCredential) -> str | CheckResult:
        item = CheckItem(name="token", passed=False)
        try:
            # one request: creds.refresh() would retry a 5xx/429 twice more with back-off (3 requests, ~3 s per
            # check) inside google-auth; an outage is this check's PROVIDER_UNAVAILABLE and the caller decides
            assertion = creds._make_authorization_grant_assertion()
            token, _, _ = oauth2_client.jwt_grant(Request(self.http), self.token_uri, assertion, can_retry=False)
        except gauth_errors.RefreshError as exc:
            text = credential.scrub(str(exc.args[0] if exc.args else exc))[:300]
            if getattr(exc, "retryable", False) or "invalid_grant" not in text and "invalid_client" not in text:
                return failed(
                    "PROVIDER_UNAVAILABLE", f"Google's token endpoint failed: {text}", retryable=True, checks=[item]
                )
            return failed(
                "INVALID_CREDENTIAL",
                f"Google refused the key (deleted, rotated or disabled): {text}",
                retryable=False,
                checks=[item],
            )
        except gauth_errors.TransportError:
            return failed(
                "NETWORK_ERROR",
                "Google's token endpoint could not be reached; the key was not checked.",
                retryable=True,
                checks=[item],
            )
        return str(token)


def _default_adc() -> Any:
    """The runtime's Application Default Credentials (read at the first keyless check, not at start)."""
    import google.auth

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    return credentials
