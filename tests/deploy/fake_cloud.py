"""Fake `gcloud`, `bq` and `integrations init` for rehearsing deploy/ on a fresh project, offline.

Each tool keeps the project's state in $FAKE_CLOUD_STATE (a JSON file), records every call, and fails where the
real tool fails on a project that lacks something, with Google's message and a non-zero exit: a describe or a
binding of something that does not exist, a create of something that exists, a call to an API not enabled, a
member that is not an existing service account, a BigQuery statement in another location than the dataset's, a
Cloud Run job whose account cannot read its secrets or whose image was never pushed, a workflow reading an env var
Workflows does not set. Only the commands deploy/ uses are modelled; any other is refused, so a new command in the
scripts fails the rehearsal until it is modelled here.

    python fake_cloud.py gcloud|bq|integrations ARGS...
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, NoReturn

APIS = {
    "bigquery": "bigquery.googleapis.com",
    "kms": "cloudkms.googleapis.com",
    "secrets": "secretmanager.googleapis.com",
    "artifacts": "artifactregistry.googleapis.com",
    "builds": "cloudbuild.googleapis.com",
    "run": "run.googleapis.com",
    "workflows": "workflows.googleapis.com",
    "scheduler": "cloudscheduler.googleapis.com",
    "iam": "iam.googleapis.com",
}
BOOLEAN = {"--quiet", "--nouse_legacy_sql", "--dataset", "--async"}
# https://cloud.google.com/workflows/docs/reference/environment-variables
WORKFLOW_ENV = {
    "GOOGLE_CLOUD_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT_NUMBER",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_CLOUD_WORKFLOW_ID",
    "GOOGLE_CLOUD_WORKFLOW_REVISION_ID",
    "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID",
}
LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
PROJECT_NUMBER = "123456789012"


class Failed(Exception):
    pass


def parse(argv: list[str]) -> tuple[list[str], dict[str, Any]]:
    words, flags, i = [], {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if eq:
                flags[name] = value
            elif name in BOOLEAN:
                flags[name] = True
            else:
                flags[name] = argv[i + 1]
                i += 1
        else:
            words.append(arg)
        i += 1
    return words, flags


class Cloud:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.s: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        for key in ("apis", "accounts", "roles", "datasets", "tables", "keyrings", "keys", "secrets", "repos"):
            self.s.setdefault(key, {})
        for key in ("jobs", "workflows", "schedules", "images", "bindings", "calls"):
            self.s.setdefault(key, {} if key not in ("images", "bindings", "calls") else [])

    def save(self) -> None:
        self.path.write_text(json.dumps(self.s, indent=1, sort_keys=True))

    # --- shared checks ----------------------------------------------------------------------------------------------
    def api(self, command: str, area: str, project: str) -> None:
        name = APIS[area]
        if name not in self.s["apis"].get(project, []):
            raise Failed(
                f"ERROR: ({command}) PERMISSION_DENIED: {name} has not been used in project {project} before or it "
                f"is disabled. Enable it by visiting https://console.developers.google.com/apis/api/{name}/overview"
                f"?project={PROJECT_NUMBER} then retry."
            )

    def member(self, command: str, member: str) -> None:
        kind, _, email = member.partition(":")
        if kind == "serviceAccount" and email not in self.s["accounts"]:
            raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: Service account {email} does not exist.")

    def role(self, command: str, role: str) -> None:
        if role.startswith("projects/") and role not in self.s["roles"]:
            raise Failed(
                f"ERROR: ({command}) INVALID_ARGUMENT: Role ({role}) does not exist in the resource's hierarchy."
            )

    def bind(self, resource: str, member: str, role: str) -> None:
        binding = [resource, member, role]
        if binding not in self.s["bindings"]:
            self.s["bindings"].append(binding)

    def has(self, resource: str, member: str, role: str) -> bool:
        return [resource, member, role] in self.s["bindings"]


def project_of(flags: dict[str, Any]) -> str:
    if "--project" not in flags:
        raise Failed("ERROR: (gcloud) The required property [project] is not currently set.")
    return str(flags["--project"])


def gcloud(cloud: Cloud, argv: list[str]) -> str:
    words, flags = parse(argv)
    group = " ".join(words[:3])
    command = "gcloud." + ".".join(w for w in words[:3] if not w.startswith(("integrations", "projects/")))
    s = cloud.s
    if words[:2] == ["services", "enable"]:
        s["apis"].setdefault(project_of(flags), [])
        s["apis"][project_of(flags)] = sorted(set(s["apis"][project_of(flags)]) | set(words[2:]))
        return ""
    if group.startswith("iam service-accounts"):
        project = project_of(flags)
        cloud.api(command, "iam", project)
        verb, arg = words[2], words[3]
        email = arg if "@" in arg else f"{arg}@{project}.iam.gserviceaccount.com"
        if verb == "describe":
            if email not in s["accounts"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: Unknown service account")
            return f"email: {email}\n"
        if verb == "create":
            if email in s["accounts"]:
                raise Failed(
                    f"ERROR: ({command}) Resource in projects [{project}] is the subject of a conflict: Service "
                    f"account {arg} already exists within project projects/{project}."
                )
            s["accounts"][email] = {"project": project}
            return ""
    if group.startswith("iam roles"):
        project = project_of(flags)
        cloud.api(command, "iam", project)
        verb, name = words[2], f"projects/{project}/roles/{words[3]}"
        if verb == "describe":
            if name not in s["roles"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: The role named {name} was not found.")
            return ""
        if verb == "create":
            if name in s["roles"]:
                raise Failed(
                    f"ERROR: ({command}) ALREADY_EXISTS: A role named {words[3]} in projects/{project} exists."
                )
            s["roles"][name] = sorted(flags["--permissions"].split(","))
            return ""
        if verb == "update":
            if name not in s["roles"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: The role named {name} was not found.")
            s["roles"][name] = sorted(flags["--permissions"].split(","))
            return ""
    if words[:2] == ["projects", "add-iam-policy-binding"]:
        cloud.member(command, flags["--member"])
        cloud.role(command, flags["--role"])
        cloud.bind(f"projects/{words[2]}", flags["--member"], flags["--role"])
        return ""
    if words[0] == "kms":
        return kms(cloud, command, words, flags)
    if words[0] == "secrets":
        return secrets(cloud, command, words, flags)
    if group.startswith("artifacts repositories"):
        project = project_of(flags)
        cloud.api(command, "artifacts", project)
        name = f"projects/{project}/locations/{flags['--location']}/repositories/{words[3]}"
        if words[2] == "describe":
            if name not in s["repos"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: Requested entity was not found.")
            return ""
        if words[2] == "create":
            if name in s["repos"]:
                raise Failed(f"ERROR: ({command}) ALREADY_EXISTS: the repository already exists")
            s["repos"][name] = flags["--repository-format"]
            return ""
    if words[:2] == ["builds", "submit"]:
        return build(cloud, command, words, flags)
    if words[:2] == ["run", "jobs"]:
        return run_jobs(cloud, command, words, flags)
    if words[:2] == ["workflows", "deploy"]:
        return deploy_workflow(cloud, command, words, flags)
    if words[:2] == ["scheduler", "jobs"]:
        return schedule(cloud, command, words, flags)
    raise Failed(f"fake gcloud: not modelled: gcloud {' '.join(argv)}")


def kms(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    project = project_of(flags)
    cloud.api(command, "kms", project)
    ring = f"projects/{project}/locations/{flags['--location']}/keyRings/"
    if words[1] == "keyrings":
        name = ring + words[3]
        if words[2] == "describe":
            if name not in cloud.s["keyrings"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: KeyRing {name} not found.")
            return ""
        if words[2] == "create":
            if name in cloud.s["keyrings"]:
                raise Failed(f"ERROR: ({command}) ALREADY_EXISTS: KeyRing {name} already exists.")
            cloud.s["keyrings"][name] = {}
            return ""
    if words[1] == "keys":
        ring += flags["--keyring"]
        name = f"{ring}/cryptoKeys/{words[3]}"
        if words[2] in ("describe", "add-iam-policy-binding") and name not in cloud.s["keys"]:
            if ring not in cloud.s["keyrings"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: KeyRing {ring} not found.")
            raise Failed(f"ERROR: ({command}) NOT_FOUND: CryptoKey {name} not found.")
        if words[2] == "describe":
            return ""
        if words[2] == "create":
            if ring not in cloud.s["keyrings"]:
                raise Failed(f"ERROR: ({command}) NOT_FOUND: KeyRing {ring} not found.")
            if name in cloud.s["keys"]:
                raise Failed(f"ERROR: ({command}) ALREADY_EXISTS: CryptoKey {name} already exists.")
            purpose = flags["--purpose"]
            if purpose == "mac" and flags.get("--default-algorithm") != "hmac-sha256":
                raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: a MAC key needs --default-algorithm hmac-*.")
            cloud.s["keys"][name] = purpose
            return ""
        if words[2] == "add-iam-policy-binding":
            cloud.member(command, flags["--member"])
            cloud.bind(name, flags["--member"], flags["--role"])
            return ""
    raise Failed(f"fake gcloud: not modelled: kms {words}")


def secrets(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    project = project_of(flags)
    cloud.api(command, "secrets", project)
    s = cloud.s["secrets"]
    if words[1] == "versions":
        secret = flags["--secret"] if words[2] == "describe" else words[3]
        name = f"projects/{PROJECT_NUMBER}/secrets/{secret}"
        if secret not in s:
            raise Failed(f"ERROR: ({command}) NOT_FOUND: Secret [{name}] not found or has no versions.")
        if words[2] == "describe":
            if not s[secret]:
                raise Failed(
                    f"ERROR: ({command}) NOT_FOUND: Secret Version [{name}/versions/{words[3]}] not found or has no "
                    "versions."
                )
            return ""
        if words[2] == "add":
            data = Path(flags["--data-file"]).read_bytes()
            if not data:
                raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: Secret Payload cannot be empty.")
            s[secret].append(len(data))  # its size only: the fake keeps no secret
            return ""
    secret = words[2]
    name = f"projects/{PROJECT_NUMBER}/secrets/{secret}"
    if words[1] in ("describe", "add-iam-policy-binding") and secret not in s:
        raise Failed(f"ERROR: ({command}) NOT_FOUND: Secret [{name}] not found or has no versions.")
    if words[1] == "describe":
        return ""
    if words[1] == "create":
        if secret in s:
            raise Failed(f"ERROR: ({command}) ALREADY_EXISTS: Secret [{name}] already exists.")
        s[secret] = []
        return ""
    if words[1] == "add-iam-policy-binding":
        cloud.member(command, flags["--member"])
        cloud.bind(f"secrets/{secret}", flags["--member"], flags["--role"])
        return ""
    raise Failed(f"fake gcloud: not modelled: secrets {words}")


def build(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    """Cloud Build: the config's docker build (the Dockerfile's `test -n "$PINNED_ENV_B64"` and its JSON check
    included), then the push into an existing Artifact Registry repository."""
    import yaml  # here, not at the top: most calls need no YAML (a process start each)

    project = project_of(flags)
    cloud.api(command, "builds", project)
    config = yaml.safe_load(Path(flags["--config"]).read_text())
    [step] = config["steps"]
    args = step["args"]
    build_args = dict(a.split("=", 1) for a in (args[i + 1] for i, a in enumerate(args) if a == "--build-arg"))
    pinned = build_args.get("PINNED_ENV_B64", "")
    if not pinned:
        raise Failed('ERROR: build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1')
    json.loads(base64.b64decode(pinned))
    dockerfile = Path(words[2]) / args[args.index("-f") + 1]
    if not dockerfile.is_file():
        raise Failed(f"ERROR: unable to prepare context: unable to evaluate symlinks in Dockerfile path: {dockerfile}")
    for image in config["images"]:
        host, proj, repo, _ = image.split("/", 3)
        location = host.removesuffix("-docker.pkg.dev")
        if f"projects/{proj}/locations/{location}/repositories/{repo}" not in cloud.s["repos"]:
            raise Failed(f'ERROR: failed to push {image}: name unknown: Repository "{repo}" not found')
        cloud.s["images"].append({"image": image, "pinned": json.loads(base64.b64decode(pinned))})
    return ""


def _job_checks(cloud: Cloud, command: str, job: dict[str, Any], project: str) -> None:
    if job.get("apiVersion") != "run.googleapis.com/v1" or job.get("kind") != "Job":
        raise Failed(f"ERROR: ({command}) apiVersion run.googleapis.com/v1 and kind Job expected")
    for key, value in (job["metadata"].get("labels") or {}).items():
        if not LABEL_VALUE.match(str(value)):
            raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: label value {value!r} of {key!r} is not valid")
    execution = job["spec"]["template"]["spec"]
    task = execution["template"]["spec"]
    if int(task["timeoutSeconds"]) > 7 * 24 * 3600 or int(execution["parallelism"]) > int(execution["taskCount"]):
        raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: task timeout or parallelism out of range")
    account = task["serviceAccountName"]
    if account not in cloud.s["accounts"]:
        raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: Service account {account} does not exist.")
    [container] = task["containers"]
    if not any(i["image"] == container["image"] for i in cloud.s["images"]):
        raise Failed(f"ERROR: ({command}) Image '{container['image']}' not found.")
    for env in container.get("env", []):
        if env["name"].startswith("CLOUD_RUN_") or env["name"] in ("PORT", "K_SERVICE"):
            raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: The env var {env['name']} is reserved.")
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = ref["name"]
            if not cloud.s["secrets"].get(secret):
                raise Failed(
                    f"ERROR: ({command}) Secret projects/{project}/secrets/{secret}/versions/latest was not found"
                )
            if not cloud.has(f"secrets/{secret}", f"serviceAccount:{account}", "roles/secretmanager.secretAccessor"):
                raise Failed(
                    f"ERROR: ({command}) Permission denied on secret: projects/{PROJECT_NUMBER}/secrets/{secret}/"
                    f"versions/latest for Revision service account {account}. The service account used must be "
                    "granted the 'Secret Manager Secret Accessor' role (roles/secretmanager.secretAccessor) at the "
                    "secret, project or higher level."
                )


def run_jobs(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    project = project_of(flags)
    cloud.api(command, "run", project)
    region = flags["--region"]
    if words[2] == "replace":
        import yaml

        job = yaml.safe_load(Path(words[3]).read_text())
        _job_checks(cloud, command, job, project)
        cloud.s["jobs"][f"{project}/{region}/{job['metadata']['name']}"] = job
        return ""
    name = f"{project}/{region}/{words[3]}"
    if name not in cloud.s["jobs"]:
        if words[2] == "describe":
            raise Failed(f"ERROR: ({command}) Cannot find job [{words[3]}].")
        raise Failed(
            f"ERROR: ({command}) NOT_FOUND: Resource '{words[3]}' of kind 'JOB' in region '{region}' in project "
            f"'{project}' does not exist."
        )
    if words[2] == "describe":
        return ""
    if words[2] == "add-iam-policy-binding":
        cloud.member(command, flags["--member"])
        cloud.role(command, flags["--role"])
        cloud.bind(f"jobs/{name}", flags["--member"], flags["--role"])
        return ""
    raise Failed(f"fake gcloud: not modelled: run jobs {words}")


def deploy_workflow(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    project = project_of(flags)
    cloud.api(command, "workflows", project)
    account = flags["--service-account"]
    if account not in cloud.s["accounts"]:
        raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: Service account {account} does not exist.")
    source = Path(flags["--source"]).read_text()
    if re.search(r"__[A-Z][A-Z0-9_]*__", source):
        raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: failed to build: unknown identifier in the source")
    import yaml

    flow = yaml.safe_load(source)
    for name in re.findall(r'sys\.get_env\("([^"]+)"\)', source):
        if name not in WORKFLOW_ENV:
            raise Failed(f"ERROR: ({command}) workflow execution would fail: env var {name} is not set")
    if "main" not in flow or "steps" not in flow["main"]:
        raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: failed to build: no main workflow")
    cloud.s["workflows"][f"{project}/{flags['--location']}/{words[2]}"] = {"account": account, "source": flow}
    return ""


def schedule(cloud: Cloud, command: str, words: list[str], flags: dict[str, Any]) -> str:
    project = project_of(flags)
    cloud.api(command, "scheduler", project)
    verb = words[2]
    name = f"projects/{project}/locations/{flags['--location']}/jobs/{words[-1]}"
    if verb == "describe":
        if name not in cloud.s["schedules"]:
            raise Failed(f"ERROR: ({command}) NOT_FOUND: Job not found.")
        return ""
    if verb in ("create", "update"):
        if (verb == "create") == (name in cloud.s["schedules"]):
            raise Failed(f"ERROR: ({command}) {'ALREADY_EXISTS' if verb == 'create' else 'NOT_FOUND'}: Job {name}")
        account = flags["--oauth-service-account-email"]
        if account not in cloud.s["accounts"]:
            raise Failed(f"ERROR: ({command}) INVALID_ARGUMENT: Service account {account} does not exist.")
        cloud.s["schedules"][name] = {"uri": flags["--uri"], "schedule": flags["--schedule"], "account": account}
        return ""
    raise Failed(f"fake gcloud: not modelled: scheduler {words}")


def bq(cloud: Cloud, argv: list[str]) -> str:
    words, flags = parse(argv)
    verb = words[0]
    project = (words[-1].split(":")[0]) if ":" in words[-1] else ""
    if verb != "query":
        cloud.api(f"bq.{verb}", "bigquery", project)
    if verb == "show":
        dataset = words[1]
        if dataset not in cloud.s["datasets"]:
            raise Failed(f"BigQuery error in show operation: Not found: Dataset {dataset}")
        return json.dumps({"location": cloud.s["datasets"][dataset]})
    if verb == "mk" and flags.get("--dataset"):
        dataset = words[1]
        if dataset in cloud.s["datasets"]:
            raise Failed(f"BigQuery error in mk operation: Dataset '{dataset}' already exists.")
        cloud.s["datasets"][dataset] = flags.get("--location", "US")
        return f"Dataset '{dataset}' successfully created."
    if verb == "add-iam-policy-binding":
        table = words[1]
        if table not in cloud.s["tables"]:
            kind = "Table" if "." in table.split(":")[1] else "Dataset"
            raise Failed(f"BigQuery error in add-iam-policy-binding operation: Not found: {kind} {table}")
        cloud.member("bq", flags["--member"])
        cloud.bind(f"bigquery/{table}", flags["--member"], flags["--role"])
        return ""
    if verb == "query":
        statement = words[1]
        grant = re.fullmatch(r"GRANT `([^`]+)` ON SCHEMA `([^`]+)`\.(\w+) TO \"([^\"]+)\"", statement.strip())
        if not grant or not flags.get("--nouse_legacy_sql"):
            raise Failed(f"fake bq: not modelled: {statement[:80]}")
        role, proj, dataset, member = grant.groups()
        cloud.api("bq.query", "bigquery", proj)
        location = flags.get("--location", "US")
        if cloud.s["datasets"].get(f"{proj}:{dataset}") != location:
            raise Failed(
                f"BigQuery error in query operation: Error processing job '{proj}:bqjob_r1': Not found: Dataset "
                f"{proj}:{dataset} was not found in location {location}"
            )
        cloud.member("bq", member)
        cloud.bind(f"bigquery/{proj}:{dataset}", member, role)
        return ""
    raise Failed(f"fake bq: not modelled: bq {' '.join(argv)}")


def integrations(cloud: Cloud, argv: list[str]) -> str:
    """`integrations init` with the gcp settings: the tables the library creates (store/bigquery/sql.TABLES), in
    the dataset at INTEGRATIONS_BIGQUERY_LOCATION, as the real init does (tested against the BigQuery double)."""
    from integrations.store.bigquery.sql import TABLES

    if argv != ["init"]:
        raise Failed(f"fake integrations: not modelled: {argv}")
    project = os.environ["INTEGRATIONS_GCP_PROJECT"]
    dataset = f"{project}:{os.environ.get('INTEGRATIONS_BIGQUERY_DATASET', 'organizations')}"
    location = os.environ.get("INTEGRATIONS_BIGQUERY_LOCATION", "US")
    if dataset not in cloud.s["datasets"]:
        raise Failed(f"STORAGE_FAILED: The dataset {dataset.replace(':', '.')} does not exist.")
    if cloud.s["datasets"][dataset] != location:
        raise Failed(f"STORAGE_FAILED: Not found: Dataset {dataset} was not found in location {location}")
    for table in TABLES:
        cloud.s["tables"].setdefault(f"{dataset}.{table}", {})
    return "ready\n"


def fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    sys.exit(1)


def main() -> None:
    tool, argv = sys.argv[1], sys.argv[2:]
    cloud = Cloud(Path(os.environ["FAKE_CLOUD_STATE"]))
    cloud.s["calls"].append([tool, *argv])
    try:
        out = {"gcloud": gcloud, "bq": bq, "integrations": integrations}[tool](cloud, argv)
    except Failed as exc:
        cloud.s["calls"][-1].insert(0, "FAILED")
        cloud.save()
        fail(str(exc))
    cloud.save()
    sys.stdout.write(out)


if __name__ == "__main__":
    main()
