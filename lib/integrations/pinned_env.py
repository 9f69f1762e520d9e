"""The env a Cloud Run job was deployed with, pinned into its image: an execution started with overridden env
(`run.jobs.runWithOverrides`, which the workflow's identity holds to pass the run id) refuses to start.

deploy/render.py writes the pin from the rendered job YAMLs: per job, every env name it sets and the value of each
non-secret one (a secret from Secret Manager is pinned by name only: null). deploy/Dockerfile bakes it into the image
at PIN_FILE, owned by root and read-only; an override can change a job's env and arguments, not its image. On a
machine without the file (development, tests, the API) nothing is checked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import Code, IntegrationError

# Cloud Run Jobs' own variables: which task of how many, in which execution (read by taskspec.py and the CLI)
ENV_INDEX, ENV_COUNT, ENV_RUN = "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT", "CLOUD_RUN_EXECUTION"
PIN_FILE = Path("/etc/integrations/pinned-env.json")  # not a setting: an env var could move it
GUARDED_PREFIXES = ("INTEGRATIONS_", "SUPABASE_")
# Not settings of ours, but each redirects where the job's requests (and their bearer tokens) go, or whom it trusts
GUARDED_NAMES = frozenset(
    {
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "GRPC_PROXY",
        "NO_PROXY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
        "GOOGLE_API_USE_CLIENT_CERTIFICATE",
        "GOOGLE_API_USE_MTLS_ENDPOINT",
        "GCE_METADATA_HOST",
        "GCE_METADATA_IP",
        "GCE_METADATA_ROOT",
        "BIGQUERY_EMULATOR_HOST",
        "PYTHONPATH",
        "PYTHONHOME",
    }
)


def guarded(name: str) -> bool:
    return name.upper() in GUARDED_NAMES or name.startswith(GUARDED_PREFIXES)


def differences(env: Mapping[str, str], pinned: Mapping[str, str | None]) -> list[str]:
    """The env names in which `env` differs from one job's pin (added, missing, or another value); names only,
    never a value (a value may be a secret)."""
    present = {k: v for k, v in env.items() if guarded(k)}
    added = sorted(set(present) - set(pinned))
    missing = sorted(set(pinned) - set(present))
    changed = sorted(k for k, v in pinned.items() if k in present and v is not None and present[k] != v)
    return [*(f"+{k}" for k in added), *(f"-{k}" for k in missing), *(f"~{k}" for k in changed)]


def check(env: Mapping[str, str], pin_file: Path | None = None) -> None:
    """Refuse (SETTINGS_OVERRIDDEN) an env that matches none of the pinned jobs; nothing when there is no pin."""
    path = pin_file or PIN_FILE
    if not path.is_file():
        return
    try:
        pin: Any = json.loads(path.read_text())
        jobs: dict[str, dict[str, str | None]] = pin["jobs"]
    except (ValueError, KeyError, TypeError):
        raise IntegrationError(
            Code.SETTINGS_OVERRIDDEN, f"The pinned env {path} is not readable: rebuild the image."
        ) from None
    found = {name: differences(env, pinned) for name, pinned in jobs.items()}
    if any(not diff for diff in found.values()):
        return
    job = env.get("CLOUD_RUN_JOB", "")
    diff = found.get(job) or min(found.values(), key=len, default=[])
    raise IntegrationError(
        Code.SETTINGS_OVERRIDDEN,
        f"This execution's env differs from the env its job was deployed with ({', '.join(diff[:12])}; + added, "
        "- removed, ~ changed): refusing to start.",
    )
