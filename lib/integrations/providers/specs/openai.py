"""OpenAI: project, service-account, legacy user and Admin keys (providers/openai_keys.py, families in kinds.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...provider_registry import ProviderSpec

if TYPE_CHECKING:
    from ...settings import Settings
    from ..base import Validator
    from ..sandbox import SandboxRules


def validator(settings: Settings, rules: SandboxRules | None) -> Validator:
    from ..openai_keys import OpenAIValidator
    from ..sandbox import openai_handler, sdk_client_factory

    sandboxed = None if rules is None else sdk_client_factory(openai_handler(rules))
    return OpenAIValidator(settings.openai_base_url, settings.provider_timeout_s, sandboxed)


PROVIDER = ProviderSpec("OPENAI", "OpenAI", validator, order=10, aliases=("openai",))
