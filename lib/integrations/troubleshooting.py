"""Troubleshooting: the guided walkthroughs, the manual tests and how a diagnosis reads (console and notebooks).

The diagnosis itself is a use case: `IntegrationService.diagnose` (usecases/diagnostics.py)."""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import TYPE_CHECKING

from pydantic import BaseModel

from . import provider_registry
from .domain import CredentialKind, Provider
from .errors import CATALOG
from .results import DiagnosticStep
from .service import IntegrationService

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built


class ManualTest(BaseModel):
    """How to test a credential by hand: the provider's own endpoint, the key in $KEY (never pasted inline)."""

    provider: Provider
    kind: str
    command: str


_WEEK_AGO = "$(date -u -d '7 days ago' +%Y-%m-%dT%H:%M:%SZ)"
_NOW = "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
MANUAL_TESTS = [
    ManualTest(
        provider=Provider.OPENAI,
        kind="inference key (sk-proj-, sk-svcacct-, sk-)",
        command='curl -s https://api.openai.com/v1/models -H "Authorization: Bearer $KEY"',
    ),
    ManualTest(
        provider=Provider.OPENAI,
        kind="Admin key (sk-admin-)",
        command='curl -s "https://api.openai.com/v1/organization/costs?start_time=$(( $(date +%s) - 604800 ))'
        '&end_time=$(date +%s)&limit=8" '
        '-H "Authorization: Bearer $KEY"',
    ),
    ManualTest(
        provider=Provider.ANTHROPIC,
        kind="API key (sk-ant-api03-)",
        command='curl -s https://api.anthropic.com/v1/models -H "x-api-key: $KEY" -H "anthropic-version: 2023-06-01"',
    ),
    ManualTest(
        provider=Provider.ANTHROPIC,
        kind="Admin key (sk-ant-admin01-)",
        command=f'curl -s "https://api.anthropic.com/v1/organizations/cost_report?starting_at={_WEEK_AGO}'
        f'&ending_at={_NOW}&limit=8" '
        '-H "x-api-key: $KEY" -H "anthropic-version: 2023-06-01"',
    ),
    ManualTest(
        provider=Provider.GCP,
        kind="service-account key file",
        command="gcloud auth activate-service-account --key-file=service-account.json && "
        "KEY=$(gcloud auth print-access-token) && "
        'curl -s -X POST "https://cloudresourcemanager.googleapis.com/v1/projects/PROJECT_ID:testIamPermissions" '
        '-H "Authorization: Bearer $KEY" -H "Content-Type: application/json" '
        '-d \'{"permissions": ["bigquery.datasets.get", "bigquery.tables.get", "bigquery.jobs.create"]}\'',
    ),
]


def manual_tests(provider: Provider | str) -> list[ManualTest]:
    """The curl commands that test a provider's credentials by hand (the key in $KEY)."""
    provider = Provider.parse(provider)
    return [t for t in MANUAL_TESTS if t.provider == provider]


class Walkthrough(BaseModel):
    title: str
    symptom: str
    causes: list[str]
    steps: list[str]  # the solutions, in the order to try them
    codes: list[str]
    manual_tests: list[ManualTest] = []


