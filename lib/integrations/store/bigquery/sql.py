"""Every statement the BigQuery store emits, in BigQuery's dialect, with query parameters (@name).

`{t}` is the validated `project.dataset` prefix; nothing else is ever formatted into SQL text. No identifier is a
reserved word (the events' time column is `event_at`). A write is one query job: a script whose last statement,
where the caller needs an answer, is the SELECT that gives it (a script job returns its last statement's rows).
Batches travel as ARRAY<STRUCT> parameters (@events, @updates) read with UNNEST.
"""

CRED_COLUMNS = (
    "credential_id, org_slug, provider, credential_name, encrypted_credential, key_ref, credential_hint, "
    "credential_fingerprint, metadata, is_active, validation_status, validation_error_code, "
    "validation_error_message, last_validated_at, created_at, updated_at, created_by, updated_by, "
    "deleted_at, credential_kind, data_status, data_through, data_newest_at, last_success_at, expiry, expires_at, "
    "last_used_at"
)
EVENT_COLUMNS = (
    "event_id, event_at, org_slug, provider, credential_id, action, status_before, status_after, outcome, "
    "error_code, message, actor, duration_ms, run_id"
)
KEY_COLUMNS = "org_slug, key_id, key_prefix, key_hash, created_at, revoked_at"
KEY_VERSION_COLUMNS = "key_ref, key_check, created_at, retired_at"

RESULT_COLUMNS = (  # store/staging.py STAGED_COLUMNS: what re-validation tasks stage for finalize
    "run_id, task_index, credential_id, org_slug, provider, status_before, status_after, outcome, error_code, "
    "message, validated_at, checked_at, event_id, actor, duration_ms, alarm, seen_updated_at, data_status, "
    "data_through, data_newest_at, last_success_at, expiry, expires_at, last_used_at"
)

TASK_COLUMNS = "run_id, task_index, task_count, done_at"  # a re-validation task's done mark (finalize waits for all)
TABLES = (
    "org_integrations",
    "org_integration_events",
    "org_api_keys",
    "key_versions",
    "revalidation_results",
    "revalidation_tasks",
)
CREATE_CREDENTIALS = """CREATE TABLE IF NOT EXISTS `{t}.org_integrations` (
  credential_id STRING NOT NULL, org_slug STRING NOT NULL, provider STRING NOT NULL, credential_name STRING,
  encrypted_credential BYTES, key_ref STRING, credential_hint STRING, credential_fingerprint STRING, metadata JSON,
  is_active BOOL NOT NULL, validation_status STRING NOT NULL, validation_error_code STRING,
  validation_error_message STRING, last_validated_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL, created_by STRING, updated_by STRING, deleted_at TIMESTAMP, credential_kind STRING,
  data_status STRING, data_through DATE, data_newest_at TIMESTAMP, last_success_at TIMESTAMP, expiry STRING,
  expires_at TIMESTAMP, last_used_at TIMESTAMP)
CLUSTER BY org_slug, provider"""
# tables created before credential kinds were recorded get the column (idempotent)
ADD_CREDENTIAL_KIND = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS credential_kind STRING"
# tables created before data status was recorded (issue 26) get its columns (idempotent)
ADD_DATA_STATUS = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS data_status STRING"
ADD_DATA_THROUGH = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS data_through DATE"
ADD_DATA_NEWEST_AT = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS data_newest_at TIMESTAMP"
ADD_LAST_SUCCESS_AT = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS last_success_at TIMESTAMP"
ADD_EXPIRY = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS expiry STRING"
ADD_EXPIRES_AT = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS expires_at TIMESTAMP"
ADD_LAST_USED_AT = "ALTER TABLE `{t}.org_integrations` ADD COLUMN IF NOT EXISTS last_used_at TIMESTAMP"
CREATE_EVENTS = """CREATE TABLE IF NOT EXISTS `{t}.org_integration_events` (
  event_id STRING NOT NULL, event_at TIMESTAMP NOT NULL, org_slug STRING NOT NULL, provider STRING,
  credential_id STRING, action STRING NOT NULL, status_before STRING, status_after STRING, outcome STRING NOT NULL,
  error_code STRING, message STRING, actor STRING, duration_ms INT64, run_id STRING)
PARTITION BY DATE(event_at) CLUSTER BY org_slug"""
ADD_RUN_ID = "ALTER TABLE `{t}.org_integration_events` ADD COLUMN IF NOT EXISTS run_id STRING"  # tables before runs
# staging tables from before finalize checked that a credential is unchanged since its task read it
ADD_SEEN_UPDATED_AT = "ALTER TABLE `{t}.revalidation_results` ADD COLUMN IF NOT EXISTS seen_updated_at TIMESTAMP"
CREATE_KEYS = """CREATE TABLE IF NOT EXISTS `{t}.org_api_keys` (
  org_slug STRING NOT NULL, key_id STRING NOT NULL, key_prefix STRING NOT NULL, key_hash STRING NOT NULL,
  created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"""
