"""The CLI answers at once: parsing a command line imports no provider SDK, no pandas and no cloud client (the
figure itself, CPU seconds of `integrations --help`, is printed by `make bench`)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "numpy", "openai", "anthropic", "google.cloud.bigquery", "google.cloud.kms", "streamlit", "supabase")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_loads_no_sdk_pandas_or_cloud_client() -> None:
    assert _loaded_after("import integrations.cli") == []


def test_help_parses_without_loading_heavy_modules() -> None:
    code = (
        "import contextlib, io\nfrom integrations.cli import app\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    app(['--help'])\n"
    )
    assert _loaded_after(code) == []


def test_the_package_names_load_when_used() -> None:
    assert _loaded_after("import integrations") == []
    assert _loaded_after("from integrations import Provider, Code") == []
    assert "pandas" in _loaded_after("from integrations import connect")