WALKTHROUGHS = [
    Walkthrough(
        title="Organization API key not found",
        symptom="The frontend's calls answer 401 ORG_API_KEY_MISSING / ORG_API_KEY_INVALID or 403 "
        "ORG_API_KEY_FORBIDDEN (an unknown org answers 401 too: its slug has no live key).",
        causes=[
            "The request has no X-API-Key header (the frontend did not send the org's key).",
            "The key was revoked or rotated (`integrations org key rotate`), or copied incompletely.",
            "The key belongs to another organization than the slug in the URL.",
            "The organization was never registered, or the slug in the URL is misspelled.",
        ],
        steps=[
            "Send the organization's key in the X-API-Key header on every call.",
            "Diagnose the org: 'org exists' and 'org API key issued' tell whether the org and a live key exist.",
            "Issue a new key with `integrations org key rotate SLUG` (shown once) and update the frontend's secret.",
            "Register a missing org with `integrations org create SLUG`; use the slug exactly as registered.",
        ],
        codes=["ORG_API_KEY_MISSING", "ORG_API_KEY_INVALID", "ORG_API_KEY_FORBIDDEN", "ORG_NOT_FOUND"],
    ),
    Walkthrough(
        title="Validation failed for a valid credential",
        symptom="Setup or re-validation fails (INVALID, INSUFFICIENT_PERMISSIONS, an inconclusive error) although "
        "the key works elsewhere.",
        causes=[
            "The OpenAI key lacks a permission or scope: a restricted key without models read, an Admin key "
            "without Usage read (Missing scopes: api.usage.read).",
            "The Anthropic key is of the wrong kind for the job: cost data needs an Admin key (sk-ant-admin01-), "
            "inference an API key (sk-ant-api03-).",
            "The GCP service account lacks a permission: bigquery.datasets.get / bigquery.tables.get / "
            "bigquery.jobs.create.",
            "GCP roles granted only on a dataset: they do not show at project level; name the billing export table "
            "in metadata (billing_export_table: project.dataset.table) so the table check confirms them.",
            "The key was in fact revoked, deleted or rotated at the provider (INVALID_CREDENTIAL), or the stored "
            "copy cannot be decrypted (DECRYPTION_FAILED).",
            "The provider was rate-limiting, down or unreachable: the check was inconclusive and the status kept.",
        ],
        steps=[
            "Read the checklist in the error: each permission tested is marked and the missing ones are named. "
            "A valid key with a missing permission needs a grant, not a new key.",
            "Test the key by hand with the provider's own endpoint (below), with the key in $KEY: "
            "read -rs KEY && export KEY.",
            "GCP: grant roles/bigquery.dataViewer on the billing dataset and roles/bigquery.jobUser on the project, "
            "then re-validate: the status returns to VALID.",
            "OpenAI: give the key the scopes it lacks (or use an Admin key for cost data), then re-validate.",
            "Anthropic: set up a key of the kind the job needs (an Admin key for cost data), then re-validate.",
            "If the provider rejects the key by hand too, create a new key and set it up again (rotate); the old "
            "ciphertext is erased in the same transaction.",
            "Inconclusive (NETWORK_ERROR, PROVIDER_UNAVAILABLE, RATE_LIMITED): retry after the time given "
            "(Retry-After, when the provider sends one; else about a minute); check the provider's status page.",
            "To keep a key the provider cannot check now, retry the setup with skip_validation=true (console: "
            "Skip validation; CLI: --skip-validation): it is stored as PENDING; re-validate it later.",
        ],
        codes=[
            "INSUFFICIENT_PERMISSIONS",
            "INVALID_CREDENTIAL",
            "BILLING_EXPORT_NOT_FOUND",
            "DECRYPTION_FAILED",
            "RATE_LIMITED",
            "NETWORK_ERROR",
            "PROVIDER_UNAVAILABLE",
        ],
        manual_tests=MANUAL_TESTS,
    ),
    Walkthrough(
        title="Integration status not updating in UI",
        symptom="The frontend shows an old status after a setup, validation or delete, or one the console "
        "disagrees with.",
        causes=[
            "The status cache (Supabase) could not be updated: the setup, validate or delete response carried a "
            "STATUS_SYNC_FAILED warning in `warnings`, and the history has a failed SYNC event.",
            "The organization has no row in the status cache (ORG_NOT_FOUND on sync).",
            "The check was inconclusive (NETWORK_ERROR, PROVIDER_UNAVAILABLE, RATE_LIMITED): by design the status "
            "does not change.",
            "The frontend shows a cached response and did not read the integration again.",
        ],
        steps=[
            "Read the `warnings` of the setup / validate / delete response: a non-empty list means the system of "
            "record changed but the status cache did not.",
            "Compare with Diagnose's last check (the cache against the record), or the status page's drift column.",
            "Resync status (or `integrations reconcile`) rebuilds the cache from the system of record; it is "
            "always safe.",
            "After an inconclusive check, re-validate later; TOO_MANY_ATTEMPTS means wait a minute.",
        ],
        codes=["STATUS_SYNC_FAILED", "ORG_NOT_FOUND", "NETWORK_ERROR", "TOO_MANY_ATTEMPTS"],
    ),
    Walkthrough(
        title="GCP without a key file (keyless) stays PENDING or fails",
        symptom="A keyless GCP integration stays PENDING, turns INVALID, or a customer cannot produce the key file "
        "the key-file setup asks for.",
        causes=[
            "The customer's organization forbids key files (iam.disableServiceAccountKeyCreation, default since "
            "2024-05-03): GCP_KEY_CREATION_DISABLED. Keyless access needs no key.",
            "The grant to the org's principal (or, in mode b, Token Creator on the customer's service account) is "
            "not made, or made under 10 minutes ago and still propagating: GCP_KEYLESS_NOT_GRANTED, "
            "GCP_TOKEN_CREATOR_MISSING (PENDING, re-checked).",
            "The billing export table does not exist yet (up to 48 h after enabling the export), is mistyped, or is "
            "not a billing export: GCP_KEYLESS_NOT_GRANTED, GCP_EXPORT_NOT_BILLING.",
            "The customer's organization refuses grants to other companies (domain-restricted sharing): "
            "GCP_DOMAIN_RESTRICTED_SHARING; a VPC Service Controls perimeter refuses us: GCP_VPC_SERVICE_CONTROLS.",
            "The export is in a location the platform does not read (GCP_EXPORT_WRONG_LOCATION), or an API is "
            "disabled in the customer's project (GCP_API_DISABLED).",
            "The platform's side failed (IAM Credentials API disabled in our project, the org's principal missing, "
            "our quota): GCP_PLATFORM_ACCESS_FAILED, an operator alarm; no status changes.",
            "A grant that worked was revoked: the integration turns INVALID.",
        ],
        steps=[
            "Open the console's Setup page for the org, GCP, 'Without a key file': it shows the org's principal, "
            "our customer ID and the exact gcloud / bq commands and Terraform for the grant.",
            "Make the grant (mode a: BigQuery Data Viewer on the export dataset; mode b: your reader service account "
            "with Data Viewer and Job User, and Token Creator on it for the org's principal), then 'Check access'.",
            "If Google refused the grant with 'do not belong to a permitted customer', an organization policy "
            "administrator allow-lists our customer ID first; paste Google's error into the Setup page to have it "
            "named.",
            "PENDING within 10 minutes of a grant is propagation: check again after a few minutes. A new export's "
            "table can take up to 48 hours.",
            "GCP_PLATFORM_ACCESS_FAILED is ours: operators enable iamcredentials.googleapis.com and run "
            "deploy/keyless_principals.sh; the customer has nothing to do.",
            "Test by hand as the org's principal (operators hold Token Creator on it; there is no key): "
            "bq --impersonate_service_account=PRINCIPAL show PROJECT:DATASET.TABLE, then a dry run: bq "
            "--impersonate_service_account=PRINCIPAL --project_id=OUR_PROJECT query --dry_run --location=LOCATION "
            "--use_legacy_sql=false 'SELECT MAX(export_time) FROM `PROJECT.DATASET.TABLE`'.",
        ],
        codes=[
            "GCP_KEY_CREATION_DISABLED",
            "GCP_KEYLESS_NOT_GRANTED",
            "GCP_TOKEN_CREATOR_MISSING",
            "GCP_DOMAIN_RESTRICTED_SHARING",
            "GCP_VPC_SERVICE_CONTROLS",
            "GCP_EXPORT_WRONG_LOCATION",
            "GCP_API_DISABLED",
            "GCP_EXPORT_NOT_BILLING",
            "GCP_PLATFORM_ACCESS_FAILED",
        ],
    ),
]