CREATE_KEY_VERSIONS = """CREATE TABLE IF NOT EXISTS `{t}.key_versions` (
  key_ref STRING NOT NULL, key_check STRING NOT NULL, created_at TIMESTAMP NOT NULL, retired_at TIMESTAMP)"""
# re-validation tasks append here (INSERT only, so tasks never conflict); finalize reads one run: clustered by
# run_id, and partitioned by day so that a read bounded by the run's window scans only its days
# staged results are read only within RUN_WINDOW (8 days): their partitions expire after 30, so the table stays small
CREATE_RESULTS = """CREATE TABLE IF NOT EXISTS `{t}.revalidation_results` (
  run_id STRING NOT NULL, task_index INT64 NOT NULL, credential_id STRING NOT NULL, org_slug STRING NOT NULL,
  provider STRING NOT NULL, status_before STRING NOT NULL, status_after STRING NOT NULL, outcome STRING NOT NULL,
  error_code STRING, message STRING, validated_at TIMESTAMP, checked_at TIMESTAMP NOT NULL, event_id STRING NOT NULL,
  actor STRING NOT NULL, duration_ms INT64, alarm BOOL NOT NULL, seen_updated_at TIMESTAMP, data_status STRING,
  data_through DATE, data_newest_at TIMESTAMP, last_success_at TIMESTAMP, expiry STRING, expires_at TIMESTAMP,
  last_used_at TIMESTAMP)
PARTITION BY DATE(checked_at) CLUSTER BY run_id, task_index
OPTIONS (partition_expiration_days = 30)"""
CREATE_TASKS = """CREATE TABLE IF NOT EXISTS `{t}.revalidation_tasks` (
  run_id STRING NOT NULL, task_index INT64 NOT NULL, task_count INT64 NOT NULL, done_at TIMESTAMP NOT NULL)
PARTITION BY DATE(done_at) CLUSTER BY run_id
OPTIONS (partition_expiration_days = 30)"""
CREATE = dict(
    zip(
        TABLES,
        (CREATE_CREDENTIALS, CREATE_EVENTS, CREATE_KEYS, CREATE_KEY_VERSIONS, CREATE_RESULTS, CREATE_TASKS),
        strict=True,
    )
)
COLUMNS = {
    table: tuple(c.strip() for c in columns.split(","))
    for table, columns in zip(
        TABLES,
        (CRED_COLUMNS, EVENT_COLUMNS, KEY_COLUMNS, KEY_VERSION_COLUMNS, RESULT_COLUMNS, TASK_COLUMNS),
        strict=True,
    )
}
ADD_COLUMNS = {  # init() adds these to old tables
    "org_integrations": {
        "credential_kind": ADD_CREDENTIAL_KIND,
        "data_status": ADD_DATA_STATUS,
        "data_through": ADD_DATA_THROUGH,
        "data_newest_at": ADD_DATA_NEWEST_AT,
        "last_success_at": ADD_LAST_SUCCESS_AT,
        "expiry": ADD_EXPIRY,
        "expires_at": ADD_EXPIRES_AT,
        "last_used_at": ADD_LAST_USED_AT,
    },
    "org_integration_events": {"run_id": ADD_RUN_ID},
    "revalidation_results": {
        "seen_updated_at": ADD_SEEN_UPDATED_AT,
        **{  # staging tables from before task runs carried freshness and expiry (issue 26)
            column: f"ALTER TABLE `{{t}}.revalidation_results` ADD COLUMN IF NOT EXISTS {column} {kind}"
            for column, kind in (
                ("data_status", "STRING"),
                ("data_through", "DATE"),
                ("data_newest_at", "TIMESTAMP"),
                ("last_success_at", "TIMESTAMP"),
                ("expiry", "STRING"),
                ("expires_at", "TIMESTAMP"),
                ("last_used_at", "TIMESTAMP"),
            )
        },
    },
}
MIGRATIONS = {  # what an existing dataset needs (README: "Running on Google Cloud")
    "org_integration_events": "The events' time column is now event_at (AT is reserved in BigQuery). Copy the "
    "history into a table with the new column, then swap the names: CREATE TABLE `{t}.org_integration_events_v2` "
    "PARTITION BY DATE(event_at) CLUSTER BY org_slug AS SELECT * EXCEPT (`at`), `at` AS event_at FROM "
    "`{t}.org_integration_events`; ALTER TABLE `{t}.org_integration_events` RENAME TO org_integration_events_v1; "
    "ALTER TABLE `{t}.org_integration_events_v2` RENAME TO org_integration_events",
}

