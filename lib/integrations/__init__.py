"""Integrations: validate, encrypt, store and watch organizations' provider credentials.

from integrations import connect
svc = connect()
svc.setup("acmecorp", "openai", "sk-proj-...")
"""

from .bootstrap import connect
from .domain import Capability, CheckItem, CredentialKind, Provider, Status
from .errors import CATALOG, Code, IntegrationError
from .results import DeleteResult, Integration, OrgIntegrations, SetupResult, ValidateResult
from .service import IntegrationService
from .settings import Settings

__all__ = [
    "CATALOG",
    "Capability",
    "CheckItem",
    "Code",
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
