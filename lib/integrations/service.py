"""IntegrationService: the library's public face. A thin facade: each method hands its `Deps` to a use case."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from . import limits
from .crypto.base import Cipher
from .deps import Deps, Parts
from .domain import CredentialKind, OrgApiKey, Provider, Status, StoredCredential
from .errors import IntegrationError
from .providers import kinds
from .providers.base import Validator
from .providers.kinds import Need
from .results import (
    DeleteResult,
    DiagnosticStep,
    Integration,
    Keyless,
    KeylessInfo,
    KeyTestResult,
    OrgIntegrations,
    SetupResult,
    ValidateResult,
)
from .settings import Settings
from .status_cache.base import StatusCache
from .store.base import IntegrationStore
from .store.staging import RunProgress
from .taskspec import RunReport, TaskReport, TaskSpec
from .usecases import (
    alerting,
    bulkload,
    checks,
    credentials,
    diagnostics,
    health,
    inspection,
    keys,
    maintenance,
    orgs,
    reads,
    revalidation,
    runs,
)
from .usecases.checks import Assessment
from .usecases.credentials import StepCallback
from .usecases.maintenance import Progress, ReconcileReport, RewrapReport
from .usecases.revalidation import Target

if TYPE_CHECKING:
    import pandas as pd
else:
    from .lazy_modules import pandas as pd  # imported when a frame is first built

__all__ = ["Assessment", "IntegrationService"]


class IntegrationService(Parts):
    """Set up, read, validate and delete provider credentials for organizations."""

    def __init__(
        self,
        store: IntegrationStore | None = None,
        cipher: Cipher | None = None,
        cache: StatusCache | None = None,
        validators: Mapping[Provider, Validator] | None = None,
        *,
        attempts_per_minute: int = 20,
        backends: dict[str, str] | None = None,
        settings: Settings | None = None,
        deps: Deps | None = None,
    ) -> None:
        """From `deps` (what connect() passes), or from adapters already built (tests handing in fakes)."""
        if deps is None:
            if store is None or cipher is None or cache is None or validators is None:
                raise TypeError("IntegrationService needs deps, or a store, a cipher, a cache and validators")
            deps = Deps.wire(
                store,
                cipher,
                cache,
                validators,
                attempts_per_minute=attempts_per_minute,
                backends=backends,
                settings=settings,
            )
        self.deps = deps

    @property
    def sandboxed(self) -> bool:
        """True when provider checks are simulated."""
        return self.deps.backends.get("validation") == "sandbox"

    @property
    def reads_billed(self) -> bool:
        """True when each store read is a billed job (BigQuery): pages that poll (runs in progress) poll less."""
        return self.deps.store.reads_billed

    # --- orgs and their API keys ----------------------------------------------------------------------------
    def register_org(self, org_slug: str, name: str | None = None, actor: str = "system") -> str:
        """Issue an org API key (returned once), registering the org (see usecases/orgs.register)."""
        return orgs.register(self.deps, org_slug, name, limits.actor_name(actor))

    def register_orgs(
        self,
        plan: Mapping[str, Mapping[Provider | str, str | SecretStr]],
        actor: str = "system",
        progress: Progress | None = None,
    ) -> dict[str, str]:
        """Register new orgs, each with its credentials stored unchecked (PENDING), in batched writes: what
        register_org and setup(skip_validation=True) do one call at a time (usecases/bulkload.py). Everything is
        checked before anything is written. Returns {org_slug: org API key}, shown once."""
        return bulkload.register_many(self.deps, plan, limits.actor_name(actor), progress)

    def orgs(self) -> list[str]:
        """Every registered org's slug, from the system of record (works while the status cache is down)."""
        return orgs.registered(self.deps)

    def require_org(self, org_slug: str) -> str:
        """The slug, checked; ORG_NOT_FOUND unless the system of record has the org (the cache is not asked)."""
        return orgs.require(self.deps, org_slug)

    def alert_signing_secret(self, org_slug: str | None = None) -> str:
        """The secret the org's alert webhook (None: the operator's) verifies our signed posts with; show it once."""
        return alerting.signing_secret(self.deps, org_slug)

    def rotate_org_key(self, org_slug: str, actor: str = "system") -> str:
        """Revoke the org's API keys and issue a new one, returned once."""
        return orgs.rotate(self.deps, org_slug, limits.actor_name(actor))

    def revoke_org_keys(self, org_slug: str, actor: str = "system") -> int:
        """Revoke every live API key of the org; returns how many."""
        return orgs.revoke(self.deps, org_slug, limits.actor_name(actor))

    def authenticate(self, org_slug: str, api_key: str | None) -> OrgApiKey:
        """The live key record if `api_key` is a key of `org_slug`; ORG_API_KEY_MISSING / _INVALID / _FORBIDDEN."""
        return orgs.authenticate(self.deps, org_slug, api_key)

    # --- credentials -----------------------------------------------------------------------------------------
    def setup(
        self,
        org_slug: str,
        provider: Provider | str,
        credential: str | SecretStr | None,
        credential_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        skip_validation: bool = False,
        actor: str = "system",
        on_step: StepCallback | None = None,
        keyless: Keyless | None = None,
        need: Need | None = None,
    ) -> SetupResult:
        """Format check -> live check (unless skipped) -> encrypt -> store (rotating) -> status sync.

        A rotation keeps the current credential's name and metadata unless new ones are given
        (`metadata={}` clears them). `keyless` (GCP): no key; the org's principal is granted read access. `need`
        ("cost data" or "inference"): a key that cannot do it is refused before any network call (WRONG_KEY_KIND)."""
        return credentials.setup(
            self.deps,
            org_slug,
            provider,
            credential,
            credential_name,
            metadata,
            skip_validation,
            limits.actor_name(actor),
            on_step,
            keyless,
            need,
        )

    def setup_keyless(
        self,
        org_slug: str,
        export_table: str,
        customer_service_account: str | None = None,
        credential_name: str | None = None,
        metadata: dict[str, Any] | None = None,
        actor: str = "system",
        on_step: StepCallback | None = None,
    ) -> SetupResult:
        """GCP without a key file: the billing export table (and the customer's service account for impersonation).
        Stored PENDING with what to do while the customer's grant is missing; VALID once the dry run reads."""
        return self.setup(
            org_slug,
            Provider.GCP,
            None,
            credential_name,
            metadata,
            False,
            actor,
            on_step,
            Keyless(export_table, customer_service_account),
        )

    @staticmethod
    def google_blocker(text: str) -> str | None:
        """The catalog code a Google error text names (a customer's pasted gcloud/console error), or None."""
        return credentials.google_blocker(text)

    def keyless_info(self, org_slug: str) -> KeylessInfo:
        """The org's principal, our customer ID and the grant commands (before or after setup). Read from the
        record's metadata and hint: nothing is decrypted to draw a page."""
        return credentials.keyless_info_of(self.deps, org_slug)

    def test_credential(
        self,
        org_slug: str,
        provider: Provider | str,
        credential: str | SecretStr,
        metadata: dict[str, Any] | None = None,
        actor: str = "system",
        need: Need | None = None,
    ) -> KeyTestResult:
        """Format check and live check without saving: no ciphertext, no status change, no cache write. Counts
        against the org's attempt limit and leaves a TEST event (never the key)."""
        return credentials.check_without_saving(
            self.deps, org_slug, provider, credential, metadata, limits.actor_name(actor), need
        )

    def check_format(self, provider: Provider | str, credential: str | SecretStr) -> str:
        """Format-check a credential without storing or sending it; returns its hint."""
        return credentials.check_format(self.deps, provider, credential)

    @staticmethod
    def kind_of(provider: Provider | str, credential: str) -> CredentialKind | None:
        """The kind of key `credential` is, from its prefix (GCP: a service account); None when unknown. Reads
        the format only: nothing is stored, sent or kept."""
        return kinds.kind_of(Provider.parse(provider), credential.strip())

    def get_all(self, org_slug: str) -> OrgIntegrations:
        """Every provider's integration for an org; never a secret (`warnings` when the cache disagrees)."""
        return reads.get_all(self.deps, org_slug)

    def get_one(self, org_slug: str, provider: Provider | str) -> Integration:
        """One provider's integration (status NOT_CONFIGURED when there is none)."""
        return reads.get_one(self.deps, org_slug, provider)

    def validate(self, org_slug: str, provider: Provider | str, actor: str = "system") -> ValidateResult:
        """Re-check the stored credential live. Rejection -> INVALID; a transient failure keeps the status."""
        return checks.validate(self.deps, org_slug, provider, limits.actor_name(actor))

    def delete(self, org_slug: str, provider: Provider | str, actor: str = "system") -> DeleteResult:
        """Deactivate the credential, erase its ciphertext, keep the history; status -> NOT_CONFIGURED."""
        return credentials.delete(self.deps, org_slug, provider, limits.actor_name(actor))

    def diagnose(self, org_slug: str, provider: Provider | str) -> list[DiagnosticStep]:
        """The troubleshooting checks, in order, each passed / failed / not run with its fix. Changes nothing."""
        return diagnostics.diagnose(self.deps, org_slug, provider)

    # --- re-validation runs of tasks (Cloud Run Jobs, or N processes) ------------------------------------------
    def revalidate_task(
        self,
        spec: TaskSpec,
        concurrency: int = 16,
        rates: dict[Provider, float] | None = None,
        actor: str = "system",
        progress: Progress | None = None,
    ) -> TaskReport:
        """Check this task's share of the run and stage it. `concurrency` and `rates` (per provider) and the KMS
        budget (INTEGRATIONS_KMS_REQUESTS_PER_MINUTE) are the whole run's: the task takes its share."""
        return runs.revalidate_task(self.deps, spec, concurrency, rates, limits.actor_name(actor), progress)

    def finalize_run(self, run_id: str, actor: str = "system", force: bool = False) -> RunReport:
        """Apply a run's staged results in one write, sync the status cache, alert on flips, report the run
        (idempotent: a second finalize applies nothing; refused while its tasks may run, unless `force`)."""
        return runs.finalize_run(self.deps, run_id, limits.actor_name(actor), force)

    # --- overview, history and audits -------------------------------------------------------------------------
    def overview(self) -> pd.DataFrame:
        """One row per org x provider: recorded status beside cached status (`attrs["warnings"]` if unreadable)."""
        return reads.overview(self.deps)

    def data_version(self) -> str | None:
        """A cheap marker that changes whenever stored data changes (any process's write); None when the store has
        none cheaper than a read. Readers keep what they read while it stays the same."""
        return reads.data_version(self.deps)

    def events(self, org_slug: str | None = None, since: datetime | None = None) -> pd.DataFrame:
        """The append-only history, newest first; from `since` on when given (the store reads no more)."""
        return reads.events(self.deps, org_slug, since)

    def history(self, org_slug: str, provider: Provider | str, days: int = 90, limit: int = 20) -> pd.DataFrame:
        """One integration's latest events, newest first: the last `days` (the store reads no more), `limit` rows."""
        return reads.history(self.deps, org_slug, Provider.parse(provider), days, limit)

    def run_changes(self, run_id: str | None = None) -> pd.DataFrame:
        """One run's status flips, worst first; by default the last bulk or nightly run (see changes.run_changes)."""
        return reads.run_changes(self.deps, run_id)

    def runs_in_progress(self) -> list[RunProgress]:
        """The runs in progress in any process: staged results not finalized yet (one store query), first first."""
        return reads.runs_in_progress(self.deps)

    def credentials(self, active_only: bool = True) -> list[StoredCredential]:
        """Every credential row, for audits (the ciphertext stays inside the rows)."""
        return inspection.credentials(self.deps, active_only)

    def audit_answer(self, question: str, params: dict[str, Any]) -> list[dict[str, Any]] | None:
        """An audit question answered inside the store (BigQuery), or None: aggregate in pandas."""
        return inspection.stored_answer(self.deps, question, params)

    def cached_org_count(self) -> int:
        """How many orgs the status cache has a row for."""
        return inspection.cached_org_count(self.deps)

    def undecryptable(self) -> list[tuple[StoredCredential, IntegrationError]]:
        """Active rows whose ciphertext no longer decrypts, each with its error."""
        return inspection.undecryptable(self.deps)

    # --- many credentials at once ---------------------------------------------------------------------------
    def revalidate_many(
        self,
        orgs: list[str] | None = None,
        providers: list[Provider | str] | None = None,
        concurrency: int = 16,
        progress: Progress | None = None,
        actor: str = "system",
        rates: dict[Provider, float] | None = None,
        max_rate_limit_retries: int = 2,
        targets: list[Target] | None = None,
        run_id: str | None = None,
    ) -> RunReport:
        """Re-check many stored credentials as a run of one task that finalizes itself (a `bulk-` run id):
        `concurrency` checks at a time per provider, an optional rate per provider (checks/s), and a 429 backs off
        that provider only, then the check is retried.

        `targets` checks exactly those credentials (ids and/or (org, provider) pairs, each once; targets without
        an active credential are listed in `missing`); otherwise every credential of `orgs` x `providers`."""
        return revalidation.revalidate_many(
            self.deps,
            orgs,
            providers,
            concurrency,
            progress,
            limits.actor_name(actor),
            rates,
            max_rate_limit_retries,
            targets,
            run_id,
        )

    # --- maintenance ------------------------------------------------------------------------------------------
    def reconcile(self, dry_run: bool = False, actor: str = "system", org_slug: str | None = None) -> ReconcileReport:
        """Rebuild the status cache from the system of record; report every drift (fixed unless dry_run)."""
        return maintenance.reconcile(self.deps, dry_run, limits.actor_name(actor), org_slug)

    def rewrap(self, progress: Progress | None = None, actor: str = "system") -> RewrapReport:
        """Re-encrypt active ciphertexts not under the current key version; safe to re-run after interruption."""
        return maintenance.rewrap(self.deps, progress, limits.actor_name(actor))

    def rotate_key(self) -> str:
        """Add a new local keyring version (recorded in the store); run rewrap afterwards."""
        return keys.rotate(self.deps)

    def retire_key(self, key_ref: str) -> None:
        """Remove an old key version for good; refused (KEY_VERSION_IN_USE) while any ciphertext uses it."""
        keys.retire(self.deps, key_ref)

    def key_versions(self) -> list[dict[str, Any]]:
        """The key versions the store recorded, each with whether the cipher holds it and how many use it."""
        return keys.versions(self.deps)

    def current_key_ref(self) -> str:
        """The key version new encryptions use."""
        return self.deps.vault.current_key_ref()

    def readiness(self, probe: bool = False) -> dict[str, Any]:
        """The store and the cache answer, the keyring holds the recorded key versions; the status drift count.
        `probe`: a ready answer up to 30 s old may be reused (a readiness probe's call; a failure never is)."""
        return health.readiness(self.deps, health.PROBE_MAX_AGE_S if probe else 0.0)

    def simulate_drift(self, org_slug: str, provider: Provider | str, status: Status) -> None:
        """Write a status into the status cache only, as a failed sync leaves it (demo data, drills)."""
        maintenance.simulate_drift(self.deps, org_slug, Provider.parse(provider), status)