_EVENTS_FROM = "SELECT " + ", ".join(f"e.{c.strip()}" for c in EVENT_COLUMNS.split(",")) + " FROM UNNEST(@events) AS e"
_INSERT_EVENTS = f"INSERT INTO `{{t}}.org_integration_events` ({EVENT_COLUMNS})\n  {_EVENTS_FROM}"
_ACTIVE_ROW = "org_slug = @org_slug AND provider = @provider AND is_active"
_ERASE_ACTIVE = f"""UPDATE `{{t}}.org_integrations` SET is_active = FALSE, encrypted_credential = NULL,
  deleted_at = @erase_at, updated_at = @erase_at, updated_by = @erase_actor
  WHERE {_ACTIVE_ROW}"""
_ERASED_NOW = (  # the row this script erased: inactive, erased at this script's own @erase_at
    f"SELECT {CRED_COLUMNS} FROM `{{t}}.org_integrations` WHERE org_slug = @org_slug AND provider = @provider "
    "AND NOT is_active AND deleted_at = @erase_at AND updated_by = @erase_actor"
)
_INSERT_CREDENTIAL = f"""INSERT INTO `{{t}}.org_integrations` ({CRED_COLUMNS}) VALUES (@credential_id, @org_slug,
  @provider, @credential_name, @encrypted_credential, @key_ref, @credential_hint, @credential_fingerprint,
  PARSE_JSON(@metadata), @is_active, @validation_status, @validation_error_code, @validation_error_message,
  @last_validated_at, @created_at, @updated_at, @created_by, @updated_by, @deleted_at, @credential_kind, @data_status,
  @data_through, @data_newest_at, @last_success_at, @expiry, @expires_at, @last_used_at)"""

# a bulk load of new orgs (add_new_orgs): their keys, events and first credentials in one transaction, each INSERT
# only while no org and provider of @pending (this job's and any later job's of the same load) has an active
# credential, so a load never replaces one and a refused job writes nothing; then what it wrote, and an org that
# holds a clashing credential (the witness: all zero when refused)
_NONE_TAKEN = (
    "NOT EXISTS (SELECT 1 FROM `{t}.org_integrations` AS c JOIN UNNEST(@pending) AS p "
    "ON c.org_slug = p.org_slug AND c.provider = p.provider WHERE c.is_active)"
)
_RECORD_COLUMNS = ", ".join(
    "PARSE_JSON(r.metadata)" if c.strip() == "metadata" else f"r.{c.strip()}" for c in CRED_COLUMNS.split(",")
)
_OURS = "SELECT r.credential_id FROM UNNEST(@records) AS r"
ADD_NEW_ORGS = f"""BEGIN TRANSACTION;
INSERT INTO `{{t}}.org_api_keys` ({KEY_COLUMNS})
  SELECT k.org_slug, k.key_id, k.key_prefix, k.key_hash, k.created_at, k.revoked_at FROM UNNEST(@keys) AS k
  WHERE {_NONE_TAKEN};
{_INSERT_EVENTS}
  WHERE {_NONE_TAKEN};
INSERT INTO `{{t}}.org_integrations` ({CRED_COLUMNS})
  SELECT {_RECORD_COLUMNS} FROM UNNEST(@records) AS r
  WHERE {_NONE_TAKEN};
COMMIT TRANSACTION;
SELECT
  (SELECT COUNT(*) FROM `{{t}}.org_api_keys` AS k WHERE k.key_id IN (SELECT n.key_id FROM UNNEST(@keys) AS n))
    AS keys_written,
  (SELECT COUNT(*) FROM `{{t}}.org_integration_events` AS x WHERE x.event_at >= @since
    AND x.event_id IN (SELECT e.event_id FROM UNNEST(@events) AS e)) AS events_written,
  (SELECT COUNT(*) FROM `{{t}}.org_integrations` AS c WHERE c.credential_id IN ({_OURS})) AS records_written,
  (SELECT MIN(c.org_slug) FROM `{{t}}.org_integrations` AS c JOIN UNNEST(@pending) AS p
    ON c.org_slug = p.org_slug AND c.provider = p.provider
    WHERE c.is_active AND c.credential_id NOT IN ({_OURS})) AS clash_org"""

