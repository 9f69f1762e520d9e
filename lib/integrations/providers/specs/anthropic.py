"""Anthropic: API keys, Console and Enterprise Admin keys (providers/anthropic_keys.py, families in kinds.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...provider_registry import ProviderSpec

if TYPE_CHECKING:
    from ...settings import Settings
    from ..base import Validator
    from ..sandbox import SandboxRules


def validator(settings: Settings, rules: SandboxRules | None) -> Validator:
    from ..anthropic_keys import AnthropicValidator
    from ..sandbox import anthropic_handler, sdk_client_factory

    sandboxed = None if rules is None else sdk_client_factory(anthropic_handler(rules))
    return AnthropicValidator(settings.anthropic_base_url, settings.provider_timeout_s, sandboxed)


PROVIDER = ProviderSpec("ANTHROPIC", "Anthropic", validator, order=20, aliases=("anthropic", "claude"))
