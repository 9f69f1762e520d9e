"""BigQuery jobs and wall time of a bulk load of new orgs on the BigQuery double (`integrations demo --orgs N`'s
register_orgs: the demo fleet's plan, 1 to 3 credentials an org, every credential encrypted as a setup does):
python -m tests.benchmarks.bulkload [ORGS] [JOB_S] [ONE_BY_ONE_ORGS].

The store's add_new_orgs (one job per batch of 500 orgs) is timed with the double at JOB_S a job (1 s: a BigQuery
job's usual floor). The one-call-per-row path it replaced (the port's former default: add_api_key per key, one
append_events, activate per credential) is counted at ORGS with no delay, since at 1 s a job it runs for an hour,
and timed at JOB_S on ONE_BY_ONE_ORGS orgs to show that its time is its jobs times JOB_S (the calls are sequential)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from integrations.demo import FLEET_MARKERS, anthropic_key, openai_key, service_account_json
from integrations.domain import Event, OrgApiKey, Provider, StoredCredential
from integrations.store.bigquery import BigQueryStore

from tests.benchmarks.__main__ import line
from tests.doubles.bigquery import PROJECT, DuckBigQuery


class OneByOne(BigQueryStore):
    """The BigQuery store as it was before add_new_orgs was batched: the port's default, one call per row."""

    def add_new_orgs(
        self, keys: list[OrgApiKey], setups: list[tuple[StoredCredential, Event]], events: list[Event]
    ) -> None:
        for key in keys:
            self.add_api_key(key)
        self.append_events(events)
        for record, event in setups:
            self.activate(record, event)


def fleet_plan(orgs: int) -> dict[str, dict[Provider | str, str]]:
    """seed_fleet's plan: org-00000 ... with one to three providers each."""
    gcp = service_account_json("fleet@demo-project.iam.gserviceaccount.com")
    plan: dict[str, dict[Provider | str, str]] = {}
    for i in range(orgs):
        marker = FLEET_MARKERS[i // 40 % len(FLEET_MARKERS)] if i % 40 == 7 else ""
        keys = {Provider.OPENAI: openai_key(marker), Provider.ANTHROPIC: anthropic_key(), Provider.GCP: gcp}
        plan[f"org-{i:05d}"] = {p: keys[p] for p in list(Provider)[: 1 + i % 3]}
    return plan


def load(root: Path, store_class: type[BigQueryStore], orgs: int, job_s: float) -> tuple[int, float, int]:
    """(jobs, wall seconds, credentials) of register_orgs over `orgs` new orgs on a fresh double."""
    from integrations.bootstrap import build_validators
    from integrations.crypto.local import LocalKeyring
    from integrations.service import IntegrationService
    from integrations.settings import Settings
    from integrations.status_cache.sqlite import SqliteStatusCache

    client = DuckBigQuery()
    store = store_class(client, PROJECT)
    store.init()
    cache = SqliteStatusCache(root / "status.sqlite")
    cache.init()
    settings = Settings(_env_file=None, data_dir=root, attempts_per_minute=0)
    svc = IntegrationService(
        store, LocalKeyring(root / "local.keyring"), cache, build_validators(settings), attempts_per_minute=0
    )
    plan = fleet_plan(orgs)
    client.job_delay_s = job_s
    before, started = client.jobs, time.perf_counter()
    svc.register_orgs(plan)
    wall, jobs = time.perf_counter() - started, client.jobs - before
    client.job_delay_s = 0.0
    return jobs, wall, len(store.list_credentials())


def main(orgs: int = 1000, job_s: float = 1.0, small: int = 10) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, cls, n, delay in (
            ("batched (add_new_orgs)", BigQueryStore, orgs, job_s),
            ("one by one (before)", OneByOne, orgs, 0.0),
            ("one by one (before)", OneByOne, small, job_s),
        ):
            (root / f"{name[:3]}-{n}-{delay}").mkdir(mode=0o700)
            jobs, wall, creds = load(root / f"{name[:3]}-{n}-{delay}", cls, n, delay)
            line(
                f"bulk load of {n} orgs ({creds} credentials), {name}",
                f"{jobs} jobs, {wall:.1f}s at {delay:g} s/job"
                + (f" (~{jobs * job_s:.0f}s at {job_s:g} s/job)" if delay == 0 else ""),
            )


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        int(args[0]) if args else 1000, float(args[1]) if len(args) > 1 else 1.0, int(args[2]) if len(args) > 2 else 10
    )