SELECT_CREDENTIALS = f"SELECT {CRED_COLUMNS} FROM `{{t}}.org_integrations`"
ACTIVE = SELECT_CREDENTIALS + f" WHERE {_ACTIVE_ROW}"
LIST_ALL = (
    SELECT_CREDENTIALS + " WHERE (@org_slug IS NULL OR org_slug = @org_slug) AND (is_active OR NOT @active_only)"
    " ORDER BY org_slug, provider, created_at"
)
ACTIVE_FRAME = (  # overview.ACTIVE_COLUMNS, named as the overview names them
    "SELECT org_slug, provider, validation_status AS status, credential_name, credential_hint, last_validated_at, "
    "created_at AS configured_at, validation_error_code AS error_code, validation_error_message AS error_message, "
    "credential_id, key_ref, encrypted_credential IS NOT NULL AS has_ciphertext, data_status, data_newest_at "
    "FROM `{t}.org_integrations` WHERE is_active"
)
_PRIOR = f"SELECT validation_status FROM `{{t}}.org_integrations` WHERE {_ACTIVE_ROW} LIMIT 1"
# rotation: the event (its status_before read from the row being replaced, as store.base.replacing says), the
# erase, the new row; then the row it replaced
ACTIVATE = f"""BEGIN TRANSACTION;
INSERT INTO `{{t}}.org_integration_events` ({EVENT_COLUMNS})
  SELECT e.event_id, e.event_at, e.org_slug, e.provider, e.credential_id, e.action,
  COALESCE(e.status_before, ({_PRIOR}), @not_configured), e.status_after, e.outcome, e.error_code,
  IF(e.status_before IS NULL AND EXISTS ({_PRIOR}), @rotated, e.message), e.actor, e.duration_ms, e.run_id
  FROM UNNEST(@events) AS e;
{_ERASE_ACTIVE};
{_INSERT_CREDENTIAL};
COMMIT TRANSACTION;
{_ERASED_NOW}"""
# a batch of validation outcomes and their events, each applied only to its row as the check read it (active, and
# the same updated_at when expected); an event whose update did not apply is written as superseded (no status
# change). Returns the batch's rows that this script updated.
_UPDATED = (
    "EXISTS (SELECT 1 FROM `{t}.org_integrations` AS c WHERE c.credential_id = e.credential_id AND c.is_active "
    "AND c.updated_at = e.event_at AND c.updated_by = e.actor AND c.validation_status = e.status_after)"
)
RECORD_VALIDATIONS = f"""BEGIN TRANSACTION;
UPDATE `{{t}}.org_integrations` AS c SET validation_status = u.validation_status,
  validation_error_code = u.validation_error_code, validation_error_message = u.validation_error_message,
  last_validated_at = COALESCE(u.validated_at, c.last_validated_at), updated_at = u.updated_at,
  updated_by = u.actor, data_status = COALESCE(u.data_status, c.data_status),
  data_through = COALESCE(u.data_through, c.data_through),
  data_newest_at = COALESCE(u.data_newest_at, c.data_newest_at),
  last_success_at = COALESCE(u.last_success_at, c.last_success_at), expiry = COALESCE(u.expiry, c.expiry),
  expires_at = IF(u.expiry IS NULL, c.expires_at, u.expires_at),
  last_used_at = IF(u.expiry IS NULL, c.last_used_at, u.last_used_at)
  FROM UNNEST(@updates) AS u
  WHERE c.credential_id = u.credential_id AND c.is_active
    AND (u.expected_updated_at IS NULL OR c.updated_at = u.expected_updated_at);
INSERT INTO `{{t}}.org_integration_events` ({EVENT_COLUMNS})
  SELECT e.event_id, e.event_at, e.org_slug, e.provider, e.credential_id, e.action, e.status_before,
  IF({_UPDATED}, e.status_after, e.status_before), e.outcome, e.error_code,
  IF({_UPDATED}, e.message, IFNULL(CONCAT(@superseded_then, e.message), @superseded)), e.actor, e.duration_ms,
  e.run_id
  FROM UNNEST(@events) AS e;
COMMIT TRANSACTION;
SELECT u.credential_id FROM UNNEST(@updates) AS u
  WHERE EXISTS (SELECT 1 FROM `{{t}}.org_integrations` AS c WHERE c.credential_id = u.credential_id
    AND c.is_active AND c.updated_at = u.updated_at AND c.updated_by = u.actor)"""
