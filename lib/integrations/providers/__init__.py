"""Credential checks per provider: format (offline) and live (official SDKs), sandboxed or real.

Which validators a deployment uses (live or sandboxed) is decided in bootstrap.py."""

from __future__ import annotations

from .base import ParsedCredential, Validator

__all__ = ["ParsedCredential", "Validator"]
