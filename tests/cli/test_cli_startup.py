"""The CLI answers at once: parsing a command line imports no provider SDK, no pandas, no cloud client and no
Rich help machinery; `status` on the local backends builds no frame and no validator; a check imports only its own
provider's SDK (the figures themselves, CPU seconds of `integrations --help` and `status`, are printed by
`make bench`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "numpy", "openai", "anthropic", "google.cloud.bigquery", "google.cloud.kms", "streamlit", "supabase")
# what `--help` does not need either: the models, Rich's console and help panels, the HTTP and retry libraries
PARSING = (*HEAVY, "pydantic", "rich.console", "typer.rich_utils", "httpx", "tenacity", "pyrate_limiter", "google.auth")
# a read on the local backends: no SDK, no frame, no HTTP client, no Google library, no retry library
STATUS = (*HEAVY, "google.auth", "google.api_core", "httpx", "urllib3", "tenacity", "pyrate_limiter")


def _loaded_after(code: str, names: tuple[str, ...] = HEAVY, env: dict[str, str] | None = None) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {list(names)!r} if m in sys.modules]))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=os.environ | (env or {}),
        cwd=(env or {}).get("INTEGRATIONS_DATA_DIR"),  # away from a developer's .env
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(*argv: str) -> str:
    return (
        "import contextlib, io\nfrom integrations.cli import app\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    app({list(argv)!r})\n"
    )


def test_importing_the_cli_loads_no_sdk_pandas_or_cloud_client() -> None:
    assert _loaded_after("import integrations.cli", PARSING) == []


def test_help_parses_without_loading_heavy_modules() -> None:
    assert _loaded_after(_cli("--help"), PARSING) == []
    # a command's own help: typer builds its parameters' converters with pydantic (typer's, not ours)
    command = tuple(m for m in PARSING if m != "pydantic")
    assert _loaded_after(_cli("setup", "--help"), command) == []
    assert _loaded_after(_cli("revalidate", "--help"), command) == []


def test_the_package_names_load_when_used() -> None:
    assert _loaded_after("import integrations") == []
    assert _loaded_after("from integrations import Provider, Code") == []
    assert _loaded_after("from integrations import connect, IntegrationService") == []  # pandas: when a frame is built
    assert "pandas" in _loaded_after("from integrations import connect\nconnect().overview()")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = {"INTEGRATIONS_DATA_DIR": str(tmp_path_factory.mktemp("cli-start"))}
    for command in ("init", "demo"):
        _loaded_after(_cli(command), env=env)
    return env


def test_status_on_the_local_backends_builds_no_frame_and_no_validator(demo_dir: dict[str, str]) -> None:
    probe = _cli("status", "acmecorp") + "from integrations import bootstrap\n"
    assert _loaded_after(probe, STATUS, demo_dir) == []
    assert Path(demo_dir["INTEGRATIONS_DATA_DIR"], "warehouse.sqlite").exists()  # it did read the demo data


def test_a_check_builds_only_its_providers_validator(demo_dir: dict[str, str]) -> None:
    loaded = _loaded_after(_cli("validate", "acmecorp", "openai"), ("openai", "google.auth", "pandas"), demo_dir)
    assert loaded == ["openai"]  # not the Google libraries of the GCP validator (built when a GCP check needs it)