# delete: the event only when a row was active (it witnesses the erase); returns the row it erased
DEACTIVATE = f"""BEGIN TRANSACTION;
{_INSERT_EVENTS}
  WHERE EXISTS (SELECT 1 FROM `{{t}}.org_integrations` WHERE {_ACTIVE_ROW});
{_ERASE_ACTIVE};
COMMIT TRANSACTION;
{_ERASED_NOW}
  AND EXISTS (SELECT 1 FROM `{{t}}.org_integration_events` WHERE event_at = @event_at AND event_id = @event_id)"""
# rewrap's batch: each swap only while its row is still active under its expected key, its event the witness
_SWAPPABLE = "c.credential_id = s.credential_id AND c.is_active AND c.key_ref = s.expected_key_ref"
REPLACE_CIPHERTEXTS = f"""BEGIN TRANSACTION;
{_INSERT_EVENTS}
  WHERE EXISTS (SELECT 1 FROM `{{t}}.org_integrations` AS c JOIN UNNEST(@swaps) AS s ON {_SWAPPABLE}
    WHERE s.credential_id = e.credential_id);
UPDATE `{{t}}.org_integrations` AS c SET encrypted_credential = s.ciphertext, key_ref = s.key_ref
  FROM UNNEST(@swaps) AS s WHERE {_SWAPPABLE};
COMMIT TRANSACTION;
SELECT x.credential_id FROM `{{t}}.org_integration_events` AS x WHERE x.event_at >= @since
  AND x.event_id IN (SELECT e.event_id FROM UNNEST(@events) AS e)"""
APPEND_EVENTS = _INSERT_EVENTS
EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM `{{t}}.org_integration_events` WHERE (@org_slug IS NULL OR org_slug = @org_slug)"
    " ORDER BY event_at DESC, event_id DESC"
)
EVENTS_SINCE = EVENTS.replace(" ORDER BY", " AND event_at >= @since_at ORDER BY")  # prunes the days before
ADD_KEY = f"""INSERT INTO `{{t}}.org_api_keys` ({KEY_COLUMNS}) VALUES (@org_slug, @key_id, @key_prefix, @key_hash,
  @created_at, @revoked_at)"""
FIND_KEY = f"SELECT {KEY_COLUMNS} FROM `{{t}}.org_api_keys` WHERE key_id = @key_id"
REVOKE_KEYS = """UPDATE `{t}.org_api_keys` SET revoked_at = @revoked_at
  WHERE org_slug = @org_slug AND revoked_at IS NULL;
SELECT @@row_count AS n"""  # the rows the UPDATE just changed
LIST_KEYS = (
    f"SELECT {KEY_COLUMNS} FROM `{{t}}.org_api_keys` WHERE (@org_slug IS NULL OR org_slug = @org_slug)"
    " ORDER BY created_at"
)
PING = "SELECT 1 AS ok"
KEY_VERSIONS = "SELECT key_ref, key_check, created_at, retired_at FROM `{t}.key_versions`"
RECORD_KEY_VERSION = """INSERT INTO `{t}.key_versions` (key_ref, key_check, created_at, retired_at)
  SELECT @key_ref, @key_check, @created_at, CAST(NULL AS TIMESTAMP) FROM (SELECT 1)
  WHERE NOT EXISTS (SELECT 1 FROM `{t}.key_versions` WHERE key_ref = @key_ref)"""
