"""The README's deploy steps, run start to finish on a fresh project against fake `gcloud`, `bq` and `integrations
init` (tests/deploy/fake_cloud.py: they keep the project's state and fail where the real tools fail), twice: the
second run creates nothing. Then what each identity was granted, against least privilege."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKE = Path(__file__).with_name("fake_cloud.py")
PROJECT = "acme-prod"
SA = "serviceAccount:{}@acme-prod.iam.gserviceaccount.com"


def readme_steps() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- deploy-steps")
    match = re.search(r"```bash\n(.*?)```", text[start:], re.DOTALL)
    assert match, "the README's deploy-steps block"
    return match.group(1)


def fake_env(tmp_path: Path) -> dict[str, str]:
    """PATH with the fakes first, HOME with the four secret files, an empty project's state."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcloud", "bq", "integrations"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" {tool} "$@"\n')
        script.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    (home / "supabase-service-role.key").write_text("eyJhbGciOiJIUzI1NiJ9.fake-service-role")
    (home / "alert-webhook.url").write_text("https://hooks.slack.com/services/T0/B0/fake")
    (home / "org-alert-webhooks.json").write_text('{"acmecorp": "https://hooks.example.com/acme/fake"}')
    (home / "alert-signing.secret").write_text("0" * 64)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTEGRATIONS_", "SUPABASE_", "CLOUDSDK_"))}
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        HOME=str(home),
        FAKE_CLOUD_STATE=str(tmp_path / "state.json"),
        PYTHONPATH=str(ROOT / "lib"),
    )
    return env


