"""The REST contract as OpenAPI states it: request and response models precise enough for a typed frontend
(`openapi-typescript` + `tsc --strict`). The routes return the domain models' REST dumps, and FastAPI checks
each answer against these models, so the schema and the wire cannot drift apart."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from .. import limits
from ..domain import Capability, CredentialKind, DataStatus, Provider, Status
from ..errors import IntegrationError
from ..results import ErrorInfo, KeylessInfo, WarningInfo

Configured = Literal[Status.VALID, Status.INVALID, Status.PENDING]
# The {provider} path segment: any registered provider, in any case (an unknown one answers UNSUPPORTED_PROVIDER)
ProviderPath = Annotated[
    str,
    Path(
        description="The provider, in any case: " + ", ".join(p.lower() for p in Provider) + ".",
        examples=[p.lower() for p in Provider],
    ),
]
Metadata = dict[str, str | int | float | bool | None]  # a flat JSON object (limits.metadata_dict)
DETAILS = (
    "`warnings` as objects, one each and in the same order: the catalog `code`, the `message`, the `fix`. "
    "Read these rather than parsing the strings."
)


class KeylessSetup(BaseModel):
    """GCP without a key file: the org's principal (GET .../gcp/keyless) is granted read access to the export."""

    model_config = ConfigDict(extra="forbid")

    export_table: str = Field(
        description="The billing export table, project.dataset.table.",
        examples=["my-billing-project.billing_export.gcp_billing_export_v1_0123AB_456789_ABCDEF"],
    )
    customer_service_account: str | None = Field(
        default=None,
        description="Mode b: the customer's reader service account, which the org's principal impersonates "
        "(Token Creator). Omit for mode a (the org's principal is granted BigQuery Data Viewer).",
        examples=["cost-reader@my-billing-project.iam.gserviceaccount.com"],
    )


class SetupRequest(BaseModel):
    """Either `credential` (an API key or a GCP key file) or `keyless` (GCP only), not both."""

    credential: SecretStr | None = Field(
        default=None,
        description="API key, or the service-account key JSON as a string (at most 16 KiB). Omit with `keyless`.",
        examples=["sk-proj-..."],
    )
    keyless: KeylessSetup | None = Field(
        default=None,
        description="GCP without a key file (recommended): nothing secret is sent or stored. The answer is PENDING "
        "with an `error` saying what to do until the grant works.",
    )
    credential_name: str | None = Field(default=None, examples=["OpenAI Production Key"])
    metadata: Metadata | None = Field(
        default=None,
        description="A flat JSON object (at most 4 KiB). GCP reads billing_export_table: project.dataset.table.",
        examples=[{"environment": "production"}],
    )
    need: Literal["cost data", "inference"] | None = Field(
        default=None,
        description='What the key must do: "cost data" refuses an inference key (and "inference" an Admin key) with '
        "WRONG_KEY_KIND before anything is sent to the provider.",
    )
    skip_validation: StrictBool = Field(
        default=False, description='Store as PENDING without asking the provider (true or false only, not "yes" or 1).'
    )

    _flat = field_validator("metadata", mode="before")(lambda v: _flat_metadata(v))

    @model_validator(mode="after")
    def _one_of(self) -> SetupRequest:
        if self.credential is None and self.keyless is None:
            raise ValueError(
                "The body gives neither credential (an API key, or a GCP key file as a string) nor keyless (GCP "
                "without a key file): give one of them"
            )
        if self.credential is not None and self.keyless is not None:
            raise ValueError("The body gives both credential and keyless: give one of them, not both")
        return self


def _flat_metadata(value: object) -> object:
    """metadata as the CLI checks it, before its type is: a flat object of strings, numbers, booleans or nulls, in the
    same words (the message names its field). Kept as given: None (keep a rotation's metadata) is not {} (clear)."""
    if value is not None:
        try:
            limits.metadata_dict(value)
        except IntegrationError as exc:
            raise ValueError(exc.message) from None
    return value


