"""`@/actions/integrations` (issue 27): the document's frontend snippets, copied verbatim (tests/typescript/seed),
compile under `tsc --strict` against clients/typescript, with `@/` mapped to its src/ as a Next.js app maps it; then
the same snippets (only the import path rewritten to the compiled module) run with node against the API on
loopback, the org key read on the server side from the environment."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.e2e.test_console_browser import ROOT
from tests.keys import OPENAI_OK
from tests.typescript.test_typescript_client import PACKAGE, api, node_modules  # noqa: F401  (fixtures)

SEED = ROOT / "tests" / "typescript" / "seed"


def test_the_seed_snippets_compile_verbatim_under_strict(node_modules: Path) -> None:  # noqa: F811
    compiled = subprocess.run(
        [str(node_modules / "tsc"), "-p", str(SEED / "tsconfig.json")], capture_output=True, text=True
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_seed_snippets_run_against_the_api(
    node_modules: Path,  # noqa: F811
    api: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    work = tmp_path / "client"
    shutil.copytree(PACKAGE, work, ignore=shutil.ignore_patterns("node_modules", "dist"))
    (work / "node_modules").symlink_to(PACKAGE / "node_modules")
    source = (SEED / "snippets.ts").read_text()
    assert '"@/actions/integrations"' in source
    relative = source.replace('"@/actions/integrations"', '"../src/actions/integrations.js"')
    (work / "snippets" / "seed.ts").write_text(relative)
    compiled = subprocess.run([str(node_modules / "tsc"), "-p", str(work)], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    env = {
        **os.environ,
        "INTEGRATIONS_API_URL": api["BASE_URL"],
        "INTEGRATIONS_ORG_API_KEY_ACMECORP": api["ORG_API_KEY"],
        "ORG": api["ORG"],
        "OPENAI_KEY": OPENAI_OK,
    }
    ran = subprocess.run(
        ["node", str(work / "dist" / "snippets" / "seed.js")], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout.strip().splitlines()[-1])
    assert out["saved"] == {"ok": True, "status": "VALID"}
    assert out["listed"]["openai"] == "VALID" and out["listed"]["anthropic"] == "NOT_CONFIGURED"
    assert out["listed"]["configured"] == ["OPENAI"] and out["listed"]["allValid"] is False
    assert out["refused"]["ok"] is False and "key" in out["refused"]["message"].lower()
    assert api["ORG_API_KEY"] not in ran.stdout