def explain_google_error(text: str) -> dict[str, object] | None:
    """The catalog entry a Google error text names (a customer's pasted gcloud / console error), or None."""
    code = IntegrationService.google_blocker(text)
    rows = search_catalog(code) if code else []
    return next((r for r in rows if r["code"] == code), None)


def search_catalog(query: str = "") -> list[dict[str, object]]:
    """Catalog entries whose code, title, message, causes or fixes mention `query` (case-insensitive)."""
    q = query.strip().lower()
    found = [e for e in CATALOG.values() if q in " ".join([e.code, e.title, e.message, *e.causes, *e.fixes]).lower()]
    return [asdict(e) | {"causes": list(e.causes), "fixes": list(e.fixes)} for e in found]


def diagnosis_frame(steps: list[DiagnosticStep]) -> pd.DataFrame:
    """The diagnosis as a table: one row per check with its result and fix."""
    icons = {True: "pass", False: "FAIL", None: "not run"}
    return pd.DataFrame(
        [
            {"check": s.name, "result": icons[s.passed], "detail": s.detail, "code": s.code or "", "fix": s.fix}
            for s in steps
        ]
    )


def step(steps: list[DiagnosticStep], name: str) -> pd.DataFrame:
    """One check of a diagnosis, for a walkthrough that explains them one at a time."""
    frame = diagnosis_frame(steps)
    return frame[frame.check == name].reset_index(drop=True)


