"""The OpenAPI schema is a contract a TypeScript frontend compiles against: types generated with
openapi-typescript from the running API's /openapi.json, the frontend snippets type-checked with `tsc --strict`,
then run with node against that API on loopback, so the types and the wire agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integrations.api import create_app

from tests.keys import OPENAI_OK, service_account_json
from tests.servers import api_process, cli_env

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"
BIN = PACKAGE / "node_modules" / ".bin"
GENERATE_FLAGS = ["--default-non-nullable", "false"]  # a field with a default is optional in a request


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The package's locked dev dependencies (make test and .ci/run install them; a bare pytest run too)."""
    if not (BIN / "tsc").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True, capture_output=True)
    return BIN


def generate(node_modules: Path, schema: Path, out: Path) -> str:
    subprocess.run(
        [str(node_modules / "openapi-typescript"), str(schema), "-o", str(out), *GENERATE_FLAGS],
        check=True,
        capture_output=True,
    )
    return out.read_text()


def test_the_committed_schema_and_types_are_fresh(node_modules: Path, tmp_path: Path) -> None:
    schema = json.dumps(create_app().openapi(), indent=2) + "\n"
    assert (PACKAGE / "openapi.json").read_text() == schema, "stale: run `make ts-types`"
    (tmp_path / "openapi.json").write_text(schema)
    fresh = generate(node_modules, tmp_path / "openapi.json", tmp_path / "schema.d.ts")
    assert (PACKAGE / "src" / "schema.d.ts").read_text() == fresh, "stale: run `make ts-types`"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`integrations api` on a free loopback port, on a fresh local data dir with one org."""
    env = cli_env(tmp_path / "data")
    subprocess.run(["integrations", "init"], env=env, check=True, capture_output=True)  # org create needs an install
    created = subprocess.run(
        ["integrations", "org", "create", "acmecorp", "--json"], env=env, check=True, capture_output=True, text=True
    )
    with api_process(env) as base:
        yield {"BASE_URL": base, "ORG": "acmecorp", "ORG_API_KEY": json.loads(created.stdout)["api_key"]}


def five_field_key(path: Path) -> Path:
    full = json.loads(service_account_json("billing@acme-prod.iam.gserviceaccount.com", "acme-prod"))
    path.write_text(
        json.dumps({k: full[k] for k in ("type", "project_id", "private_key_id", "private_key", "client_email")})
    )
    return path


def test_the_frontend_snippets_compile_strictly_and_run_against_the_api(
    node_modules: Path, api: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "client"
    shutil.copytree(PACKAGE, work, ignore=shutil.ignore_patterns("node_modules", "dist", "schema.d.ts"))
    (work / "node_modules").symlink_to(PACKAGE / "node_modules")
    served = httpx.get(f"{api['BASE_URL']}/openapi.json").raise_for_status().text
    (work / "openapi.json").write_text(served)
    generate(node_modules, work / "openapi.json", work / "src" / "schema.d.ts")  # from the running app
    compiled = subprocess.run([str(node_modules / "tsc"), "-p", str(work)], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr  # tsc --strict (tsconfig) passes
    env = {
        **os.environ,
        **api,
        "OPENAI_KEY": OPENAI_OK,
        "GCP_KEY_FILE": str(five_field_key(tmp_path / "sa.json")),
        "RATE_LIMITED_KEY": "sk-ant-api03-ratelimited" + "x" * 30,
    }
    ran = subprocess.run(
        ["node", str(work / "dist" / "snippets" / "frontend.js")], env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 0, ran.stderr
    out = json.loads(ran.stdout)
    assert out["setup"] == {
        "success": True,
        "credentialId": out["setup"]["credentialId"],
        "status": "VALID",
        "kind": "PROJECT",
    }
    assert out["setup"]["credentialId"].startswith("cred_")
    assert out["setupSkipped"] == {"status": "PENDING", "warnings": []}
    assert out["getAll"] == {
        "openai": "VALID",
        "anthropic": "NOT_CONFIGURED",
        "allValid": False,
        "hasOpenAI": True,
        "configured": ["OPENAI", "GCP"],
    }
    assert out["openaiHint"] == "sk-proj-...Yz99"
    assert out["openaiData"] == {"status": None, "through": None, "lastSuccess": None}  # a project key reads no costs
    assert out["getOne"] == {"provider": "SERVICE_ACCOUNT", "status": "PENDING"}
    assert out["validate"]["success"] is True and out["validate"]["status"] == "VALID"
    assert out["validate"]["errorCode"] is None and out["validate"]["capabilities"] == ["cost data: not available"]
    assert out["validate"]["retryAfter"] is None  # not rate-limited: no Retry-After
    # issue 27 (review 10): the provider's Retry-After on validate's 200, not only on a thrown error
    assert out["rateLimited"] == {"success": False, "errorCode": "RATE_LIMITED", "retryAfter": "2"}
    assert out["delete"]["success"] is True and out["delete"]["warnings"] == []
    assert out["errors"] == [
        {"status": 404, "code": "NOT_CONFIGURED", "retryable": False},
        {"status": 401, "code": "ORG_API_KEY_INVALID", "retryable": False},
    ]
    assert "unexpected" not in out


def test_the_snippets_would_not_compile_against_a_loose_schema(node_modules: Path, tmp_path: Path) -> None:
    """The check has teeth: with untyped integration entries (as before), `tsc --strict` rejects the snippets."""
    loose = create_app().openapi()
    loose["components"]["schemas"]["IntegrationsByProvider"]["properties"] = {
        p: {"type": "object", "additionalProperties": True} for p in ("OPENAI", "ANTHROPIC", "GCP")
    }
    work = tmp_path / "client"
    shutil.copytree(PACKAGE, work, ignore=shutil.ignore_patterns("node_modules", "dist", "schema.d.ts"))
    (work / "node_modules").symlink_to(PACKAGE / "node_modules")
    (work / "openapi.json").write_text(json.dumps(loose))
    generate(node_modules, work / "openapi.json", work / "src" / "schema.d.ts")
    compiled = subprocess.run([str(node_modules / "tsc"), "--noEmit", "-p", str(work)], capture_output=True, text=True)
    assert compiled.returncode != 0 and "snippets/frontend.ts" in compiled.stdout and "error TS" in compiled.stdout