@pytest.fixture
def fresh(tmp_path: Path) -> dict[str, str]:
    return fake_env(tmp_path)


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    """The README's block run twice on one fresh project: the state after each run."""
    env = fake_env(tmp_path_factory.mktemp("project"))
    first = run(readme_steps(), env)
    assert first.returncode == 0, first.stderr[-3000:]
    after_first = state(env)
    second = run(readme_steps(), env)
    assert second.returncode == 0, second.stderr[-3000:]
    return after_first, state(env)


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def state(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(Path(env["FAKE_CLOUD_STATE"]).read_text())


def creates(calls: list[list[str]]) -> list[list[str]]:
    """The calls that made something (a secret version aside)."""
    return [c for c in calls if c[0] != "FAILED" and c[0] != "integrations" and set(c[1:4]) & {"create", "mk"}]


def test_the_readme_steps_provision_a_fresh_project_twice(rehearsed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    after_first, after_second = rehearsed
    made = sorted(" ".join(c[1:4]) for c in creates(after_first["calls"]))
    assert made == sorted(
        ["iam service-accounts create"] * 4
        + ["iam roles create"] * 2
        + ["--location=EU mk --dataset"]
        + ["kms keyrings create", "kms keys create", "kms keys create"]
        + ["secrets create supabase-service-role-key", "secrets create integrations-alert-webhook-url"]
        + ["secrets create integrations-org-alert-webhooks", "secrets create integrations-alert-signing-secret"]
        + ["artifacts repositories create", "scheduler jobs create"]
    ), made
    assert set(after_first["datasets"].values()) == {"EU"}
    assert {k.rsplit("/", 1)[1] for k in after_first["keys"]} == {"credentials", "fingerprints"}
    assert all(len(v) == 1 for v in after_first["secrets"].values())  # each secret has its one version
    assert len(after_first["jobs"]) == 2 and len(after_first["workflows"]) == 1 and len(after_first["schedules"]) == 1

    calls = after_second["calls"][len(after_first["calls"]) :]
    assert [c for c in calls if c[0] == "FAILED" and "describe" not in c and "show" not in c] == []
    assert creates(calls) == []  # everything existed: only describes, bindings, the redeploy and a schedule update
    assert any(c[1:4] == ["scheduler", "jobs", "update"] for c in calls)
    assert after_second["bindings"] == after_first["bindings"]  # no binding added twice
    assert [len(v) for v in after_second["secrets"].values()] == [1, 1, 1, 1]  # no second secret version


def test_each_identity_gets_what_it_needs_and_nothing_else(rehearsed: tuple[dict[str, Any], dict[str, Any]]) -> None:
    s = rehearsed[1]
    grants: dict[str, set[tuple[str, str]]] = {}
    for resource, member, role in s["bindings"]:
        grants.setdefault(member, set()).add((resource, role))
    tasks, final = grants[SA.format("integrations-tasks")], grants[SA.format("integrations-finalize")]
    flow, scheduler = grants[SA.format("integrations-workflow")], grants[SA.format("integrations-scheduler")]
    dataset = f"bigquery/{PROJECT}:organizations"
    assert tasks == {
        (f"projects/{PROJECT}", "roles/bigquery.jobUser"),
        (dataset, "roles/bigquery.metadataViewer"),
        (f"{dataset}.org_integrations", "roles/bigquery.dataViewer"),
        (f"{dataset}.revalidation_results", "roles/bigquery.dataEditor"),
        (
            f"projects/{PROJECT}/locations/europe-west1/keyRings/integrations/cryptoKeys/credentials",
            "roles/cloudkms.cryptoKeyDecrypter",
        ),
    }
    assert not any(r.startswith("secrets/") for r, _ in tasks)  # no Supabase key, no alert secret
    assert {(r, role) for r, role in final if r.startswith("secrets/")} == {
        (f"secrets/{name}", "roles/secretmanager.secretAccessor")
        for name in (
            "supabase-service-role-key",
            "integrations-alert-webhook-url",
            "integrations-org-alert-webhooks",
            "integrations-alert-signing-secret",
        )
    }
    alert_secrets = {"secrets/integrations-org-alert-webhooks", "secrets/integrations-alert-signing-secret"}
    holders = {member for member, held in grants.items() if any(r in alert_secrets for r, _ in held)}
    assert holders == {SA.format("integrations-finalize")}  # the finalize identity only
    assert {(r, role) for r, role in final if r.startswith("bigquery/")} == {
        (dataset, "roles/bigquery.metadataViewer"),
        (f"{dataset}.revalidation_results", "roles/bigquery.dataViewer"),
        (f"{dataset}.org_integrations", "roles/bigquery.dataEditor"),
        (f"{dataset}.org_integration_events", "roles/bigquery.dataEditor"),
    }
    assert not any("cloudkms" in role for _, role in final)
    everyone = [g for member in grants.values() for g in member]
    assert not any(r.endswith(("org_api_keys", "key_versions")) for r, _ in everyone)  # N17: no one mints org keys
    assert not any(r == dataset and "dataEditor" in role for r, role in everyone)
    runner, watcher = (
        f"projects/{PROJECT}/roles/integrationsJobRunner",
        f"projects/{PROJECT}/roles/integrationsRunWatcher",
    )
    assert flow == {
        (f"jobs/{PROJECT}/europe-west1/integrations-revalidate", runner),
        (f"jobs/{PROJECT}/europe-west1/integrations-finalize", runner),
        (f"projects/{PROJECT}", watcher),
        (f"projects/{PROJECT}", "roles/logging.logWriter"),
    }
    assert s["roles"][runner] == ["run.jobs.run", "run.jobs.runWithOverrides"]
    assert s["roles"][watcher] == ["run.executions.get", "run.operations.get"]
    assert not any("developer" in role or "serviceAccountUser" in role or "actAs" in role for _, role in everyone)
    assert scheduler == {(f"projects/{PROJECT}", "roles/workflows.invoker")}


def test_the_deployed_jobs_and_image_carry_the_same_pinned_env(
    rehearsed: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    s = rehearsed[1]
    [image] = {i["image"] for i in s["images"]}
    pinned = s["images"][-1]["pinned"]["jobs"]
    for job in s["jobs"].values():
        [container] = job["spec"]["template"]["spec"]["template"]["spec"]["containers"]
        assert container["image"] == image
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env == pinned[job["metadata"]["name"]]


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            "deploy/iam.sh",
            "INVALID_ARGUMENT: Service account integrations-tasks@acme-prod.iam.gserviceaccount.com does not",
        ),
        ("deploy/deploy.sh", "PERMISSION_DENIED: cloudbuild.googleapis.com has not been used"),
    ],
)
def test_a_step_out_of_order_fails_as_google_fails(fresh: dict[str, str], script: str, message: str) -> None:
    steps = "export PROJECT_ID=acme-prod REGION=europe-west1 BQ_LOCATION=EU SUPABASE_URL=https://x.supabase.co\n"
    done = run(steps + script, fresh)
    assert done.returncode != 0 and message in done.stderr


def test_grants_before_the_tables_exist_fail_on_the_first_table(fresh: dict[str, str]) -> None:
    steps = readme_steps().replace("  integrations init\n", "  true\n")
    done = run(steps, fresh)
    assert done.returncode != 0
    assert "Not found: Table acme-prod:organizations.org_integrations" in done.stderr


def test_the_old_iam_script_fails_on_a_fresh_project(fresh: dict[str, str]) -> None:
    """What the review found: iam.sh bound roles on a dataset, key ring and secrets that nothing created."""
    old = subprocess.run(
        ["git", "show", "cc107aa:deploy/iam.sh"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if old.returncode != 0:
        pytest.skip("the old commit is not in this clone")
    apis = "iam.googleapis.com bigquery.googleapis.com cloudkms.googleapis.com secretmanager.googleapis.com"
    steps = f"export PROJECT_ID=acme-prod REGION=europe-west1\ngcloud services enable {apis} --project acme-prod\n"
    done = run(steps + old.stdout, fresh)
    assert done.returncode != 0 and "Not found: Dataset acme-prod:organizations" in done.stderr
