from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from integrations import IntegrationService, connect
from integrations.providers import build_validators
from integrations.settings import Settings

from tests.doubles.pg_cluster import Cluster, cluster
from tests.fakes import InMemoryCipher, InMemoryStatusCache, InMemoryStore

ORG = "acmecorp"


def fake_service(attempts_per_minute: int = 1000, **settings: object) -> IntegrationService:
    """The service on in-memory fakes with sandbox provider checks."""
    validators = build_validators(Settings(_env_file=None, **settings))
    return IntegrationService(
        InMemoryStore(),
        InMemoryCipher(),
        InMemoryStatusCache(),
        validators,
        attempts_per_minute=attempts_per_minute,
        backends={"validation": "sandbox"},
    )


@pytest.fixture
def svc() -> IntegrationService:
    service = fake_service()
    service.register_org(ORG, name="Acme Corp")
    return service


@pytest.fixture
def local_svc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IntegrationService:
    """The real local profile (SQLite + keyring + sandbox) in a temporary data dir."""
    for var in (
        "INTEGRATIONS_PROFILE",
        "INTEGRATIONS_STORE",
        "INTEGRATIONS_CIPHER",
        "INTEGRATIONS_STATUS_CACHE",
        "INTEGRATIONS_VALIDATION",
        "INTEGRATIONS_SANDBOX_OUTAGE",
        "INTEGRATIONS_SANDBOX_LATENCY_MS",
    ):
        monkeypatch.delenv(var, raising=False)
    service = connect(data_dir=tmp_path / "data")
    service.register_org(ORG, name="Acme Corp")
    return service


@pytest.fixture(scope="session")
def pg() -> Iterator[Cluster]:
    """A throwaway PostgreSQL for the session (each pytest-xdist worker starts its own), stopped at the end."""
    with cluster() as started:
        yield started
