"""The error catalog: one code -> title, message, causes, fixes, retryable, HTTP status.

The troubleshooting guide is written once, here; the console, the API, the CLI and the notebooks show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Code(StrEnum):
    """Every catalog code. A StrEnum: `Code.ORG_NOT_FOUND == "ORG_NOT_FOUND"`, so literals and JSON stay the same."""

    ORG_NOT_FOUND = "ORG_NOT_FOUND"
    INVALID_ORG_SLUG = "INVALID_ORG_SLUG"
    ORG_API_KEY_MISSING = "ORG_API_KEY_MISSING"
    ORG_API_KEY_INVALID = "ORG_API_KEY_INVALID"
    ORG_API_KEY_FORBIDDEN = "ORG_API_KEY_FORBIDDEN"
    UNSUPPORTED_PROVIDER = "UNSUPPORTED_PROVIDER"
    MALFORMED_CREDENTIAL = "MALFORMED_CREDENTIAL"
    INVALID_CREDENTIAL = "INVALID_CREDENTIAL"
    INSUFFICIENT_PERMISSIONS = "INSUFFICIENT_PERMISSIONS"
    RATE_LIMITED = "RATE_LIMITED"
    NETWORK_ERROR = "NETWORK_ERROR"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    ENCRYPTION_FAILED = "ENCRYPTION_FAILED"
    DECRYPTION_FAILED = "DECRYPTION_FAILED"
    STORAGE_FAILED = "STORAGE_FAILED"
    STATUS_SYNC_FAILED = "STATUS_SYNC_FAILED"
    TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"
    INVALID_INPUT = "INVALID_INPUT"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    KMS_KEY_VERSION_UNAVAILABLE = "KMS_KEY_VERSION_UNAVAILABLE"
    STATUS_CACHE_READ_FAILED = "STATUS_CACHE_READ_FAILED"
    BILLING_EXPORT_NOT_FOUND = "BILLING_EXPORT_NOT_FOUND"
    CHECK_FAILED = "CHECK_FAILED"
    KEYRING_MISSING = "KEYRING_MISSING"
    KEYRING_MISMATCH = "KEYRING_MISMATCH"
    KEY_VERSION_IN_USE = "KEY_VERSION_IN_USE"
    ORG_EXISTS = "ORG_EXISTS"
    JOB_ALREADY_RUNNING = "JOB_ALREADY_RUNNING"
    JOB_FAILED = "JOB_FAILED"
    ALERT_DELIVERY_FAILED = "ALERT_DELIVERY_FAILED"
    TASK_SETTINGS_INVALID = "TASK_SETTINGS_INVALID"
    RUN_NOT_FOUND = "RUN_NOT_FOUND"
    SETTINGS_OVERRIDDEN = "SETTINGS_OVERRIDDEN"
    STORE_QUOTA_EXCEEDED = "STORE_QUOTA_EXCEEDED"
    KEY_VERSION_RETIRED = "KEY_VERSION_RETIRED"
    ERASE_INCOMPLETE = "ERASE_INCOMPLETE"
    DATA_DIR_NOT_OWNED = "DATA_DIR_NOT_OWNED"
    CHECK_SUPERSEDED = "CHECK_SUPERSEDED"
    RUN_TASKS_RUNNING = "RUN_TASKS_RUNNING"
    GCP_KEYLESS_NOT_GRANTED = "GCP_KEYLESS_NOT_GRANTED"
    GCP_TOKEN_CREATOR_MISSING = "GCP_TOKEN_CREATOR_MISSING"  # noqa: S105 - a code, not a secret
    GCP_DOMAIN_RESTRICTED_SHARING = "GCP_DOMAIN_RESTRICTED_SHARING"
    GCP_KEY_CREATION_DISABLED = "GCP_KEY_CREATION_DISABLED"
    GCP_VPC_SERVICE_CONTROLS = "GCP_VPC_SERVICE_CONTROLS"
    GCP_EXPORT_WRONG_LOCATION = "GCP_EXPORT_WRONG_LOCATION"
    GCP_API_DISABLED = "GCP_API_DISABLED"
    GCP_EXPORT_NOT_BILLING = "GCP_EXPORT_NOT_BILLING"
    GCP_PLATFORM_ACCESS_FAILED = "GCP_PLATFORM_ACCESS_FAILED"
    WRONG_KEY_KIND = "WRONG_KEY_KIND"
    DATA_STALE = "DATA_STALE"
    DATA_STALLED = "DATA_STALLED"
    KEY_EXPIRING = "KEY_EXPIRING"
    STATUS_CACHE_DRIFT = "STATUS_CACHE_DRIFT"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    KEY_VERSION_NOT_FOUND = "KEY_VERSION_NOT_FOUND"
    KEY_VERSION_ALREADY_RETIRED = "KEY_VERSION_ALREADY_RETIRED"
    ADDRESS_IN_USE = "ADDRESS_IN_USE"


@dataclass(frozen=True)
class CatalogEntry:
    code: Code
    title: str
    message: str
    causes: tuple[str, ...]
    fixes: tuple[str, ...]
    retryable: bool = False
    http_status: int = 400


def _e(
    code: str,
    title: str,
    message: str,
    causes: list[str],
    fixes: list[str],
    retryable: bool = False,
    http_status: int = 400,
) -> CatalogEntry:
    if code not in Code.__members__:
        raise RuntimeError(f"catalog code {code} has no member in errors.Code: add it there")
    return CatalogEntry(Code(code), title, message, tuple(causes), tuple(fixes), retryable, http_status)


CATALOG: dict[str, CatalogEntry] = {  # keyed by Code: a StrEnum, so a plain string finds its entry
    e.code: e
    for e in [
        _e(
            "ORG_NOT_FOUND",
            "Organization not found",
            "No organization with this slug exists.",
            [
                "The slug is misspelled.",
                "The organization was never registered (`integrations org create`).",
                "In the gcp profile: the frontend has no row for it in Supabase's organizations table yet.",
            ],
            [
                "Check the slug (lower case, digits and dashes).",
                "Register it: `integrations org create` followed by the org's slug (gcp profile: after the frontend "
                "has created the org).",
            ],
            http_status=404,
        ),
        _e(
            "INVALID_ORG_SLUG",
            "Invalid organization slug",
            "The organization slug is not valid.",
            ["Slugs are 2-63 characters: lower-case letters, digits and dashes, starting with a letter or digit."],
            [
                "Use the organization's slug exactly as registered, e.g. `acmecorp`.",
                "Creating an organization: choose a slug of lower-case letters, digits and dashes, e.g. `acme-corp`.",
            ],
            http_status=422,
        ),
        _e(
            "ORG_API_KEY_MISSING",
            "Org API key missing",
            "The request has no X-API-Key header.",
            ["The frontend did not send the organization's API key."],
            ["Send the org API key in the `X-API-Key` header."],
            http_status=401,
        ),
        _e(
            "ORG_API_KEY_INVALID",
            "Org API key not recognised",
            "The org API key is unknown or revoked.",
            ["The key was revoked or rotated.", "The key was copied incompletely."],
            ["Issue a new key: `integrations org key rotate` followed by the org's slug, and update the frontend."],
            http_status=401,
        ),
        _e(
            "ORG_API_KEY_FORBIDDEN",
            "Org API key belongs to another organization",
            "This org API key does not belong to the organization in the URL.",
            ["The frontend used one organization's key for another organization."],
            ["Use the API key issued for this organization."],
            http_status=403,
        ),
        _e(
            "UNSUPPORTED_PROVIDER",
            "Unsupported provider",
            "This provider is not supported.",
            ["The provider name is misspelled."],
            ["Use one of: openai, anthropic, gcp (any case)."],
            http_status=422,
        ),
        _e(
            "MALFORMED_CREDENTIAL",
            "Malformed credential",
            "The credential does not have the expected format.",
            [
                "A different provider's key was pasted.",
                "The key was truncated or has extra characters.",
                "A GCP service-account JSON is incomplete or not a service-account key.",
            ],
            [
                "Copy the whole key again from the provider's console.",
                "OpenAI keys start with `sk-`, Anthropic keys with `sk-ant-`; GCP needs the JSON key file of a "
                "service account.",
            ],
            http_status=422,
        ),
        _e(
            "INVALID_CREDENTIAL",
            "Credential rejected by the provider",
            "The provider rejected this credential (it is revoked, deleted or wrong).",
            [
                "The key was revoked or deleted in the provider's console.",
                "The key belongs to another account.",
                "The service account or its key was deleted or disabled.",
            ],
            ["Create a new key in the provider's console and set it up (over a stored key, a setup rotates it)."],
            http_status=400,
        ),
        _e(
            "INSUFFICIENT_PERMISSIONS",
            "Credential lacks permissions",
            "The credential is genuine but lacks a permission the integration needs.",
            [
                "An OpenAI restricted key without the models scope.",
                "An Admin key without the Usage read scope (Missing scopes: api.usage.read).",
                "A GCP service account without BigQuery Data Viewer / Job User roles.",
            ],
            [
                "Grant the missing permissions named in the check, then re-validate.",
                "For GCP: roles/bigquery.dataViewer and roles/bigquery.jobUser on the project.",
            ],
            http_status=403,
        ),
        _e(
            "RATE_LIMITED",
            "Provider rate limit reached",
            "The provider is rate-limiting this credential.",
            ["Too many requests on this key or organization at the provider."],
            [
                "Wait for the time the provider asked (its Retry-After, when it sends one; else about a minute), "
                "then retry."
            ],
            retryable=True,
            http_status=429,
        ),
        _e(
            "NETWORK_ERROR",
            "Provider unreachable",
            "The provider could not be reached (network error or timeout).",
            ["A network outage or firewall between us and the provider.", "The provider did not answer in time."],
            ["Retry in a few minutes; check outbound connectivity to the provider."],
            retryable=True,
            http_status=503,
        ),
        _e(
            "PROVIDER_UNAVAILABLE",
            "Provider unavailable",
            "The provider answered with a server error.",
            ["An outage or overload at the provider (5xx, 529)."],
            ["Retry later; check the provider's status page."],
            retryable=True,
            http_status=503,
        ),
        _e(
            "NOT_CONFIGURED",
            "Integration not configured",
            "This organization has no active credential for the provider.",
            ["It was never set up, or it was deleted."],
            ["Set it up: console Setup page or `integrations setup`."],
            http_status=404,
        ),
        _e(
            "ENCRYPTION_FAILED",
            "Encryption failed",
            "The credential could not be encrypted; nothing was stored.",
            ["The encryption key is unavailable or access was denied.", "The keyring file is unreadable."],
            ["Check the key configuration (INTEGRATIONS_KMS_KEY or the local keyring) and retry."],
            retryable=True,
            http_status=503,
        ),
        _e(
            "DECRYPTION_FAILED",
            "Stored credential cannot be decrypted",
            "The stored ciphertext could not be decrypted.",
            [
                "The key version that encrypted it was destroyed or is not in this keyring.",
                "The ciphertext was copied from another organization's or provider's row.",
                "The stored bytes were altered.",
            ],
            ["Re-enter the credential (setup again); it replaces the unreadable one."],
            http_status=500,
        ),
        _e(
            "STORAGE_FAILED",
            "Storage failed",
            "The system of record could not be read or written; nothing was changed.",
            ["The store is unreachable, locked or read-only.", "Missing permissions on the dataset."],
            ["Retry; if it persists check the store (BigQuery dataset or the local SQLite file)."],
            retryable=True,
            http_status=503,
        ),
        _e(
            "STATUS_SYNC_FAILED",
            "Status cache not updated",
            "The status cache could not be updated; the system of record is correct.",
            ["The status cache (Supabase or local file) is unreachable."],
            ["Run `integrations reconcile` to rebuild the cache from the system of record."],
            retryable=True,
            http_status=503,
        ),
        _e(
            "TOO_MANY_ATTEMPTS",
            "Too many validation attempts",
            "Too many credential checks for this organization; wait before trying again.",
            ["Many setups or validations in a short time (a limit protects against testing stolen keys)."],
            ["Wait a minute and retry."],
            retryable=True,
            http_status=429,
        ),
        _e(
            "INVALID_INPUT",
            "Invalid input",
            "The request is not valid.",
            ["A field is missing, too long or of the wrong type."],
            ["Correct the field named in the message."],
            http_status=422,
        ),
        _e(
            "PAYLOAD_TOO_LARGE",
            "Request too large",
            "The request body is too large.",
            ["A credential or metadata far beyond the limits."],
            ["Credentials are at most 16 KiB, metadata 4 KiB."],
            http_status=413,
        ),
        _e(
            "ENDPOINT_NOT_FOUND",
            "No such endpoint",
            "There is no endpoint at this path or with this method.",
            ["A typo in the path, or a method the endpoint does not accept."],
            ["See the OpenAPI description at /docs."],
            http_status=404,
        ),
        _e(
            "CONFIGURATION_ERROR",
            "Configuration error",
            "The service is misconfigured.",
            ["An unknown backend name or a missing setting."],
            ["Fix the setting named in the message."],
            http_status=500,
        ),
        _e(
            "KMS_KEY_VERSION_UNAVAILABLE",
            "Encryption key version disabled or destroyed",
            "The Cloud KMS key version this needs is disabled or destroyed; retrying will not help.",
            [
                "The key's primary version was disabled, so nothing new can be encrypted.",
                "The credential was encrypted under a version that has since been disabled or destroyed.",
            ],
            [
                "A DISABLED version: enable it again (`gcloud kms keys versions enable VERSION --key KEY "
                "--keyring RING --location LOC`), or make an enabled version the key's primary.",
                "A DESTROYED version cannot come back: set up the credentials it encrypted again, and run "
                "`integrations rewrap` before disabling old versions in future.",
            ],
            http_status=500,
        ),
        _e(
            "STATUS_CACHE_READ_FAILED",
            "Status cache not readable",
            "The status cache could not be read; the system of record is unaffected and still answers.",
            [
                "The status cache (Supabase or the local status file) is unreachable or refused the request.",
                "The Supabase migrations were not applied (a status column or the sync function is missing).",
            ],
            [
                "Retry; statuses shown meanwhile come from the system of record.",
                "Check SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, and apply migrations/supabase/*.sql in order.",
            ],
            retryable=True,
            http_status=503,
        ),
        _e(
            "BILLING_EXPORT_NOT_FOUND",
            "Billing export table not found",
            "The billing export table named in the integration's metadata does not exist or cannot be queried.",
            [
                "The table name in metadata billing_export_table is misspelled.",
                "Cloud Billing export to BigQuery is not enabled yet, or has not written its first rows "
                "(a new export can take 24-48 hours to appear).",
                "The dataset is in another location than the one the table reports.",
            ],
            [
                "Copy the table's full name (project.dataset.gcp_billing_export_v1_...) from BigQuery and set it "
                "up again with that metadata, then re-validate.",
                "In Cloud Billing > Billing export, enable the standard usage cost export to BigQuery.",
            ],
            http_status=422,
        ),
        _e(
            "CHECK_FAILED",
            "The check failed unexpectedly",
            "Checking this credential failed in an unexpected way; its status was left unchanged.",
            [
                "A stored credential the checks cannot handle (e.g. stored before a stricter format check).",
                "A defect in a provider SDK.",
            ],
            ["Re-enter the credential (setup again).", "Send the event's time and credential_id to the operators."],
            retryable=True,
            http_status=422,
        ),
        _e(
            "KEYRING_MISSING",
            "The keyring is missing",
            "The store holds encrypted credentials or key versions, but the keyring file is missing.",
            [
                "The data dir was restored without local.keyring, or the keyring was deleted or moved.",
                "INTEGRATIONS_DATA_DIR points at another directory than before.",
            ],
            [
                "Restore local.keyring from your backup into the data dir (mode 0600).",
                "Only on an empty store does `integrations init` create a new keyring.",
            ],
            http_status=503,
        ),
        _e(
            "KEYRING_MISMATCH",
            "The keyring does not hold the recorded key versions",
            "Key versions the store recorded are missing from the keyring, or differ from it.",
            [
                "The keyring was replaced by another one (a new keyring has new keys under the same version names).",
                "The keyring was restored from a backup older than a key rotation.",
            ],
            [
                "Restore the keyring that holds every recorded key version (see `integrations key list`).",
                "Never create a new keyring for a store that holds ciphertexts: they could not be decrypted.",
            ],
            http_status=503,
        ),
        _e(
            "KEY_VERSION_IN_USE",
            "The key version is still in use",
            "A key version can be retired only when no stored credential uses it and it is not the current one.",
            [
                "Credentials are still encrypted under this version (rewrap has not run since the rotation).",
                "It is the current key version.",
            ],
            ["Run `integrations key rotate`, then `integrations rewrap`, then retire the old version."],
            http_status=409,
        ),
        _e(
            "ORG_EXISTS",
            "The organization already exists",
            "This organization is already registered; creating it again would issue a second live API key.",
            ["`org create` was run twice for the same slug."],
            [
                "To replace its API key, run `integrations org key rotate` followed by the org's slug (the old key "
                "stops working)."
            ],
            http_status=409,
        ),
        _e(
            "JOB_ALREADY_RUNNING",
            "A run is already in progress",
            "Another bulk re-validation is running; one runs at a time.",
            ["An operator (maybe you, in another tab) started a bulk run that has not finished."],
            ["Wait for it: its progress shows in the console's sidebar on every page, then start yours."],
            retryable=True,
            http_status=409,
        ),
        _e(
            "JOB_FAILED",
            "A background job failed unexpectedly",
            "A background job stopped with an unexpected error; what it recorded before is kept.",
            ["A bug, or a backend that failed in a way the library does not map to a catalog code."],
            [
                "Retry the action; a re-validation or setup is safe to repeat.",
                "If it keeps failing, read the console's server log for the exception type.",
            ],
            retryable=True,
            http_status=500,
        ),
        _e(
            "ALERT_DELIVERY_FAILED",
            "A status-change alert was not delivered",
            "The webhook did not accept the run's status-change alert; the run itself completed.",
            [
                "INTEGRATIONS_ALERT_WEBHOOK_URL points at a host that is down, unreachable or not answering in time.",
                "The webhook refused the message (a revoked Slack webhook answers 404 or 410).",
                "The webhook kept answering 429 or 5xx after the retries.",
            ],
            [
                "Check INTEGRATIONS_ALERT_WEBHOOK_URL and that the webhook is live (post a test message to it); "
                "the changes are listed under 'Changes since the last run' on the console's status page.",
            ],
            retryable=True,
            http_status=502,
        ),
        _e(
            "TASK_SETTINGS_INVALID",
            "Invalid task settings for a re-validation run",
            "The task index, task count or run id of this re-validation task is not usable.",
            [
                "CLOUD_RUN_TASK_INDEX / --task-index is negative, not an integer, or not below the task count.",
                "CLOUD_RUN_TASK_COUNT / --task-count is not a positive integer.",
                "Several tasks were started without a run id they share (--run-id or CLOUD_RUN_EXECUTION).",
            ],
            [
                "Give --task-index I --task-count N with 0 <= I < N, and the same --run-id to every task of the run "
                "(Cloud Run Jobs sets CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_COUNT and CLOUD_RUN_EXECUTION itself).",
            ],
        ),
        _e(
            "RUN_NOT_FOUND",
            "No results staged for this run",
            "No task of this run id has staged a result, so there is nothing to finalize.",
            [
                "The run id is mistyped, or its tasks have not run yet (or ran more than 8 days ago).",
                "The tasks ran against another store (another dataset or data dir).",
            ],
            [
                "Finalize with the run id the tasks printed (on Cloud Run: the job execution's name), after they end.",
            ],
            http_status=404,
        ),
        _e(
            "SETTINGS_OVERRIDDEN",
            "This job execution's env was overridden",
            "The execution's env differs from the env its job was deployed with (pinned in the image), so it "
            "refuses to start: an override could send decrypted credentials to another endpoint.",
            [
                "The execution was started with env overrides (gcloud run jobs execute --update-env-vars, or the "
                "Run API's containerOverrides.env); the nightly workflow overrides only the arguments (the run id).",
                "The job was changed (gcloud run jobs update) without rebuilding its image with deploy/deploy.sh.",
            ],
            [
                "Start the job without env overrides; to change a setting, change deploy/job.yaml or "
                "deploy/finalize-job.yaml and run deploy/deploy.sh (it re-pins the env in a new image).",
            ],
        ),
        _e(
            "STORE_QUOTA_EXCEEDED",
            "BigQuery quota reached",
            "BigQuery refused the job for a quota or rate limit (quotaExceeded / rateLimitExceeded): nothing was "
            "written. This is not an outage nor a permission problem.",
            [
                "Too many jobs or DML statements at once on a table (for instance many tasks staging together), or a "
                "project's daily quota (bytes scanned, jobs) is used up.",
            ],
            [
                "Retry later (a short-term rate limit clears within minutes); for a daily quota, see the project's "
                "BigQuery quotas page (IAM & Admin > Quotas) and raise it, or run fewer tasks in parallel.",
            ],
            retryable=True,
            http_status=503,
        ),
        _e(
            "KEY_VERSION_RETIRED",
            "Refused to encrypt under a retired key version",
            "This process's keyring would encrypt under a key version the store records as retired; nothing was "
            "stored.",
            [
                "The process reads a copy of the keyring from before `integrations key rotate` / `key retire` "
                "(another data dir, or a keyring file that cannot be re-read).",
            ],
            [
                "Point the process at the data dir whose local.keyring the CLI rotated (INTEGRATIONS_DATA_DIR) and "
                "restart it; `integrations key list` shows the current version.",
            ],
            http_status=503,
        ),
        _e(
            "ERASE_INCOMPLETE",
            "An erased ciphertext still sits in the SQLite WAL",
            "The credential was deleted or replaced, but another connection holds a read transaction on the local "
            "store, so the old ciphertext's page images stay in warehouse.sqlite-wal until it ends.",
            [
                "A backup, a notebook or an `sqlite3` shell has warehouse.sqlite open in a read transaction.",
            ],
            [
                "Close that connection (or end its transaction): the store finishes the erase at its next write and "
                "when a process opens it.",
            ],
            retryable=True,
            http_status=409,
        ),
        _e(
            "CHECK_SUPERSEDED",
            "The credential changed during the check",
            "The credential was deleted, replaced or checked again while this check ran; its result was not recorded.",
            [
                "Someone deleted or rotated the credential while it was being checked.",
                "Another check (a bulk or nightly run, another request) recorded a newer result first.",
            ],
            [
                "Read the integration's current status; validate again if you still need a fresh check.",
            ],
            retryable=True,
            http_status=409,
        ),
        _e(
            "DATA_DIR_NOT_OWNED",
            "The data dir or a file in it belongs to another user",
            "The local data dir (or its keyring or a store file) is owned by another user, so it was not used: its "
            "owner could read or replace the keys and credentials stored there.",
            [
                "A `.data` directory was planted in the working directory by another user.",
                "The data dir was created by another account (e.g. root) than the one running now.",
            ],
            [
                "Run from your own directory or set INTEGRATIONS_DATA_DIR to a directory you own; if the files are "
                "yours, `chown -R $(id -u) DIR` them.",
            ],
            http_status=503,
        ),
        _e(
            "RUN_TASKS_RUNNING",
            "The run's tasks are still running",
            "Not every task of this run has said it is done and the run is younger than its tasks may run: "
            "finalizing now would apply part of the run, and what its tasks stage later would never be applied.",
            [
                "Finalize was started before the job execution ended (a workflow that did not wait for it).",
                "A task failed every attempt: it never marks itself done.",
            ],
            [
                "Finalize once the execution has ended (every task done, or INTEGRATIONS_RUN_TIMEOUT_S passed).",
                "If some tasks failed for good, finalize with --force to apply what the others staged.",
            ],
            retryable=True,
            http_status=409,
        ),
        _e(
            "GCP_KEYLESS_NOT_GRANTED",
            "The organization's principal cannot read the billing export yet",
            "The platform's principal for this organization has no read access to the billing export table, or the "
            "table does not exist yet.",
            [
                "The grant (BigQuery Data Viewer on the export dataset or table, to the organization's principal "
                "shown on the Setup page) has not been made yet, or was made to another principal or dataset.",
                "The grant was made less than ~10 minutes ago and is still propagating (IAM changes usually take "
                "2 minutes, sometimes 7 or more).",
                "The billing export table does not exist yet: a new Cloud Billing export can take up to 48 hours "
                "to create its table; or the table name is mistyped. Without access to the dataset Google answers "
                "the same for a missing table and a missing grant.",
                "The customer's organization restricts sharing (iam.allowedPolicyMemberDomains) and refused the "
                "grant: see GCP_DOMAIN_RESTRICTED_SHARING.",
                "A grant that worked was revoked (the integration was VALID before): the status turns INVALID.",
            ],
            [
                "Run the grant shown on the Setup page: bq add-iam-policy-binding "
                "--member=serviceAccount:<the organization's principal> --role=roles/bigquery.dataViewer "
                "<PROJECT>:<DATASET>, then 'Check access' (a grant needs a few minutes to propagate).",
                "Check the table name in BigQuery (project.dataset.gcp_billing_export_v1_...); if Cloud Billing "
                "export was just enabled, wait for its table (up to 48 hours) and check again.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_TOKEN_CREATOR_MISSING",
            "The organization's principal cannot impersonate the customer's service account",
            "The platform's principal for this organization may not mint tokens for the customer's service account "
            "(iam.serviceAccounts.getAccessToken denied).",
            [
                "roles/iam.serviceAccountTokenCreator on the customer's service account has not been granted to the "
                "organization's principal, or was granted less than ~10 minutes ago.",
                "The customer's service account email is mistyped or the account was deleted (Google answers the "
                "same 403 for a missing account and a missing grant).",
                "The customer's organization restricts sharing and refused the grant: see "
                "GCP_DOMAIN_RESTRICTED_SHARING.",
            ],
            [
                "Run: gcloud iam service-accounts add-iam-policy-binding <CUSTOMER_SA_EMAIL> --project=<PROJECT> "
                "--member=serviceAccount:<the organization's principal> --role=roles/iam.serviceAccountTokenCreator, "
                "then 'Check access'.",
                "Check the service account's email in IAM > Service accounts of the customer's project.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_DOMAIN_RESTRICTED_SHARING",
            "The customer's organization refuses grants to the platform (domain-restricted sharing)",
            "Google refused the grant: One or more users named in the policy do not belong to a permitted customer "
            "(constraint iam.allowedPolicyMemberDomains, on by default in organizations created since 2024-05-03).",
            [
                "The organization policy iam.allowedPolicyMemberDomains (or iam.managed.allowedPolicyMembers) allows "
                "only the customer's own directory customer ID, so a grant to the platform's principal is refused.",
            ],
            [
                "An organization policy administrator (roles/orgpolicy.policyAdmin) adds the platform's directory "
                "customer ID (INTEGRATIONS_GCP_CUSTOMER_ID, shown on the console's Setup page) to the allowed "
                "values: gcloud resource-manager org-policies allow iam.allowedPolicyMemberDomains "
                "<OUR_CUSTOMER_ID> --organization=<ORG_ID> (for iam.managed.allowedPolicyMembers, add the "
                "platform's organization principal set), then makes the grant again.",
                "Restricting the exception to the project holding the billing export is enough; keep inheritance "
                "(inheritFromParent: true) so the organization's own domain stays allowed.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_KEY_CREATION_DISABLED",
            "Service-account key creation is disabled: use keyless access",
            "The customer's organization forbids service-account keys (iam.disableServiceAccountKeyCreation, on by "
            "default in organizations created since 2024-05-03); no key file can be produced.",
            [
                "gcloud answered FAILED_PRECONDITION: Key creation is not allowed on this service account "
                "(constraints/iam.disableServiceAccountKeyCreation or iam.managed.disableServiceAccountKeyCreation).",
            ],
            [
                "Use keyless access instead (the console's recommended GCP setup): grant the organization's principal "
                "BigQuery Data Viewer on the billing export and set up with the export table only "
                "(integrations setup ORG gcp --export-table project.dataset.table); no key is needed or stored.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_VPC_SERVICE_CONTROLS",
            "A VPC Service Controls perimeter blocks the platform",
            "BigQuery refused the request: VPC Service Controls: Request is prohibited by organization's policy.",
            [
                "The customer's billing export project is inside a VPC Service Controls perimeter without an ingress "
                "rule for the platform's project and principal.",
            ],
            [
                "The customer's perimeter administrator adds an ingress rule allowing the organization's principal "
                "(and the platform's project) to bigquery.googleapis.com for the export project; the denial's "
                "vpcServiceControlsUniqueIdentifier (in the message) finds it in the audit logs.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_EXPORT_WRONG_LOCATION",
            "The billing export is in a location the platform does not read",
            "The billing export dataset is in a location the platform does not read from, or the query could not "
            "run in the table's location.",
            [
                "The export dataset was created in a region (e.g. asia-northeast1) while the platform reads exports "
                "in the locations of INTEGRATIONS_GCP_EXPORT_LOCATIONS (by default the US and EU multi-regions, "
                "which also get Google's backfill of the previous month).",
            ],
            [
                "In Cloud Billing > Billing export, export to a dataset in an allowed location (US or EU), then set "
                "up with the new table.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_API_DISABLED",
            "A Google API is disabled in the customer's project",
            "Google answered SERVICE_DISABLED: an API the check needs is not enabled in the customer's project.",
            [
                "The BigQuery API (or the IAM Service Account Credentials API, for impersonation) is disabled in the "
                "project named in the message (the consumer project of the call).",
                "It was enabled a few minutes ago and is not active yet.",
            ],
            [
                "Enable the API in that project (the message gives the console link), or: gcloud services enable "
                "bigquery.googleapis.com --project=<PROJECT>; then 'Check access' after a few minutes.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_EXPORT_NOT_BILLING",
            "The table is not a billing export",
            "The named table exists but does not look like a Cloud Billing export (billing_account_id, cost, "
            "usage_start_time, export_time missing).",
            [
                "Another table of the dataset was named (e.g. cloud_pricing_export), or a view that drops columns.",
            ],
            [
                "Name the standard or detailed usage cost export table: gcp_billing_export_v1_<BILLING_ACCOUNT_ID> "
                "or gcp_billing_export_resource_v1_<BILLING_ACCOUNT_ID>.",
            ],
            http_status=422,
        ),
        _e(
            "GCP_PLATFORM_ACCESS_FAILED",
            "The platform's own Google access failed (operator alarm)",
            "The platform could not mint a token for the organization's principal: the failure is on the "
            "platform's side, not the customer's; no status was changed.",
            [
                "The IAM Service Account Credentials API (iamcredentials.googleapis.com) is disabled in the "
                "platform's project.",
                "The organization's principal does not exist yet in the platform's project, or the runtime identity "
                "lacks roles/iam.serviceAccountTokenCreator on it.",
                "The platform's quota for token requests or BigQuery jobs is exhausted; or the runtime identity "
                "(Application Default Credentials) has no usable credentials.",
            ],
            [
                "Operators: enable iamcredentials.googleapis.com in INTEGRATIONS_GCP_PRINCIPALS_PROJECT, run "
                "deploy/keyless_principals.sh (creates the per-org principals and the Token Creator grant), or "
                "set INTEGRATIONS_GCP_CREATE_PRINCIPALS=true; then re-validate. The customer has nothing to do.",
            ],
            retryable=True,
            http_status=503,
        ),
        _e(
            "WRONG_KEY_KIND",
            "The key is of the wrong kind for what is asked",
            "This key cannot do what is asked (e.g. an inference key cannot read the organization's costs); it was "
            "not sent to the provider.",
            [
                "An inference key (OpenAI sk-proj-, sk-svcacct-, sk-; Anthropic sk-ant-api03-) was given for cost "
                "tracking, which needs an Admin key.",
                "A Claude subscription token (sk-ant-oat01-) or a Google API key (AIza...) was given: neither can "
                "read an organization's costs.",
            ],
            [
                "Use the key the message names: OpenAI Admin keys (sk-admin-) are created by an organization owner, "
                "Anthropic Admin keys (sk-ant-admin01-) by an organization admin in the Claude Console, Google Cloud "
                "service-account key files by a project owner.",
            ],
            http_status=422,
        ),
        _e(
            "DATA_STALE",
            "Cost data is late",
            "The newest cost data is older than the provider's expected lag; the credential is valid, the numbers "
            "may be incomplete.",
            [
                "The provider has not yet published the latest day (exports and cost reports lag; a 2-3 day lag "
                "can be normal for a billing export).",
                "The organization had no spend recently (an empty bucket is not missing data).",
            ],
            [
                "Wait for the next check; if it stays late, open the provider's cost page or the export table and "
                "compare the newest day shown there with data_through.",
            ],
            http_status=424,  # a warning beside a valid credential: never an HTTP answer of its own
        ),
        _e(
            "DATA_STALLED",
            "Cost data has stopped arriving",
            "No new cost data has arrived for far longer than the provider's expected lag; the credential is valid.",
            [
                "The billing export to BigQuery was disabled or points at another dataset.",
                "The Admin key's organization no longer has usage, or the key reads another organization.",
            ],
            [
                "Check the export settings (GCP: Billing > Billing export) or the provider's usage page; the "
                "credential itself needs no change.",
            ],
            http_status=424,
        ),
        _e(
            "KEY_EXPIRING",
            "The key expires soon",
            "The provider says this key expires within 30 days; after that every check fails.",
            [
                "The key was created with an expiry (OpenAI Admin keys take expires_in_seconds, up to a year).",
            ],
            [
                "Create a new key of the same kind before the date shown and set it up (setup rotates the old one "
                "out); nothing needs doing until then.",
            ],
            http_status=424,
        ),
        _e(
            "STATUS_CACHE_DRIFT",
            "The status cache disagrees",
            "The status cache has no row for the org, or shows another status than the system of record.",
            [
                "A status sync failed earlier (a STATUS_SYNC_FAILED event), or the cache was written by hand.",
                "The org was registered while the cache was down.",
            ],
            [
                "Run `integrations reconcile` (the console: Troubleshooting > Resync status); the system of record "
                "is right meanwhile.",
            ],
            http_status=409,
        ),
        _e(
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            "The endpoint exists but does not accept this HTTP method.",
            ["A GET sent where the endpoint takes a POST (setup, validate, test), or a PUT/PATCH: updates are setups."],
            [
                "Use a method named in the answer's Allow header (the OpenAPI description at /docs lists each "
                "endpoint's methods); to change a credential, POST .../setup again (it rotates the old one).",
            ],
            http_status=405,
        ),
        _e(
            "KEY_VERSION_NOT_FOUND",
            "No such key version",
            "The store has no record of this key version, so there is nothing to retire.",
            ["The version is mistyped (versions are named local/v1, local/v2, ...).", "Another data dir was meant."],
            ["Run `integrations key list` and retire one of the versions it lists (not the current one)."],
            http_status=404,
        ),
        _e(
            "KEY_VERSION_ALREADY_RETIRED",
            "The key version is already retired",
            "This key version was retired before; it is gone from the keyring and nothing more can be done with it.",
            ["`integrations key retire` was run twice for the same version."],
            ["Nothing to do: `integrations key list` shows when it was retired."],
            http_status=409,
        ),
        _e(
            "ADDRESS_IN_USE",
            "The address is already in use",
            "Another process is already listening on this host and port; the API was not started.",
            ["Another `integrations api` (or another server) already runs on this port."],
            ["Stop the other process, or start on a free port: `integrations api --port 8001`."],
        ),
    ]
}


class IntegrationError(Exception):
    """A failure with a stable catalog code; `str()` never holds a secret."""

    def __init__(
        self,
        code: Code,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        retryable: bool | None = None,
        fix: str | None = None,
    ) -> None:
        self.entry = CATALOG[code]
        self.fix = fix  # the fix for this very case (naming the org, the key at hand), else the catalog's first
        self.code = Code(code)
        self.message = message or self.entry.message
        self.details = details or {}
        self.retryable = self.entry.retryable if retryable is None else retryable
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return self.entry.http_status

    @property
    def hint(self) -> str:
        return self.fix or self.entry.fixes[0]

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable, "hint": self.hint}


def entry(code: str) -> CatalogEntry:
    """The catalog entry for a code."""
    return CATALOG[code]
