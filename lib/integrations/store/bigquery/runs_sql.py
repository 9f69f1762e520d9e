"""The BigQuery statements of re-validation runs (see runs.py): a task's counts and read of its share (selected
here: MOD(ABS(FARM_FINGERPRINT(credential_id)), @task_count) = @task_index), its staging INSERTs and done mark, and
finalize's state, results, apply script and statuses. Every read of many rows is streamed by the store (pages).

A run's rows are read within [@since, now): a constant bound, so BigQuery prunes the staging table's and the
events' day partitions. Finalize applies only results whose event is not written yet, in one transaction, so a
second finalize of the same run changes nothing; a result staged twice (a task retried after a write it did not
see commit) counts once. A result is applied only while its credential is as the task read it (active, the same
updated_at); otherwise its event is written as superseded (no status change) and nothing is applied.
"""

from .sql import CRED_COLUMNS, EVENT_COLUMNS, RESULT_COLUMNS

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