def explain(steps: list[DiagnosticStep], org_slug: str, provider: Provider | str) -> str:
    """A diagnosis as plain text for people: the verdict, then for a failure its detail, causes and every fix."""
    label = Provider.parse(provider).label
    failed = next((s for s in steps if s.passed is False), None)
    passed = sum(s.passed is True for s in steps)
    if failed is None:
        return f"{org_slug} · {label}: all {passed} checks passed. Nothing to do."
    lines = [
        f"{org_slug} · {label}: {passed} of {len(steps)} checks passed; stopped at '{failed.name}'.",
        "",
        f"{failed.code}: {failed.detail}",
    ]
    entry = CATALOG.get(failed.code or "")
    if entry is not None:
        lines += ["", f"{entry.title}. Likely causes:", *(f"  - {c}" for c in entry.causes), "", "What to do:"]
        lines += [f"  {i}. {f}" for i, f in enumerate(entry.fixes, 1)]
        lines += ["", "This is temporary: retry later." if entry.retryable else "Then run the diagnosis again."]
    return "\n".join(lines)


def guide() -> str:
    """The troubleshooting walkthroughs as plain text."""
    parts = []
    for w in WALKTHROUGHS:
        causes = "\n".join(f"  - {c}" for c in w.causes)
        steps = "\n".join(f"  {i}. {s}" for i, s in enumerate(w.steps, 1))
        parts.append(
            f"{w.title}\n  When: {w.symptom}\n  Causes:\n{causes}\n  Solutions:\n{steps}\n  Codes: {', '.join(w.codes)}"
        )
    return "\n\n".join(parts)


# --- advice for the key at hand: the catalog's causes and fixes that apply to this provider and kind of key -------
_PROVIDER_WORDS = {Provider(s.name): s.aliases or (s.column,) for s in provider_registry.specs()}
_ADMIN_WORDS = ("admin key", "usage read", "api.usage.read", "cost")
_INFERENCE_WORDS = ("restricted key", "models scope", "inference")
_INCONCLUSIVE = {"RATE_LIMITED", "NETWORK_ERROR", "PROVIDER_UNAVAILABLE"}
_REVALIDATE = re.compile(r",? ?(and |then )?re-?validate( it)?\b", re.IGNORECASE)


