"""What callers get back: integrations as shown (never a secret), the results of setup, validate and delete, and
the steps of a diagnosis."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, Field, computed_field, model_serializer

from .domain import Capability, CheckItem, CredentialKind, DataStatus, Provider, Status
from .errors import Code, IntegrationError, entry


def sentence(text: str) -> str:
    """A provider's message as a sentence (`invalid x-api-key` -> `invalid x-api-key.`), before we add ours."""
    text = text.strip()
    return text if not text or text[-1] in ".!?:;)" else f"{text}."


class ErrorInfo(BaseModel):
    code: str
    message: str
    retryable: bool
    hint: str

    @classmethod
    def of(cls, error: IntegrationError) -> ErrorInfo:
        return cls(**error.to_json())


class WarningInfo(BaseModel):
    """A warning as an object, made where it happens: a catalog code, what happened, what to do. A result's
    `warnings` strings are derived from these (`str()`), never the other way round."""

    code: Code = Field(description="A code of the error catalog (see the troubleshooting guide).")
    message: str = Field(description="What happened, in words.")
    fix: str = Field(description="What to do about it (the catalog's first fix unless the warning names its own).")

    @classmethod
    def of(cls, code: Code | str, message: str, fix: str | None = None) -> WarningInfo:
        return cls(code=Code(code), message=message, fix=entry(code).fixes[0] if fix is None else fix)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class _Warned(BaseModel):
    """A result with warnings: `warning_details` are the objects, `warnings` their lines (the seed's field)."""

    if TYPE_CHECKING:  # each result declares it where its answer shows it
        warning_details: list[WarningInfo]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warnings(self) -> list[str]:
        return [str(w) for w in self.warning_details]


class Integration(BaseModel):
    """What callers see of one integration: never a secret. Dumps to the REST shape."""

    provider: Provider
    status: Status
    credential_name: str | None = None
    credential_hint: str | None = None
    last_validated_at: datetime | None = None
    created_at: datetime | None = None
    credential_kind: CredentialKind | None = None
    error: ErrorInfo | None = None
    # is the org's cost data arriving (beside the credential's status; None: the credential reads no cost data)
    data_status: DataStatus | None = None
    data_through: date | None = None  # the newest day with data
    last_success_at: datetime | None = None  # the last successful read of the cost source
    expiry: str | None = None  # "expires YYYY-MM-DD", "never expires", "unknown"; None: the provider was not asked
    expires_at: datetime | None = None
    last_used_at: datetime | None = None  # as the provider last reported it
    credential_id: str | None = None  # the active credential's id (as setup answered it)
    metadata: dict[str, Any] = Field(default_factory=dict)  # the tenant's flat metadata, as data
    key_ref: str | None = Field(default=None, exclude=True)

    @model_serializer(mode="wrap")
    def _rest_shape(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if self.credential_id is None and self.status == Status.NOT_CONFIGURED:
            return {"provider": data["provider"], "status": data["status"]}
        if data.get("error") is None:
            data.pop("error", None)
        return data


class OrgIntegrations(_Warned):  # warnings: e.g. the status cache could not be read (not an error)
    org_slug: str
    integrations: dict[Provider, Integration]
    all_valid: bool
    providers_configured: list[Provider]
    warning_details: list[WarningInfo] = Field(default_factory=list)


class Keyless(NamedTuple):
    """A keyless GCP setup: the billing export table, and for impersonation (mode b) the customer's account."""

    export_table: str
    customer_service_account: str | None = None


class KeylessInfo(BaseModel):
    """Keyless GCP for one org: who to grant, our IDs for a domain-restricted organization, the commands."""

    principal: str = Field(description="The org's own service account; grant it read access to the billing export.")
    customer_id: str | None = Field(default=None, description="Our directory customer ID, to allow-list.")
    organization_id: str | None = Field(
        default=None, description="Our organization ID (iam.managed.allowedPolicyMembers)."
    )
    commands: str = Field(description="gcloud / bq commands for the grant (plain text).")
    terraform: str = Field(description="A Terraform snippet for the grant (plain text).")


class _Checked(_Warned):
    """A check's answer (setup, validate, test): `error` (and `keyless`) appear only when there is one, the data
    status only when the check read a cost source (additive): the seed's answers keep their shape."""

    @model_serializer(mode="wrap")
    def _rest_shape(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for optional in ("error", "keyless"):
            if data.get(optional) is None:
                data.pop(optional, None)
        if data.get("data_status") is None:
            data.pop("data_status", None)
            data.pop("data_through", None)
        return data


class SetupResult(_Checked):
    success: bool
    provider: Provider
    credential_id: str | None
    validation_status: Status
    message: str
    credential_kind: CredentialKind | None = None
    data_status: DataStatus | None = None  # Admin keys: is cost data arriving (absent for inference keys)
    data_through: date | None = None
    capabilities: list[Capability] = Field(default_factory=list)
    warning_details: list[WarningInfo] = Field(default_factory=list)
    checks: list[CheckItem] = Field(default_factory=list, exclude=True)
    rotated_credential_id: str | None = Field(default=None, exclude=True)
    error: ErrorInfo | None = None  # a keyless setup stored PENDING: what the customer still has to do
    keyless: KeylessInfo | None = None


class ValidateResult(_Checked):
    success: bool
    provider: Provider
    validation_status: Status
    message: str
    error: ErrorInfo | None = None
    capabilities: list[Capability] = Field(default_factory=list)
    warning_details: list[WarningInfo] = Field(default_factory=list)
    data_status: DataStatus | None = None
    data_through: date | None = None
    checks: list[CheckItem] = Field(default_factory=list, exclude=True)
    rate_limit: dict[str, str] = Field(default_factory=dict, exclude=True)


class KeyTestResult(_Checked):
    """A credential checked without saving ("Save & test" without the save): what a setup would find. Nothing was
    stored, no status changed; `outcome` is VALID, INVALID or INCONCLUSIVE (the provider could not answer)."""

    success: bool
    provider: Provider
    outcome: Literal["VALID", "INVALID", "INCONCLUSIVE"]
    message: str
    credential_kind: CredentialKind | None = None
    credential_hint: str = Field(description="The key's public prefix and last characters, never the key.")
    error: ErrorInfo | None = None
    capabilities: list[Capability] = Field(default_factory=list)
    warning_details: list[WarningInfo] = Field(default_factory=list)
    data_status: DataStatus | None = None
    data_through: date | None = None
    checks: list[CheckItem] = Field(default_factory=list, exclude=True)
    rate_limit: dict[str, str] = Field(default_factory=dict, exclude=True)


class DeleteResult(_Warned):
    success: bool
    message: str
    warning_details: list[WarningInfo] = Field(default_factory=list)


class DiagnosticStep(BaseModel):
    name: str
    passed: bool | None  # None: not run because an earlier step failed
    detail: str = ""
    code: str | None = None
    fix: str = ""