RETIRE_KEY_VERSION = """UPDATE `{t}.key_versions` SET retired_at = @retired_at
  WHERE key_ref = @key_ref AND retired_at IS NULL"""


ALL = {
    name: value
    for name, value in dict(globals()).items()
    if name.isupper() and isinstance(value, str) and "COLUMNS" not in name
}


# Audit aggregations in BigQuery's dialect: in the gcp profile the audit questions run in BigQuery, and only their
# (small) answers travel back (store.audit_answer). `{t}` is the validated `project.dataset`; values are @parameters.
_AUDITED = "FROM `{t}.org_integrations` WHERE is_active"

AUDIT = {
    "configured": f"SELECT provider, validation_status AS status, COUNT(*) AS n {_AUDITED} GROUP BY 1, 2",
    "unhealthy": "SELECT org_slug, provider, validation_status, validation_error_code, credential_hint, created_at, "
    f"last_validated_at {_AUDITED} AND validation_status != @valid ORDER BY org_slug, provider",
    "stale_pending": "SELECT org_slug, provider, validation_status, validation_error_code, credential_hint, "
    f"created_at, last_validated_at {_AUDITED} AND validation_status = @pending "
    "AND created_at < @cutoff ORDER BY org_slug, provider",
    "validation_age": "SELECT org_slug, provider, validation_status, last_validated_at, "
    f"TIMESTAMP_DIFF(@now, last_validated_at, SECOND) / 86400 AS age_days {_AUDITED} "
    "ORDER BY org_slug, provider",
    "not_validated_since": "SELECT org_slug, provider, validation_status, last_validated_at, "
    f"TIMESTAMP_DIFF(@now, last_validated_at, SECOND) / 86400 AS age_days {_AUDITED} "
    "AND (last_validated_at IS NULL OR last_validated_at < @cutoff) ORDER BY org_slug, provider",
    "duplicate_active": f"SELECT org_slug, provider, COUNT(*) AS active_rows {_AUDITED} GROUP BY 1, 2 "
    "HAVING COUNT(*) > 1 ORDER BY 1, 2",
    "active_without_ciphertext": f"SELECT org_slug, provider, credential_id {_AUDITED} "
    "AND encrypted_credential IS NULL "
    "ORDER BY 1, 2",
    "reused_credentials": "SELECT provider, SUBSTR(credential_fingerprint, 1, 12) AS fingerprint, "
    "ANY_VALUE(credential_hint) AS hint, COUNT(DISTINCT org_slug) AS org_count, "
    f"ARRAY_AGG(DISTINCT org_slug ORDER BY org_slug) AS orgs {_AUDITED} "
    "GROUP BY provider, credential_fingerprint HAVING COUNT(DISTINCT org_slug) > 1 ORDER BY 1, 2",
    "key_versions": f"SELECT key_ref, COUNT(*) AS ciphertexts {_AUDITED} AND encrypted_credential IS NOT NULL "
    "GROUP BY 1 ORDER BY 1",
    "activity": "SELECT TIMESTAMP_TRUNC(event_at, DAY) AS day, action, COUNT(*) AS events "
    "FROM `{t}.org_integration_events` WHERE (@since IS NULL OR event_at >= @since) "
    "AND (@until IS NULL OR event_at <= @until) GROUP BY 1, 2 ORDER BY 1, 2",
    "failures_by_code": "SELECT error_code, action, COUNT(*) AS events FROM `{t}.org_integration_events` "
    "WHERE outcome != @success AND (@since IS NULL OR event_at >= @since) "
    "AND (@until IS NULL OR event_at <= @until) GROUP BY 1, 2 ORDER BY events DESC, 1, 2",
    "actors": "SELECT actor, action, COUNT(*) AS events FROM `{t}.org_integration_events` "
    "WHERE (@since IS NULL OR event_at >= @since) AND (@until IS NULL OR event_at <= @until) "
    "GROUP BY 1, 2 ORDER BY events DESC, 1, 2",
}


