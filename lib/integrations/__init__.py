"""Integrations: validate, encrypt, store and watch organizations' provider credentials.

from integrations import connect
svc = connect()
svc.setup("acmecorp", "openai", "sk-proj-...")
"""

from .bootstrap import connect
from .domain import (
    Capability,
    CheckItem,
    CredentialKind,
    DeleteResult,
    Integration,
    OrgIntegrations,
    Provider,
    SetupResult,
    Status,
    ValidateResult,
)
from .errors import CATALOG, IntegrationError
from .service import IntegrationService
from .settings import Settings

__all__ = [
    "CATALOG",
    "Capability",
    "CheckItem",
    "CredentialKind",
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
