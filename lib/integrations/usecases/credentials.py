"""Setting up and deleting an org's credential for a provider, and format-checking one."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from .. import keyversions, limits
from ..deps import Deps
from ..domain import (
    Action,
    CheckResult,
    CredentialKind,
    Outcome,
    Provider,
    Status,
    StoredCredential,
    check_slug,
    make_event,
    utcnow,
)
from ..errors import CATALOG, Code, IntegrationError
from ..freshness import Freshness, judge
from ..providers.base import ParsedCredential
from ..providers.kinds import Need, refuse_wrong_kind, rejected_hint
from ..results import (
    DeleteResult,
    ErrorInfo,
    Keyless,
    KeylessInfo,
    KeyTestResult,
    SetupResult,
    WarningInfo,
    sentence,
)
from ..vault import admit
from ..verdict import verdict
from .checks import guarded
from .orgs import require
from .recording import record, sync

log = logging.getLogger("integrations")
StepCallback = Callable[[str], None]
CONFIGURED, DELETED = "Integration configured successfully", "Integration deleted successfully"  # the seed's words


def check_format(deps: Deps, provider: Provider | str, credential: str | SecretStr) -> str:
    """Format-check a credential without storing or sending it; returns its hint."""
    return deps.validators[Provider.parse(provider)].parse(admit(credential)).hint


def setup(
    deps: Deps,
    org_slug: str,
    provider: Provider | str,
    credential: str | SecretStr | None,
    credential_name: str | None = None,
    metadata: dict[str, Any] | None = None,
    skip_validation: bool = False,
    actor: str = "system",
    on_step: StepCallback | None = None,
    keyless: Keyless | None = None,
    need: Need | None = None,
) -> SetupResult:
    """Format check -> live check (unless skipped) -> encrypt -> store (rotating) -> status sync.

    A rotation keeps the current credential's name and metadata unless new ones are given (`metadata={}` clears
    them). `keyless` (GCP only) sets up access without a key: nothing secret is stored, and a check that finds the
    customer's part not done yet stores the integration PENDING with what to do, instead of refusing it. `need`
    ("cost data", "inference"): a key of a kind that cannot do it is refused before any network call
    (WRONG_KEY_KIND)."""
    started, step = time.monotonic(), on_step or (lambda _name: None)
    org_slug, provider = check_slug(org_slug), Provider.parse(provider)
    if (keyless is None) == (credential is None):
        raise IntegrationError(Code.INVALID_INPUT, "Give either a credential or a keyless setup (GCP), not both.")
    if keyless is not None and provider != Provider.GCP:
        raise IntegrationError(Code.INVALID_INPUT, "Keyless setup exists for GCP only.")
    secret = admit(credential) if credential is not None else None
    meta = None if metadata is None else limits.metadata_dict(metadata)
    name = limits.credential_name(credential_name)
    require(deps, org_slug)
    if name is None or meta is None:  # a rotation keeps what it does not replace: read it only then
        before = deps.store.get_active(org_slug, provider)
        if before is not None:
            name = before.credential_name if name is None else name
            meta = before.metadata if meta is None else meta
    validator = deps.validators[provider]
    deps.limiter.hit(org_slug)  # the format check costs CPU too (an RSA key is validated): it counts
    step("format")
    try:
        if keyless is not None:
            parsed = validator.parse_keyless(org_slug, keyless.export_table, keyless.customer_service_account, utcnow())
            meta = {**(meta or {}), "billing_export_table": parsed.info["export_table"]}
        else:
            assert secret is not None
            parsed = validator.parse(secret)
            refuse_wrong_kind(provider, secret, need)
            if need:
                parsed = parsed.model_copy(update={"need": need})
        validator.check_metadata(meta or {})
    except IntegrationError as exc:  # refused before any check: still a try the audit log must show
        hint = "a keyless setup" if secret is None else rejected_hint(provider, secret)
        message = f"Not stored: {exc.message} (rejected input: {hint})"
        event = make_event(
            org_slug, provider, Action.SETUP, Outcome.REJECTED, actor, started, error_code=exc.code, message=message
        )
        record(deps, event)
        raise
    result = CheckResult(status=Status.PENDING)
    if keyless is not None and not skip_validation:
        step("principal")
        validator.ensure_principal(org_slug)
    if not skip_validation:
        step("validate")
        result = guarded(lambda: validator.check(parsed, meta), org_slug)
        if keyless is None:
            _refuse_failed(deps, org_slug, provider, result, actor, started)
        if result.kind is not None and result.kind != parsed.kind:  # the probe placed a shared prefix
            parsed = parsed.model_copy(update={"kind": result.kind})
    opened = Status.PENDING if keyless is not None else Status.NOT_CONFIGURED  # keyless: stored whatever it found
    status = Status.PENDING if skip_validation else verdict(result, opened).after
    fresh = judge(provider, result.data, utcnow()) if result.data is not None else None
    step("encrypt")
    keyversions.check_current(deps.store, deps.cipher)  # never a ciphertext under a retired or unrecorded version
    stored = sealed_record(deps, org_slug, provider, parsed, name, meta or {}, status, actor, fresh)
    if result.error_code is not None:  # a keyless setup waiting on the customer: the record says what to do
        stored.validation_error_code, stored.validation_error_message = result.error_code, result.message
    if result.expiry is not None:
        stored.expiry, stored.expires_at = result.expiry.label, result.expiry.expires_at
        stored.last_used_at = result.expiry.last_used_at
    step("store")
    event = make_event(  # status_before and a rotation's message come from the replaced row (one round trip)
        org_slug,
        provider,
        Action.SETUP,
        Outcome.SUCCESS,
        actor,
        started,
        credential_id=stored.credential_id,
        status_after=status,
        message="Configured." if result.error_code is None else f"Configured; {result.error_code}: {result.message}",
        error_code=result.error_code,
    )
    with deps.locks.hold([(org_slug, provider)]):  # the cache is synced in the order the store committed
        previous = deps.store.activate(stored, event)
        step("sync")
        warnings = sync(deps, [(org_slug, provider, status, stored.created_at)], actor)
    if previous:
        warnings += deps.store.erase_warnings()
    log.info(
        "setup org=%s provider=%s credential_id=%s status=%s", org_slug, provider.value, stored.credential_id, status
    )
    done = "rotated: the previous credential was deactivated and erased" if previous else "configured"
    return SetupResult(
        success=True,
        provider=provider,
        credential_id=stored.credential_id,
        validation_status=status,
        message=f"{CONFIGURED}. {provider.label} credential {done}; status {status.value}.",
        credential_kind=parsed.kind,
        data_status=fresh.data_status if fresh else None,
        data_through=fresh.data_through if fresh else None,
        capabilities=result.capabilities,
        checks=result.checks,
        warning_details=warnings,
        rotated_credential_id=previous.credential_id if previous else None,
        error=ErrorInfo.of(IntegrationError(Code(result.error_code), result.message, retryable=result.retryable))
        if result.error_code
        else None,
        keyless=keyless_info(deps, org_slug, parsed.info["export_table"], parsed.info["customer_service_account"])
        if keyless is not None
        else None,
    )


def check_without_saving(
    deps: Deps,
    org_slug: str,
    provider: Provider | str,
    credential: str | SecretStr,
    metadata: dict[str, Any] | None = None,
    actor: str = "system",
    need: Need | None = None,
) -> KeyTestResult:
    """Format check -> live check, as setup does, and nothing else: no ciphertext, no status change, no cache
    write. It reaches the provider, so it counts against the org's attempt limit; it leaves one TEST event in the
    history (outcome, code, the key's hint: never the key). A refused format raises its catalog error, as setup's;
    a provider's answer (valid, rejected or inconclusive) is the result."""
    started = time.monotonic()
    org_slug, provider = check_slug(org_slug), Provider.parse(provider)
    secret = admit(credential)
    meta = limits.metadata_dict(metadata or {})
    require(deps, org_slug)
    if not meta and provider == Provider.GCP:  # the stored integration's export table, as a rotation keeps it
        before = deps.store.get_active(org_slug, provider)
        meta = dict(before.metadata) if before is not None else {}
    validator = deps.validators[provider]
    deps.limiter.hit(org_slug)

    def event(outcome: Outcome, message: str, code: str | None = None) -> None:
        record(
            deps, make_event(org_slug, provider, Action.TEST, outcome, actor, started, error_code=code, message=message)
        )

    try:
        parsed = validator.parse(secret)
        refuse_wrong_kind(provider, secret, need)
        validator.check_metadata(meta)
    except IntegrationError as exc:
        event(
            Outcome.REJECTED,
            f"Tested, not stored: {exc.message} (rejected input: {rejected_hint(provider, secret)})",
            exc.code,
        )
        raise
    if need:
        parsed = parsed.model_copy(update={"need": need})
    result = guarded(lambda: validator.check(parsed, meta), org_slug)
    judged = verdict(result, Status.NOT_CONFIGURED)
    kind = result.kind or parsed.kind
    fresh = judge(provider, result.data, utcnow()) if result.data is not None else None
    if result.error_code is None:
        message = f"The {provider.label} credential works ({parsed.hint}); nothing was stored."
    elif result.retryable:
        message = f"Inconclusive: {sentence(result.message)} Nothing was stored; test again later."
    else:
        message = f"The provider refused it: {sentence(result.message)} Nothing was stored."
    event(judged.outcome, f"Tested, not stored ({parsed.hint}): {result.message or judged.label}", result.error_code)
    log.info("test org=%s provider=%s outcome=%s", org_slug, provider.value, judged.label)
    return KeyTestResult(
        success=result.error_code is None,
        provider=provider,
        outcome=judged.label,  # type: ignore[arg-type]
        message=message,
        credential_kind=kind,
        credential_hint=parsed.hint,
        error=ErrorInfo.of(IntegrationError(Code(result.error_code), result.message, retryable=result.retryable))
        if result.error_code
        else None,
        capabilities=result.capabilities,
        warning_details=[WarningInfo.of(fresh.error_code, fresh.message)] if fresh and fresh.error_code else [],
        data_status=fresh.data_status if fresh else None,
        data_through=fresh.data_through if fresh else None,
        checks=result.checks,
        rate_limit=result.rate_limit,
    )


def _refuse_failed(
    deps: Deps, org_slug: str, provider: Provider, result: CheckResult, actor: str, started: float
) -> None:
    """A credential whose live check failed is not stored: record why and raise its catalog error."""
    if result.error_code is None:
        return
    outcome = verdict(result, Status.NOT_CONFIGURED).outcome
    message = f"Not stored: {result.message}"
    event = make_event(
        org_slug, provider, Action.SETUP, outcome, actor, started, error_code=result.error_code, message=message
    )
    record(deps, event)
    details: dict[str, Any] = {"checks": [c.model_dump() for c in result.checks], "rate_limit": result.rate_limit}
    if result.retry_after:
        details["retry_after"] = result.retry_after  # the provider's value, as it said it
    code, said = Code(result.error_code), result.message
    current = deps.store.get_active(org_slug, provider)  # a failed rotation: say what still holds
    if current is not None:
        said = (
            f"{sentence(said)} Nothing was rotated: the current {provider.label} credential is unchanged (status "
            f"{current.validation_status.value})."
        )
    fix = None
    if code in UNCHECKED:  # nothing was learnt about the key: it may still be kept, unchecked
        fix = (
            f"{CATALOG[code].fixes[0]} To keep the key meanwhile, store it unchecked as PENDING (CLI: "
            "--skip-validation; API: skip_validation=true) and re-validate it later."
        )
    raise IntegrationError(code, said, retryable=result.retryable, details=details, fix=fix)


UNCHECKED = frozenset({Code.NETWORK_ERROR, Code.PROVIDER_UNAVAILABLE, Code.RATE_LIMITED})  # the provider never said


def sealed_record(
    deps: Deps,
    org_slug: str,
    provider: Provider,
    parsed: ParsedCredential,
    name: str | None,
    meta: dict[str, Any],
    status: Status,
    actor: str,
    fresh: Freshness | None = None,
) -> StoredCredential:
    """The record of a new credential, sealed by the vault; the caller checked the key versions (check_current)."""
    credential_id, at = f"cred_{secrets.token_hex(12)}", utcnow()
    sealing = deps.vault.seal(org_slug, provider, credential_id, parsed)
    return StoredCredential(
        credential_id=credential_id,
        org_slug=org_slug,
        provider=provider,
        credential_name=name,
        encrypted_credential=sealing.ciphertext,
        key_ref=sealing.key_ref,
        credential_hint=parsed.hint,
        credential_kind=parsed.kind,
        credential_fingerprint=sealing.fingerprint,
        metadata=meta,
        validation_status=status,
        last_validated_at=at if status == Status.VALID else None,
        created_at=at,
        updated_at=at,
        created_by=actor,
        updated_by=actor,
        data_status=fresh.data_status if fresh else None,
        data_through=fresh.data_through if fresh else None,
        data_newest_at=fresh.data_newest_at if fresh else None,
        last_success_at=fresh.last_success_at if fresh else None,
    )


def delete(deps: Deps, org_slug: str, provider: Provider | str, actor: str = "system") -> DeleteResult:
    """Deactivate the credential, erase its ciphertext, keep the history; status -> NOT_CONFIGURED."""
    started, provider = time.monotonic(), Provider.parse(provider)
    require(deps, org_slug)
    missing = IntegrationError(Code.NOT_CONFIGURED, f"{org_slug} has no active {provider.value} credential.")
    with deps.locks.hold([(org_slug, provider)]):
        current = deps.store.get_active(org_slug, provider)
        if current is None:
            raise missing
        event = make_event(
            org_slug,
            provider,
            Action.DELETE,
            Outcome.SUCCESS,
            actor,
            started,
            credential_id=current.credential_id,
            status_before=current.validation_status,
            status_after=Status.NOT_CONFIGURED,
            message="Deactivated; ciphertext erased.",
        )
        if deps.store.deactivate(org_slug, provider, utcnow(), actor, event) is None:
            raise missing
        warnings = sync(deps, [(org_slug, provider, Status.NOT_CONFIGURED, None)], actor)
    warnings += deps.store.erase_warnings()
    return DeleteResult(
        success=True,
        message=f"{DELETED}. {provider.label} credential of {org_slug} deactivated; its ciphertext erased.",
        warning_details=warnings,
    )


def keyless_info(deps: Deps, org_slug: str, table: str | None = None, customer_sa: str | None = None) -> KeylessInfo:
    """What the customer needs for keyless access: the org's principal, our customer and organization IDs, and the
    commands for the grant (plain text: shown in code blocks, never rendered as markdown)."""
    settings = getattr(deps.validators[Provider.GCP], "keyless_settings", None)
    if settings is None:
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            "Keyless GCP is not configured: set INTEGRATIONS_GCP_PRINCIPALS_PROJECT (or INTEGRATIONS_GCP_PROJECT).",
        )
    require(deps, check_slug(org_slug))
    principal = settings.principal(org_slug)
    customer_sa = None if customer_sa == principal else customer_sa
    return grant_commands(principal, settings.customer_id, settings.organization_id, table, customer_sa)