def inconclusive(code: str) -> bool:
    """Whether a check failing with `code` said nothing about the key (the provider out of reach, busy or rate
    limited): a new key may then be stored as PENDING (skip validation) and re-validated later."""
    return code in _INCONCLUSIVE


class Advice(BaseModel):
    """What to tell an operator about one error on one key: causes and fixes that apply to it, and notes."""

    code: str
    title: str
    causes: list[str]
    fixes: list[str]
    notes: list[str] = []
    retryable: bool = False


def _applies(text: str, provider: Provider, kind: CredentialKind | None) -> bool:
    low = text.lower()
    for other, words in _PROVIDER_WORDS.items():
        if other != provider and any(w in low for w in words) and not any(w in low for w in _PROVIDER_WORDS[provider]):
            return False
    if provider == Provider.GCP:  # no Admin or inference keys: a sentence about them is another provider's
        mentions_gcp = any(w in low for w in _PROVIDER_WORDS[provider])
        return mentions_gcp or not any(w in low for w in _ADMIN_WORDS + _INFERENCE_WORDS)
    if kind is not None and kind != CredentialKind.ADMIN and any(w in low for w in _ADMIN_WORDS):
        return False
    return not (kind == CredentialKind.ADMIN and any(w in low for w in _INFERENCE_WORDS))


def advice(
    code: str,
    provider: Provider | str,
    kind: CredentialKind | str | None = None,
    *,
    stored: bool = True,
    rotation: bool = False,
) -> Advice:
    """The catalog entry for `code`, narrowed to the key at hand: only causes and fixes that apply to `provider`
    and the credential `kind` (another provider's or another kind's are left out; if none is left, all are kept).
    `stored=False` is a key that was never stored (a setup or a rotation that failed): nothing says to re-validate
    it, an inconclusive check offers storing it as PENDING (skip validation), and for a rotation a note says the
    current key is unchanged."""
    provider = Provider.parse(provider)
    kind = CredentialKind(kind) if isinstance(kind, str) else kind
    entry = CATALOG.get(code)
    if entry is None:
        return Advice(code=code, title=code, causes=[], fixes=[], notes=[])
    causes = [c for c in entry.causes if _applies(c, provider, kind)] or list(entry.causes)
    fixes = [f for f in entry.fixes if _applies(f, provider, kind)] or list(entry.fixes)
    notes: list[str] = []
    if not stored:
        fixes = [_REVALIDATE.sub(", then save it again", f) for f in fixes]
        if code in _INCONCLUSIVE:
            fixes.append(
                "The key could not be checked now: to keep it anyway, store it as PENDING (console: the 'Store it "
                "as PENDING' button beside the failed check, or tick Skip validation; CLI: --skip-validation; API: "
                "skip_validation=true) and re-validate it later."
            )
        if rotation:
            notes.append("Nothing was rotated: the current key is unchanged, still stored and still in use.")
    elif code in _INCONCLUSIVE:
        notes.append("The check was inconclusive: the stored status was kept.")
    return Advice(code=code, title=entry.title, causes=causes, fixes=fixes, notes=notes, retryable=entry.retryable)


def walkthroughs_for(provider: Provider | str) -> list[Walkthrough]:
    """The walkthroughs as they apply to `provider`: a walkthrough about another provider is left out, and in the
    others only the causes, solutions and tests by hand that apply to it are kept (all, if none is left)."""
    provider = Provider.parse(provider)
    kept = []
    for w in WALKTHROUGHS:
        if not _applies(f"{w.title} {w.symptom}", provider, None):
            continue
        causes = [c for c in w.causes if _applies(c, provider, None)] or w.causes
        steps = [s for s in w.steps if _applies(s, provider, None)] or w.steps
        tests = [t for t in w.manual_tests if t.provider == provider]
        kept.append(w.model_copy(update={"causes": causes, "steps": steps, "manual_tests": tests}))
    return kept