class KeyTestRequest(BaseModel):
    """A credential to check with its provider without saving it."""

    model_config = ConfigDict(extra="forbid")

    credential: SecretStr = Field(description="API key, or the service-account key JSON as a string (at most 16 KiB).")
    metadata: Metadata | None = Field(
        default=None, description="As for setup; GCP reads billing_export_table (default: the stored integration's)."
    )
    need: Literal["cost data", "inference"] | None = Field(default=None, description="As for setup.")

    _flat = field_validator("metadata", mode="before")(lambda v: _flat_metadata(v))


class KeyTestResponse(BaseModel):
    """200 whatever the provider said; nothing was stored and no status changed. `success` false with an `error`
    when the provider refused the key (`outcome` INVALID) or could not answer (INCONCLUSIVE)."""

    success: bool
    provider: Provider
    outcome: Literal["VALID", "INVALID", "INCONCLUSIVE"]
    message: str
    credential_kind: CredentialKind | None
    credential_hint: str = Field(description="The key's public prefix and last characters, never the key.")
    error: ErrorInfo | SkipJsonSchema[None] = None
    capabilities: list[Capability]
    warnings: list[str]
    warning_details: list[WarningInfo] = Field(description=DETAILS)
    data_status: DataStatus | SkipJsonSchema[None] = None
    data_through: date | SkipJsonSchema[None] = None


class ConfiguredIntegration(BaseModel):
    """A provider with an active credential. `error` appears only when the last check failed."""

    provider: Provider
    status: Configured
    credential_id: str = Field(description="The active credential's id, as its setup answered it.")
    credential_name: str | None
    credential_hint: str
    credential_kind: CredentialKind | None
    last_validated_at: datetime | None
    created_at: datetime
    error: ErrorInfo | SkipJsonSchema[None] = None
    data_status: DataStatus | None = Field(
        default=None,
        description="Is the org's cost data arriving (beside `status`, never changing it): PENDING_FIRST_DATA, "
        "FRESH, STALE or STALLED against the provider's expected lag; null when the credential reads no cost data.",
    )
    data_through: date | None = Field(default=None, description="The newest day with cost data.")
    last_success_at: datetime | None = Field(default=None, description="The last successful read of the cost source.")
    expiry: str | None = Field(
        default=None,
        description='"expires YYYY-MM-DD", "never expires" or "unknown" (the provider refused or the key was not '
        "found in its list); null when the provider was not asked. Read from OpenAI's Admin key list, Anthropic's "
        "key list as the Admin key sees it, and IAM keys.get (validBeforeTime) for a GCP key file; a keyless GCP "
        'integration has no key: "never expires".',
    )
    expires_at: datetime | None = Field(
        default=None, description='When the key expires; null when it never expires, is "unknown" or was not asked.'
    )
    last_used_at: datetime | None = Field(
        default=None,
        description="As the provider last reported it (OpenAI Admin keys); null where the provider shows no last use "
        "(Anthropic, Google).",
    )
    metadata: Metadata = Field(
        description="The tenant's metadata as given at setup (kept by a rotation unless replaced): a flat object, "
        "{} when none. GCP's billing_export_table is here.",
        examples=[{"environment": "production"}],
    )


class NotConfiguredIntegration(BaseModel):
    provider: Provider
    status: Literal[Status.NOT_CONFIGURED]


IntegrationView = Annotated[ConfiguredIntegration | NotConfiguredIntegration, Field(discriminator="status")]


if TYPE_CHECKING:

    class IntegrationsByProvider(BaseModel):
        OPENAI: IntegrationView
        ANTHROPIC: IntegrationView
        GCP: IntegrationView

else:  # one field per registered provider, in the registry's order
    IntegrationsByProvider = create_model(
        "IntegrationsByProvider", __module__=__name__, **{p.value: (IntegrationView, ...) for p in Provider}
    )


class OrgIntegrationsResponse(BaseModel):
    org_slug: str
    integrations: IntegrationsByProvider
    all_valid: bool = Field(description="True only when every provider is VALID.")
    providers_configured: list[Provider] = Field(description=f"In the order {', '.join(Provider)}.")
    warnings: list[str] = Field(
        description="Empty unless the status cache could not be read or disagrees with the recorded statuses."
    )
    warning_details: list[WarningInfo] = Field(description=DETAILS)


