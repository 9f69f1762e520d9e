"""Google Cloud: a service-account key file or keyless access to the billing export (providers/gcp_*.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...provider_registry import ProviderSpec

if TYPE_CHECKING:
    from ...settings import Settings
    from ..base import Validator
    from ..gcp_keyless import KeylessSettings
    from ..sandbox import SandboxRules

SANDBOX_PROJECT, SANDBOX_CUSTOMER_ID = "integrations-platform", "C00sandbx"


def keyless_settings(settings: Settings, sandbox: bool) -> KeylessSettings | None:
    """Keyless GCP's settings; None (keyless checks answer GCP_PLATFORM_ACCESS_FAILED) without a project."""
    from ..gcp_keyless import KeylessSettings

    project = settings.gcp_principals_project or settings.gcp_project or (SANDBOX_PROJECT if sandbox else None)
    if project is None:
        return None
    return KeylessSettings(
        project=project,
        iamcredentials_url=settings.iamcredentials_api_url,
        iam_url=settings.iam_api_url,
        customer_id=settings.gcp_customer_id or (SANDBOX_CUSTOMER_ID if sandbox else ""),
        organization_id=settings.gcp_organization_id,
        locations=tuple(x.strip().upper() for x in settings.gcp_export_locations.split(",") if x.strip()),
        create_principals=settings.gcp_create_principals and not sandbox,
    )


def _sandbox_adc() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token="ya29.sandbox.runtime")  # noqa: S106 - the sandbox's stand-in for ADC


def validator(settings: Settings, rules: SandboxRules | None) -> Validator:
    from ..gcp_service_account import GcpValidator

    sandboxed: dict[str, Any] = {}
    if rules is not None:
        from ..sandbox_google import GoogleSandboxPool

        sandboxed = {"pool": lambda: GoogleSandboxPool(rules), "adc": _sandbox_adc}
    return GcpValidator(
        settings.google_token_uri,
        settings.bigquery_api_url,
        settings.provider_timeout_s,
        resource_manager_url=settings.resource_manager_api_url,
        keyless=keyless_settings(settings, sandbox=rules is not None),
        iam_url=settings.iam_api_url,  # a key file's expiry (keys.get validBeforeTime)
        **sandboxed,
    )


PROVIDER = ProviderSpec(
    "GCP",
    "Google Cloud",
    validator,
    order=30,
    aliases=("gcp", "google", "bigquery", "service account", "service-account"),
)
