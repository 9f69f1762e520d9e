"""Credential checks per provider: format (offline) and live (official SDKs), sandboxed or real.

Each provider registers in `providers/specs/` (provider_registry.py); which validators a deployment uses (live or
sandboxed) is decided in bootstrap.py. Importing this package imports nothing heavy: `domain` reads the specs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ParsedCredential, Validator

__all__ = ["ParsedCredential", "Validator"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import base

        return getattr(base, name)
    raise AttributeError(name)
