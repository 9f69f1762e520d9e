"""Credential checks per provider: format (offline) and live (official SDKs), sandboxed or real."""

from __future__ import annotations

from ..domain import Provider
from ..settings import Settings
from .api_keys import AnthropicValidator, OpenAIValidator
from .base import ParsedCredential, Validator
from .gcp_service_account import GcpValidator
from .sandbox import SandboxRules, anthropic_handler, openai_handler, sandbox_pool_factory, sdk_client_factory

__all__ = ["ParsedCredential", "Validator", "build_validators"]


def build_validators(settings: Settings) -> dict[Provider, Validator]:
    """One validator per provider, wired to the sandbox transport or to the real endpoints."""
    timeout = settings.provider_timeout_s
    if settings.backend("validation") == "live":
        return {
            Provider.OPENAI: OpenAIValidator(settings.openai_base_url, timeout),
            Provider.ANTHROPIC: AnthropicValidator(settings.anthropic_base_url, timeout),
            Provider.GCP: GcpValidator(
                settings.google_token_uri,
                settings.bigquery_api_url,
                timeout,
                resource_manager_url=settings.resource_manager_api_url,
            ),
        }
    rules = SandboxRules(settings.outage_providers, settings.sandbox_latency_ms)
    return {
        Provider.OPENAI: OpenAIValidator(settings.openai_base_url, timeout, sdk_client_factory(openai_handler(rules))),
        Provider.ANTHROPIC: AnthropicValidator(
            settings.anthropic_base_url, timeout, sdk_client_factory(anthropic_handler(rules))
        ),
        Provider.GCP: GcpValidator(
            settings.google_token_uri,
            settings.bigquery_api_url,
            timeout,
            sandbox_pool_factory(rules),
            resource_manager_url=settings.resource_manager_api_url,
        ),
    }
