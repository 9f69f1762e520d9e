"""What use cases receive from the configuration: values, not Settings (issue 24)."""

from __future__ import annotations

from pathlib import Path

from integrations.bootstrap import build_validators
from integrations.deps import Deps
from integrations.settings import Settings

from tests.fakes import InMemoryCipher, InMemoryStatusCache, InMemoryStore


def _wired(**settings: object) -> Deps:
    conf = Settings(_env_file=None, **settings)  # type: ignore[arg-type]
    return Deps.wire(InMemoryStore(), InMemoryCipher(), InMemoryStatusCache(), build_validators(conf), settings=conf)


def test_use_cases_receive_the_values_they_read_not_the_settings(tmp_path: Path) -> None:
    deps = _wired(data_dir=tmp_path, run_timeout_s=600, cipher="kms", kms_requests_per_minute=1_200)
    assert (deps.run_timeout_s, deps.kms_per_minute, deps.data_dir) == (600, 1_200, tmp_path)
    assert not hasattr(deps, "settings")


def test_the_kms_budget_is_cloud_kms_quota_and_the_local_keyring_has_none(tmp_path: Path) -> None:
    assert _wired(data_dir=tmp_path, kms_requests_per_minute=1_200).kms_per_minute is None  # local profile
    assert _wired(data_dir=tmp_path, profile="gcp", kms_requests_per_minute=1_200).kms_per_minute == 1_200
