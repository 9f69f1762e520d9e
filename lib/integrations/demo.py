"""Demo data: a handful of orgs in every state, so the console has something to show. Idempotent."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .domain import Provider, Status
from .service import IntegrationService

DEMO_ACTOR = "demo-seed"
KEYS_FILE = "demo-org-keys.txt"


def service_account_json(client_email: str, project_id: str = "demo-project") -> str:
    """A well-formed service-account key file with a freshly generated RSA key (not registered anywhere)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": project_id,
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": client_email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
            "universe_domain": "googleapis.com",
        },
        indent=2,
    )


def openai_key(marker: str = "", kind: str = "proj") -> str:
    return f"sk-{kind}-{marker}{secrets.token_urlsafe(30)}".replace("--", "-")


def anthropic_key(marker: str = "") -> str:
    return f"sk-ant-api03-{marker}{secrets.token_urlsafe(30)}"


def seed(svc: IntegrationService) -> dict[str, str]:
    """Create the demo orgs that do not exist yet; returns {org_slug: org API key} for those created."""
    if svc.sandboxed is False:
        raise RuntimeError("Demo data needs sandbox validation (INTEGRATIONS_VALIDATION=sandbox).")
    existing = set(svc.orgs())
    plan = {
        "acmecorp": "Acme Corp",
        "globex": "Globex Corporation",
        "initech": "Initech",
        "umbrella": "Umbrella Health",
        "hooli": "Hooli",
        "stark-industries": "Stark Industries",
    }
    keys = {slug: svc.register_org(slug, name=name) for slug, name in plan.items() if slug not in existing}
    if "acmecorp" in keys:
        svc.setup(
            "acmecorp",
            Provider.OPENAI,
            openai_key(),
            credential_name="OpenAI Production Key",
            metadata={"environment": "production"},
            actor=DEMO_ACTOR,
        )
        svc.setup(
            "acmecorp", Provider.ANTHROPIC, anthropic_key(), credential_name="Claude for support", actor=DEMO_ACTOR
        )
        svc.setup(
            "acmecorp",
            Provider.GCP,
            service_account_json("billing-export@acme-prod.iam.gserviceaccount.com", "acme-prod"),
            credential_name="Billing export",
            actor=DEMO_ACTOR,
        )
    if "globex" in keys:  # stored unchecked, then the provider revoked it
        svc.setup(
            "globex",
            Provider.OPENAI,
            openai_key("revoked"),
            credential_name="Old team key",
            skip_validation=True,
            actor=DEMO_ACTOR,
        )
        svc.validate("globex", Provider.OPENAI, actor=DEMO_ACTOR)
        svc.setup(
            "globex",
            Provider.ANTHROPIC,
            anthropic_key(),
            credential_name="Awaiting check",
            skip_validation=True,
            actor=DEMO_ACTOR,
        )
    if "umbrella" in keys:  # a genuine key missing a BigQuery permission
        svc.setup(
            "umbrella",
            Provider.GCP,
            service_account_json("reader-noperms@umbrella-data.iam.gserviceaccount.com", "umbrella-data"),
            credential_name="Analytics SA",
            skip_validation=True,
            actor=DEMO_ACTOR,
        )
        svc.validate("umbrella", Provider.GCP, actor=DEMO_ACTOR)
        svc.setup(
            "umbrella", Provider.OPENAI, openai_key(kind="svcacct"), credential_name="Service account", actor=DEMO_ACTOR
        )
    if "hooli" in keys:  # the cache says PENDING while the record says VALID: a drift to reconcile
        svc.setup("hooli", Provider.ANTHROPIC, anthropic_key(), credential_name="Research", actor=DEMO_ACTOR)
        svc.simulate_drift("hooli", Provider.ANTHROPIC, Status.PENDING)
    if "stark-industries" in keys:
        svc.setup("stark-industries", Provider.OPENAI, openai_key(), credential_name="Labs", actor=DEMO_ACTOR)
    seed_keyless(svc, keys)
    return keys


