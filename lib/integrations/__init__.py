"""Integrations: validate, encrypt, store and watch organizations' provider credentials.

from integrations import connect
svc = connect()
svc.setup("acmecorp", "openai", "sk-proj-...")

The names below are imported when first used (PEP 562): importing a light module of the package (the CLI, the
domain, the catalog) does not load every provider SDK, pandas and the Google clients.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .bootstrap import connect
    from .domain import Capability, CheckItem, CredentialKind, DataStatus, Provider, Status
    from .errors import CATALOG, Code, IntegrationError
    from .results import DeleteResult, Integration, OrgIntegrations, SetupResult, ValidateResult
    from .service import IntegrationService
    from .settings import Settings

_WHERE = {
    "connect": "bootstrap",
    "Capability": "domain",
    "CheckItem": "domain",
    "CredentialKind": "domain",
    "DataStatus": "domain",
    "Provider": "domain",
    "Status": "domain",
    "CATALOG": "errors",
    "Code": "errors",
    "IntegrationError": "errors",
    "DeleteResult": "results",
    "Integration": "results",
    "OrgIntegrations": "results",
    "SetupResult": "results",
    "ValidateResult": "results",
    "IntegrationService": "service",
    "Settings": "settings",
}

__all__ = [
    "CATALOG",
    "Capability",
    "CheckItem",
    "Code",
    "CredentialKind",
    "DataStatus",
    "DeleteResult",
    "Integration",
    "IntegrationError",
    "IntegrationService",
    "OrgIntegrations",
    "Provider",
    "Settings",
    "SetupResult",
    "Status",
    "ValidateResult",
    "connect",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