def grant_commands(
    principal: str, customer_id: str, organization_id: str, table: str | None, customer_sa: str | None
) -> KeylessInfo:
    """The gcloud / bq commands and the Terraform for the grant, with the org's principal filled in."""
    project, dataset, _ = (table or "PROJECT.DATASET.TABLE").split(".")
    member = f"serviceAccount:{principal}"
    lines = ["# Mode a: our principal for your organization reads the billing export dataset"]
    lines.append(f"bq add-iam-policy-binding --member={member} --role=roles/bigquery.dataViewer {project}:{dataset}")
    reader = customer_sa or "READER_SA@PROJECT.iam.gserviceaccount.com"
    lines += [
        "",
        "# Mode b (instead of a): your reader service account reads it, and our principal may impersonate it",
        f"bq add-iam-policy-binding --member=serviceAccount:{reader} --role=roles/bigquery.dataViewer "
        f"{project}:{dataset}",
        f"gcloud projects add-iam-policy-binding {reader.split('@')[-1].split('.')[0]} "
        f"--member=serviceAccount:{reader} --role=roles/bigquery.jobUser",
        f"gcloud iam service-accounts add-iam-policy-binding {reader} --member={member} "
        "--role=roles/iam.serviceAccountTokenCreator",
    ]
    if customer_id:
        lines += [
            "",
            "# Only if your organization restricts sharing (iam.allowedPolicyMemberDomains): allow our customer ID",
            f"gcloud resource-manager org-policies allow iam.allowedPolicyMemberDomains {customer_id} "
            "--organization=YOUR_ORG_ID",
        ]
    terraform = "\n".join(
        [
            'resource "google_bigquery_dataset_iam_member" "cost_platform_reader" {',
            f'  project    = "{project}"',
            f'  dataset_id = "{dataset}"',
            '  role       = "roles/bigquery.dataViewer"',
            f'  member     = "{member}"',
            "}",
        ]
    )
    return KeylessInfo(
        principal=principal,
        customer_id=customer_id or None,
        organization_id=organization_id or None,
        commands="\n".join(lines),
        terraform=terraform,
    )


def keyless_info_of(deps: Deps, org_slug: str) -> KeylessInfo:
    """keyless_info for the org's stored keyless integration, if any: read from the record's metadata and hint
    (nothing is decrypted to draw a page)."""
    record = deps.store.get_active(org_slug, Provider.GCP)
    table = customer = None
    if record is not None and record.credential_kind == CredentialKind.KEYLESS:
        table = record.metadata.get("billing_export_table")
        customer = record.credential_hint.removeprefix("keyless: ").split(" reads ")[0]  # our principal in mode a
    return keyless_info(deps, org_slug, table, customer)


def google_blocker(text: str) -> str | None:
    """The catalog code a Google error text names (a customer's pasted gcloud/console error), or None."""
    from ..providers.gcp_keyless import diagnose

    code = diagnose(text or "")
    return code.value if code else None