class SetupResponse(BaseModel):
    success: Literal[True]
    provider: Provider
    credential_id: str
    validation_status: Literal[Status.VALID, Status.PENDING]
    message: str
    credential_kind: CredentialKind
    capabilities: list[Capability]
    warnings: list[str] = Field(description="Empty unless the status cache could not be updated.")
    warning_details: list[WarningInfo] = Field(description=DETAILS)
    error: ErrorInfo | SkipJsonSchema[None] = Field(
        default=None, description="Keyless setups stored PENDING: what the customer still has to do."
    )
    keyless: KeylessInfo | SkipJsonSchema[None] = Field(
        default=None, description="Keyless setups: the org's principal and the grant commands."
    )
    data_status: DataStatus | SkipJsonSchema[None] = Field(
        default=None, description="Present when the check read the cost source (Admin keys)."
    )
    data_through: date | SkipJsonSchema[None] = None


class ValidateResponse(BaseModel):
    """200 whatever the provider said: `success` false with an `error` when rejected or inconclusive."""

    success: bool
    provider: Provider
    validation_status: Status
    message: str
    error: ErrorInfo | SkipJsonSchema[None] = None
    capabilities: list[Capability]
    warnings: list[str] = Field(description="Includes DATA_STALE / DATA_STALLED when the cost data is late.")
    warning_details: list[WarningInfo] = Field(description=DETAILS)
    data_status: DataStatus | SkipJsonSchema[None] = Field(
        default=None, description="Present when the check read the cost source (Admin keys)."
    )
    data_through: date | SkipJsonSchema[None] = None


class DeleteResponse(BaseModel):
    success: Literal[True]
    message: str
    warnings: list[str]
    warning_details: list[WarningInfo] = Field(description=DETAILS)


class ErrorResponse(BaseModel):
    success: Literal[False] = False
    error: ErrorInfo

    model_config = {"json_schema_serialization_defaults_required": True}


class Health(BaseModel):
    status: str
    store: str | None = None
    status_cache: str | None = None


class Ready(Health):
    drift: int = Field(description="Status-cache rows that disagree with the store (reconcile repairs them).")
    drift_repaired: int = Field(
        0, description="Drifted rows this probe repaired: drift that outlasts 10 s is reconciled by the next probe."
    )
    checked_s_ago: float = Field(
        0.0, description="Seconds since these parts were checked: a ready answer is reused for up to 30 s."
    )


def _retry_after(when: str) -> dict[str, Any]:
    return {"Retry-After": {"description": when, "schema": {"type": "string"}}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, each in the catalog's shape (a 429 with its Retry-After)."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        answers[status] = {"model": ErrorResponse, "description": _WHY[status]}
        if status == 429:
            answers[status]["headers"] = _retry_after(
                "When to retry: seconds (or an HTTP date) as the provider gave it (RATE_LIMITED), or until the "
                "org's attempt limit frees a slot (TOO_MANY_ATTEMPTS). Absent when the provider gave none."
            )
    return answers


def checked(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A check's answers (validate, test): its 200 carries the provider's Retry-After when the provider rate-limited
    the check, then the error answers."""
    ok = _retry_after(
        "Only when the provider answered 429 (the 200's error.code is RATE_LIMITED, the check inconclusive): the "
        "provider's own value, seconds or an HTTP date. Absent otherwise, and when the provider gave none."
    )
    return {200: {"description": "Successful Response", "headers": ok}, **errors(*statuses)}


_WHY = {
    400: "The provider rejected the credential (INVALID_CREDENTIAL).",
    401: "The org API key is missing, unknown or revoked.",
    403: "The org API key belongs to another org, or the credential lacks a permission.",
    404: "No such organization, integration or endpoint.",
    409: "The credential was deleted, replaced or checked again during this check (CHECK_SUPERSEDED); not recorded.",
    413: "The request body is over 64 KiB.",
    422: "Invalid input: slug, provider, credential format, metadata.",
    429: "Too many attempts, or the provider's rate limit (Retry-After says when to retry).",
    500: "A stored credential cannot be decrypted, or the service is misconfigured.",
    503: "The provider, the store or the status cache is unavailable; retry.",
}
