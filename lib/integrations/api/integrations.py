"""The integration routes the org-facing frontend calls with an org API key: set up, read, re-validate, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ..domain import Provider, retry_after
from ..errors import Code, IntegrationError
from ..results import Keyless, KeylessInfo, KeyTestResult, ValidateResult
from .dependencies import AuthenticatedFirst, Key, Svc, actor
from .models import (
    DeleteResponse,
    KeyTestRequest,
    KeyTestResponse,
    OrgIntegrationsResponse,
    ProviderPath,
    SetupRequest,
    SetupResponse,
    ValidateResponse,
    checked,
    errors,
)
from .models import IntegrationView as IntegrationResponse

PREFIX = "/api/v1/integrations"
router = APIRouter(route_class=AuthenticatedFirst)


@router.post(
    f"{PREFIX}/{{org_slug}}/{{provider}}/setup",
    response_model=SetupResponse,
    response_model_exclude_unset=True,
    responses=errors(400, 401, 403, 404, 413, 422, 429, 500, 503),
    summary="Validate, encrypt and store a credential (rotates an existing one)",
)
def setup(org_slug: str, provider: ProviderPath, body: SetupRequest, svc: Svc, key: Key) -> dict[str, Any]:
    keyless = None
    if body.keyless is not None:
        keyless = Keyless(body.keyless.export_table, body.keyless.customer_service_account)
    result = svc.setup(
        org_slug,
        provider,
        body.credential,
        credential_name=body.credential_name,
        metadata=body.metadata,
        skip_validation=body.skip_validation,
        actor=actor(key),
        keyless=keyless,
        need=body.need,
    )
    return result.model_dump(mode="json", exclude_none=True)


@router.post(
    f"{PREFIX}/{{org_slug}}/{{provider}}/test",
    response_model=KeyTestResponse,
    response_model_exclude_unset=True,
    responses=checked(400, 401, 403, 404, 413, 422, 429, 500, 503),
    summary="Check a credential with the provider without saving it (counts against the attempt limit)",
)
def test_credential(
    org_slug: str, provider: ProviderPath, body: KeyTestRequest, svc: Svc, key: Key, response: Response
) -> dict[str, Any]:
    result = svc.test_credential(org_slug, provider, body.credential, body.metadata, actor(key), body.need)
    return _with_retry_after(result, response)


@router.get(
    f"{PREFIX}/{{org_slug}}/gcp/keyless",
    response_model=KeylessInfo,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 422, 500, 503),
    summary="Keyless GCP: the org's principal to grant, our customer ID, the gcloud/bq commands and Terraform",
)
def keyless_info(org_slug: str, svc: Svc, key: Key) -> dict[str, Any]:
    return svc.keyless_info(org_slug).model_dump(mode="json")


@router.get(f"{PREFIX}/{{org_slug}}/{{provider}}/keyless", include_in_schema=False)
def keyless_info_any_case(org_slug: str, provider: str, svc: Svc, key: Key) -> dict[str, Any]:
    """GCP/keyless, Gcp/keyless: the provider in any case, as on every route (the schema states the one path)."""
    if Provider.parse(provider) != Provider.GCP:
        raise IntegrationError(
            Code.ENDPOINT_NOT_FOUND,
            f"Keyless setup is for GCP only: GET {PREFIX}/{org_slug}/gcp/keyless.",
        )
    return keyless_info(org_slug, svc, key)


@router.get(
    f"{PREFIX}/{{org_slug}}",
    response_model=OrgIntegrationsResponse,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 422, 500, 503),
    summary="Every provider's integration for the org (never a secret)",
)
def get_all(org_slug: str, svc: Svc, key: Key) -> dict[str, Any]:
    return svc.get_all(org_slug).model_dump(mode="json")


@router.get(
    f"{PREFIX}/{{org_slug}}/{{provider}}",
    response_model=IntegrationResponse,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 422, 500, 503),
    summary="One provider's integration",
)
def get_one(org_slug: str, provider: ProviderPath, svc: Svc, key: Key) -> dict[str, Any]:
    return svc.get_one(org_slug, provider).model_dump(mode="json")


@router.post(
    f"{PREFIX}/{{org_slug}}/{{provider}}/validate",
    response_model=ValidateResponse,
    response_model_exclude_unset=True,
    responses=checked(401, 403, 404, 409, 413, 422, 429, 500, 503),
    summary="Re-check the stored credential with the provider",
)
def validate(org_slug: str, provider: ProviderPath, svc: Svc, key: Key, response: Response) -> dict[str, Any]:
    return _with_retry_after(svc.validate(org_slug, provider, actor=actor(key)), response)


def _with_retry_after(result: ValidateResult | KeyTestResult, response: Response) -> dict[str, Any]:
    """A check's answer; after a provider's 429 (inconclusive) its Retry-After, to retry when the provider said."""
    wait = retry_after(result.rate_limit)
    if wait:
        response.headers["Retry-After"] = wait
    return result.model_dump(mode="json")


@router.delete(
    f"{PREFIX}/{{org_slug}}/{{provider}}",
    response_model=DeleteResponse,
    response_model_exclude_unset=True,
    responses=errors(401, 403, 404, 422, 500, 503),
    summary="Deactivate the credential and erase its ciphertext",
)
def delete(org_slug: str, provider: ProviderPath, svc: Svc, key: Key) -> dict[str, Any]:
    return svc.delete(org_slug, provider, actor=actor(key)).model_dump(mode="json")