# --- re-validation runs ---------------------------------------------------------------------------------------
# The BigQuery statements of re-validation runs (see runs.py): a task's counts and read of its share (selected
# here: MOD(ABS(FARM_FINGERPRINT(credential_id)), @task_count) = @task_index), its staging INSERTs and done mark, and
# finalize's state, results, apply script and statuses. Every read of many rows is streamed by the store (pages).
#
# A run's rows are read within [@since, now): a constant bound, so BigQuery prunes the staging table's and the
# events' day partitions. Finalize applies only results whose event is not written yet, in one transaction, so a
# second finalize of the same run changes nothing; a result staged twice (a task retried after a write it did not
# see commit) counts once. A result is applied only while its credential is as the task read it (active, the same
# updated_at); otherwise its event is written as superseded (no status change) and nothing is applied.
_RUN = "r.run_id = @run_id AND r.checked_at >= @since"
_UNWRITTEN = (
    "NOT EXISTS (SELECT 1 FROM `{t}.org_integration_events` AS e WHERE e.event_at >= @since "
    "AND e.event_id = r.event_id)"
)
# a result is applied only to its credential as the task read it: still active and not written since
_UNCHANGED = "c.is_active AND (s.seen_updated_at IS NULL OR c.updated_at = s.seen_updated_at)"
# after the MERGE, in the same transaction: the credential holds exactly what this result wrote
_APPLIED = (
    "EXISTS (SELECT 1 FROM `{t}.org_integrations` AS c WHERE c.credential_id = r.credential_id AND c.is_active "
    "AND c.updated_at = r.checked_at AND c.updated_by = r.actor AND c.validation_status = r.status_after)"
)
_ONCE = "QUALIFY ROW_NUMBER() OVER (PARTITION BY r.credential_id ORDER BY r.checked_at, r.event_id) = 1"
_R = ", ".join(f"r.{c.strip()}" for c in RESULT_COLUMNS.split(","))

_SHARE = "MOD(ABS(FARM_FINGERPRINT(c.credential_id)), @task_count) = @task_index"
_TASKS = "k.run_id = @run_id AND k.done_at >= @since"

# the share's size and how much of it the run has staged: counts, no ciphertext read
SHARE_COUNTS = f"""SELECT COUNT(*) AS share, COUNT(s.credential_id) AS staged FROM `{{t}}.org_integrations` AS c
  LEFT JOIN (SELECT DISTINCT r.credential_id FROM `{{t}}.revalidation_results` AS r WHERE {_RUN}) AS s
    ON s.credential_id = c.credential_id
  WHERE c.is_active AND {_SHARE}"""
PENDING = (
    f"SELECT {', '.join(f'c.{c.strip()}' for c in CRED_COLUMNS.split(','))} FROM `{{t}}.org_integrations` AS c "
    f"WHERE c.is_active AND {_SHARE} AND NOT EXISTS (SELECT 1 FROM `{{t}}.revalidation_results` AS r WHERE {_RUN} "
    "AND r.credential_id = c.credential_id)"
)
TASK_DONE = """INSERT INTO `{t}.revalidation_tasks` (run_id, task_index, task_count, done_at)
  VALUES (@run_id, @task_index, @task_count, @done_at)"""
RUN_STATE = f"""SELECT
  (SELECT COUNT(DISTINCT r.credential_id) FROM `{{t}}.revalidation_results` AS r WHERE {_RUN}) AS staged,
  (SELECT COUNT(DISTINCT k.task_index) FROM `{{t}}.revalidation_tasks` AS k WHERE {_TASKS}) AS tasks_done,
  (SELECT MAX(k.task_count) FROM `{{t}}.revalidation_tasks` AS k WHERE {_TASKS}) AS task_count,
  (SELECT MIN(x.t0) FROM (SELECT MIN(r.checked_at) AS t0 FROM `{{t}}.revalidation_results` AS r WHERE {_RUN}
    UNION ALL SELECT MIN(k.done_at) AS t0 FROM `{{t}}.revalidation_tasks` AS k WHERE {_TASKS}) AS x) AS first_at"""
