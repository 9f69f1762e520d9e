"""Render deploy/'s templates for one project: job.yaml, finalize-job.yaml, workflow.yaml and pinned-env.json.

    python3 deploy/render.py --project P --region R --location L --supabase-url URL --image IMAGE --out DIR

Placeholders are `__NAME__` (upper case between double underscores), replaced from an explicit table: one cannot
be a substring of another name, and a placeholder left over (or a value the table lacks) is an error, not a silent
pass-through. The workflow's waits are computed from the tasks' and finalize's job templates (task timeout x
(retries + 1) per wave of tasks, plus START_UP_S). Standard library only: it runs wherever deploy.sh runs."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
TEMPLATES = ("job.yaml", "finalize-job.yaml", "workflow.yaml")
JOB_NAMES = {"job.yaml": "integrations-revalidate", "finalize-job.yaml": "integrations-finalize"}
PLACEHOLDER = re.compile(r"__[A-Z][A-Z0-9_]*[A-Z0-9]__")
START_UP_S = 600  # an execution's queueing, image pull and container start, on top of its tasks' time
NAME = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")  # a project id
LOCATION = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
# env a job may carry only from Secret Manager (secretKeyRef), never as a literal value in a template
SECRET_ENV = frozenset(
    {
        "SUPABASE_SERVICE_ROLE_KEY",
        "INTEGRATIONS_ALERT_WEBHOOK_URL",
        "INTEGRATIONS_ORG_ALERT_WEBHOOKS",
        "INTEGRATIONS_ALERT_SIGNING_SECRET",
    }
)


class RenderError(ValueError):
    pass


def _int_field(text: str, field: str) -> int:
    found = re.findall(rf"^\s+{field}: (\d+)\b", text, re.MULTILINE)
    if len(found) != 1:
        raise RenderError(f"expected one {field} in the job template, found {len(found)}")
    return int(found[0])


def wait_s(job_template: str) -> int:
    """How long a workflow may wait for one execution of this job: every wave of tasks may take the task timeout
    on each of its attempts (maxRetries + 1), then START_UP_S."""
    timeout, retries = _int_field(job_template, "timeoutSeconds"), _int_field(job_template, "maxRetries")
    waves = math.ceil(_int_field(job_template, "taskCount") / _int_field(job_template, "parallelism"))
    return waves * timeout * (retries + 1) + START_UP_S


def env_of(rendered_job: str) -> dict[str, str | None]:
    """The container env of a rendered job YAML of the templates' shape: name -> value, None for a secret."""
    env: dict[str, str | None] = {}
    lines = rendered_job.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^\s+- name: ([A-Z][A-Z0-9_]*)\s*(#.*)?$", line)
        if not match or i + 1 >= len(lines):
            continue
        following = lines[i + 1].strip()
        if following.startswith("value: "):
            value = following.removeprefix("value: ").split("  #")[0].strip()
            env[match.group(1)] = value[1:-1] if value[:1] == value[-1:] == '"' else value
        elif following.startswith("valueFrom:"):
            env[match.group(1)] = None
    return env


def pin(rendered_jobs: dict[str, str]) -> dict[str, object]:
    """What pinned_env.py checks at start: per job, every env name and each non-secret value (a secret: null). A
    SECRET_ENV name set by value is refused: it would be written into the YAML, the image and its label."""
    jobs = {JOB_NAMES[name]: env_of(text) for name, text in sorted(rendered_jobs.items())}
    for job, env in jobs.items():
        literal = sorted(k for k in SECRET_ENV if env.get(k) is not None)
        if literal:
            raise RenderError(f"{job} sets {', '.join(literal)} by value: take it from Secret Manager (secretKeyRef)")
    return {"version": 1, "jobs": jobs}


def pin_label(pinned: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(pinned, sort_keys=True).encode()).hexdigest()[:16]


def check_values(values: dict[str, str]) -> None:
    if not NAME.match(values["PROJECT_ID"]):
        raise RenderError(f"not a project id: {values['PROJECT_ID']!r}")
    for key in ("REGION", "BQ_LOCATION", "KEYRING", "DATASET"):
        if not LOCATION.match(values[key].replace("_", "-")):
            raise RenderError(f"not a usable {key}: {values[key]!r}")
    url = urlsplit(values["SUPABASE_URL"])
    host = re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", url.hostname or "")
    if url.scheme != "https" or not host or "_" in url.netloc or url.path not in ("", "/"):
        raise RenderError(f"SUPABASE_URL must be https://REF.supabase.co, not {values['SUPABASE_URL']!r}")
    if not re.match(r"^[a-z0-9.-]+(:\d+)?/[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$", values["IMAGE"]):
        raise RenderError(f"not an image reference: {values['IMAGE']!r}")


def substitute(text: str, values: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(0)[2:-2]
        if key not in values:
            raise RenderError(f"no value for the placeholder {match.group(0)}")
        return values[key]

    done = PLACEHOLDER.sub(one, text)
    left = PLACEHOLDER.findall(done)
    if left:
        raise RenderError(f"placeholders left: {sorted(set(left))}")
    return done


def render(
    project: str,
    region: str,
    location: str,
    supabase_url: str,
    image: str,
    dataset: str = "organizations",
    keyring: str = "integrations",
    templates: Path = HERE,
) -> dict[str, str]:
    """The rendered files by name (the three YAMLs and pinned-env.json)."""
    values = {
        "PROJECT_ID": project,
        "REGION": region,
        "BQ_LOCATION": location,
        "DATASET": dataset,
        "KEYRING": keyring,
        "SUPABASE_URL": supabase_url.rstrip("/"),
        "IMAGE": image,
    }
    check_values(values)
    sources = {name: (templates / name).read_text() for name in TEMPLATES}
    values["TASKS_WAIT_S"] = str(wait_s(sources["job.yaml"]))
    values["FINALIZE_WAIT_S"] = str(wait_s(sources["finalize-job.yaml"]))
    values["PIN_LABEL"] = "unpinned"
    jobs = {name: substitute(sources[name], values) for name in JOB_NAMES}
    pinned = pin(jobs)
    values["PIN_LABEL"] = pin_label(pinned)
    out = {name: substitute(text, values) for name, text in sources.items()}
    out["pinned-env.json"] = json.dumps(pinned, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--location", required=True, help="the BigQuery dataset's location (EU, US, europe-west1)")
    parser.add_argument("--supabase-url", required=True)
    parser.add_argument("--image", required=True)
    parser.add_argument("--dataset", default="organizations")
    parser.add_argument("--keyring", default="integrations")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--print-pin-b64", action="store_true", help="print pinned-env.json base64 (a build arg)")
    args = parser.parse_args(argv)
    try:
        files = render(
            args.project, args.region, args.location, args.supabase_url, args.image, args.dataset, args.keyring
        )
    except RenderError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text)
    if args.print_pin_b64:
        print(base64.b64encode(files["pinned-env.json"].encode()).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
