"""An example provider registered from outside the package (INTEGRATIONS_PROVIDER_MODULES): what adding a provider
takes besides its catalog codes and its status-cache migration. Its keys are `ex-` followed by 20+ characters; the
live check accepts any well-formed key (a real provider calls its SDK here, imported inside `check`)."""

from __future__ import annotations

from typing import Any

from integrations.provider_registry import ProviderSpec


def validator(settings: Any, rules: Any) -> Any:
    from integrations.domain import CheckResult, Provider, Status
    from integrations.providers.base import ParsedCredential, Validator, malformed
    from pydantic import SecretStr

    class ExampleValidator(Validator):
        provider = Provider("EXAMPLE")

        def parse(self, credential: SecretStr, stored: bool = False) -> ParsedCredential:
            text = credential.get_secret_value().strip()
            if not text.startswith("ex-") or len(text) < 23:
                raise malformed("An Example Cloud key starts with ex- and has at least 20 characters after it.")
            return ParsedCredential(provider=self.provider, secret=SecretStr(text), hint=f"ex-...{text[-4:]}")

        def check(self, credential: ParsedCredential, metadata: dict[str, Any] | None = None) -> CheckResult:
            return CheckResult(status=Status.VALID, message="Example Cloud accepted the key.")

    return ExampleValidator()


PROVIDER = ProviderSpec("EXAMPLE", "Example Cloud", validator, order=90, aliases=("example cloud",))