# the runs with a result staged since @since whose event is not written yet (a finalized run has none left): one job,
# every table read bounded by @since so its day partitions prune; a result staged twice counts once
RUNS_IN_PROGRESS = """SELECT r.run_id, COUNT(DISTINCT r.credential_id) AS staged, MIN(r.checked_at) AS first_at,
  MAX(r.checked_at) AS last_at, ANY_VALUE(k.tasks_done) AS tasks_done, ANY_VALUE(k.task_count) AS task_count
  FROM `{t}.revalidation_results` AS r
  LEFT JOIN (SELECT e.event_id FROM `{t}.org_integration_events` AS e WHERE e.event_at >= @since) AS e
    ON e.event_id = r.event_id
  LEFT JOIN (SELECT k.run_id, COUNT(DISTINCT k.task_index) AS tasks_done, MAX(k.task_count) AS task_count
    FROM `{t}.revalidation_tasks` AS k WHERE k.done_at >= @since GROUP BY k.run_id) AS k ON k.run_id = r.run_id
  WHERE r.checked_at >= @since
  GROUP BY r.run_id
  HAVING COUNTIF(e.event_id IS NULL) > 0
  ORDER BY first_at, r.run_id"""
STAGE = f"""INSERT INTO `{{t}}.revalidation_results` ({RESULT_COLUMNS})
  SELECT {_R} FROM UNNEST(@results) AS r
  WHERE NOT EXISTS (SELECT 1 FROM `{{t}}.revalidation_results` AS s WHERE s.run_id = r.run_id
    AND s.checked_at >= @since AND s.credential_id = r.credential_id)"""
# the run's results, one per credential, each with whether its event is written already (finalized before)
RESULTS = f"""SELECT {_R}, NOT {_UNWRITTEN} AS written, c.credential_id IS NOT NULL AS active, c.credential_hint,
  c.credential_name
  FROM `{{t}}.revalidation_results` AS r
  LEFT JOIN `{{t}}.org_integrations` AS c ON c.credential_id = r.credential_id AND c.is_active
  WHERE {_RUN}
  {_ONCE}"""
FINALIZE = f"""BEGIN TRANSACTION;
MERGE `{{t}}.org_integrations` AS c
  USING (SELECT {_R} FROM `{{t}}.revalidation_results` AS r WHERE {_RUN} AND NOT r.alarm AND {_UNWRITTEN}
    {_ONCE}) AS s
  ON c.credential_id = s.credential_id AND {_UNCHANGED}
  WHEN MATCHED THEN UPDATE SET validation_status = s.status_after, validation_error_code = s.error_code,
    validation_error_message = IF(s.error_code IS NULL, NULL, s.message),
    last_validated_at = COALESCE(s.validated_at, c.last_validated_at), updated_at = s.checked_at,
    updated_by = s.actor, data_status = COALESCE(s.data_status, c.data_status),
    data_through = COALESCE(s.data_through, c.data_through), data_newest_at = COALESCE(s.data_newest_at,
    c.data_newest_at), last_success_at = COALESCE(s.last_success_at, c.last_success_at),
    expiry = COALESCE(s.expiry, c.expiry), expires_at = IF(s.expiry IS NULL, c.expires_at, s.expires_at),
    last_used_at = IF(s.expiry IS NULL, c.last_used_at, s.last_used_at);
INSERT INTO `{{t}}.org_integration_events` ({EVENT_COLUMNS})
  SELECT r.event_id, r.checked_at, r.org_slug, r.provider, r.credential_id, @action, r.status_before,
  IF(r.alarm OR {_APPLIED}, r.status_after, r.status_before), r.outcome, r.error_code,
  IF(r.alarm OR {_APPLIED}, r.message, IFNULL(CONCAT(@superseded_then, r.message), @superseded)),
  r.actor, r.duration_ms, r.run_id
  FROM `{{t}}.revalidation_results` AS r WHERE {_RUN} AND {_UNWRITTEN}
  {_ONCE};
COMMIT TRANSACTION;
SELECT r.credential_id FROM `{{t}}.revalidation_results` AS r
  WHERE {_RUN} AND NOT r.alarm AND NOT {_UNWRITTEN} AND NOT {_APPLIED}"""
# after the apply: the current status of every credential the run applied (by any finalize) that is still active
STATUSES = f"""SELECT c.org_slug, c.provider, c.validation_status, c.created_at FROM `{{t}}.org_integrations` AS c
  WHERE c.is_active AND c.credential_id IN (SELECT r.credential_id FROM `{{t}}.revalidation_results` AS r
    WHERE {_RUN} AND NOT r.alarm AND NOT {_UNWRITTEN})"""
