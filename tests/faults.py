"""A fault-injecting wrapper around any port: the named methods raise the port's catalog error."""

from __future__ import annotations

from typing import Any

from integrations.errors import IntegrationError


class Faulty:
    """Proxy to `inner`; calling a method in `failing` raises IntegrationError(`code`) instead."""

    def __init__(self, inner: Any, code: str, failing: set[str] | None = None) -> None:
        self._inner, self._code, self.failing, self.injected = inner, code, set(failing or ()), 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name in self.failing and callable(attr):

            def fail(*args: Any, **kwargs: Any) -> Any:
                self.injected += 1
                raise IntegrationError(self._code, f"injected fault in {name}")

            return fail
        return attr