# Keyless GCP (no key file) in the states the sandbox plays (sandbox_google.py), on demo orgs without a GCP key
# file: granted (hooli), a domain-restricted org whose grant Google refused (stark-industries: the error the customer
# pasted names it) and an export in another location (globex). Any org can try the others from the console:
# an export table in a project named *-notgranted, *-vpcsc, *-notbilling or *-apidisabled.
KEYLESS_DEMO = {
    "hooli": ("hooli-billing", {}),
    "stark-industries": (
        "stark-restricted",
        {
            "grant_error": "ERROR: (gcloud.projects.add-iam-policy-binding) FAILED_PRECONDITION: One or more users "
            "named in the policy do not belong to a permitted customer."
        },
    ),
    "globex": ("globex-wrongloc", {}),
}


def seed_keyless(svc: IntegrationService, keys: dict[str, str]) -> None:
    """The keyless demo setups of the orgs created now."""
    for slug, (project, metadata) in KEYLESS_DEMO.items():
        if slug in keys:
            table = f"{project}.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9"
            svc.setup_keyless(slug, table, None, "Billing export (keyless)", metadata or None, DEMO_ACTOR)


def save_keys(data_dir: Path, keys: dict[str, str]) -> Path:
    """Append new demo orgs' API keys to `data_dir/demo-org-keys.txt`, readable by the owner only (0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / KEYS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # also when the file was there before, with other permissions
    with os.fdopen(fd, "a") as out:
        out.writelines(f"{slug}\t{key}\n" for slug, key in keys.items())
    return path


FLEET_MARKERS = ("revoked", "noperms", "unreachable")  # one org in 40 each: INVALID, INVALID, left PENDING


def seed_fleet(
    svc: IntegrationService,
    orgs: int,
    progress: Callable[[int, int], None] | None = None,
    keys_dir: Path | None = None,
) -> dict[str, int]:
    """A large demo data set for the console at scale: `orgs` orgs (org-00000, ...) with one to three providers
    each, stored without checks, then re-validated in one bulk run (the sandbox answers at once), so statuses are
    mostly VALID with some INVALID and PENDING. Orgs already there are skipped, and only the orgs created now are
    checked: when none is, nothing is written and no run is started (a re-run leaves "the last run" alone). The new
    orgs' API keys are appended to `keys_dir`/demo-org-keys.txt (0600, one write) when `keys_dir` is given. The orgs
    and their credentials are written in batches (register_orgs: every credential format-checked and encrypted as a
    setup does); most of the time is the bulk run's checks (about 2.5 ms of CPU each through the providers' SDKs)."""
    if svc.sandboxed is False:
        raise RuntimeError("Demo data needs sandbox validation (INTEGRATIONS_VALIDATION=sandbox).")
    slugs = [f"org-{i:05d}" for i in range(orgs)]
    existing, gcp = set(svc.orgs()), service_account_json("fleet@demo-project.iam.gserviceaccount.com")
    plan: dict[str, dict[Provider | str, str]] = {}
    for i, slug in enumerate(slugs):
        if slug not in existing:
            marker = FLEET_MARKERS[i // 40 % len(FLEET_MARKERS)] if i % 40 == 7 else ""
            keys = {Provider.OPENAI: openai_key(marker), Provider.ANTHROPIC: anthropic_key(), Provider.GCP: gcp}
            plan[slug] = {provider: keys[provider] for provider in list(Provider)[: 1 + i % 3]}
    skipped = orgs - len(plan)
    if progress:
        progress(skipped, orgs)
    if not plan:
        return {"orgs": 0, "checked": 0, "changed": 0}
    created = svc.register_orgs(
        plan, actor=DEMO_ACTOR, progress=(lambda done, _: progress(skipped + done, orgs)) if progress else None
    )
    if keys_dir is not None:
        save_keys(keys_dir, created)
    # the sandbox answers at once: a few threads per provider (64 spent their time starting and switching)
    report = svc.revalidate_many(orgs=list(plan), concurrency=8, actor=DEMO_ACTOR)
    return {"orgs": len(plan), "checked": report.checked, "changed": report.changed}
