"""Every statement the BigQuery store emits, in BigQuery's dialect, with query parameters (@name).

`{t}` is the validated `project.dataset` prefix; nothing else is ever formatted into SQL text.
"""

CRED_COLUMNS = (
    "credential_id, org_slug, provider, credential_name, encrypted_credential, key_ref, credential_hint, "
    "credential_fingerprint, metadata, is_active, validation_status, validation_error_code, "
    "validation_error_message, last_validated_at, created_at, updated_at, created_by, updated_by, "
    "deleted_at"
)
EVENT_COLUMNS = (
    "event_id, at, org_slug, provider, credential_id, action, status_before, status_after, outcome, "
    "error_code, message, actor, duration_ms"
)
KEY_COLUMNS = "org_slug, key_id, key_prefix, key_hash, created_at, revoked_at"

CREATE_CREDENTIALS = """CREATE TABLE IF NOT EXISTS `{t}.org_integrations` (
  credential_id STRING NOT NULL, org_slug STRING NOT NULL, provider STRING NOT NULL, credential_name STRING,
  encrypted_credential BYTES, key_ref STRING, credential_hint STRING, credential_fingerprint STRING, metadata JSON,
  is_active BOOL NOT NULL, validation_status STRING NOT NULL, validation_error_code STRING,
  validation_error_message STRING, last_validated_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL, created_by STRING, updated_by STRING, deleted_at TIMESTAMP)
CLUSTER BY org_slug, provider"""
CREATE_EVENTS = """CREATE TABLE IF NOT EXISTS `{t}.org_integration_events` (
  event_id STRING NOT NULL, at TIMESTAMP NOT NULL, org_slug STRING NOT NULL, provider STRING, credential_id STRING,
  action STRING NOT NULL, status_before STRING, status_after STRING, outcome STRING NOT NULL, error_code STRING,
  message STRING, actor STRING, duration_ms INT64)
PARTITION BY DATE(at) CLUSTER BY org_slug"""
CREATE_KEYS = """CREATE TABLE IF NOT EXISTS `{t}.org_api_keys` (
  org_slug STRING NOT NULL, key_id STRING NOT NULL, key_prefix STRING NOT NULL, key_hash STRING NOT NULL,
  created_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP)"""

_INSERT_CREDENTIAL = f"""INSERT INTO `{{t}}.org_integrations` ({CRED_COLUMNS}) VALUES (@credential_id, @org_slug,
  @provider, @credential_name, @encrypted_credential, @key_ref, @credential_hint, @credential_fingerprint,
  PARSE_JSON(@metadata), @is_active, @validation_status, @validation_error_code, @validation_error_message,
  @last_validated_at, @created_at, @updated_at, @created_by, @updated_by, @deleted_at)"""
_INSERT_EVENT = f"""INSERT INTO `{{t}}.org_integration_events` ({EVENT_COLUMNS}) VALUES (@event_id, @at,
  @event_org_slug, @event_provider, @event_credential_id, @action, @status_before, @status_after, @outcome,
  @error_code, @message, @actor, @duration_ms)"""
_ERASE_ACTIVE = """UPDATE `{t}.org_integrations` SET is_active = FALSE, encrypted_credential = NULL,
  deleted_at = @erase_at, updated_at = @erase_at, updated_by = @erase_actor
  WHERE org_slug = @org_slug AND provider = @provider AND is_active"""

SELECT_CREDENTIALS = f"SELECT {CRED_COLUMNS} FROM `{{t}}.org_integrations`"
ACTIVE = SELECT_CREDENTIALS + " WHERE org_slug = @org_slug AND provider = @provider AND is_active"
LIST_ALL = (
    SELECT_CREDENTIALS + " WHERE (@org_slug IS NULL OR org_slug = @org_slug) AND (is_active OR NOT @active_only)"
    " ORDER BY org_slug, provider, created_at"
)
ACTIVE_FRAME = (  # overview.ACTIVE_COLUMNS, named as the overview names them
    "SELECT org_slug, provider, validation_status AS status, credential_name, credential_hint, last_validated_at, "
    "created_at AS configured_at, validation_error_code AS error_code, validation_error_message AS error_message, "
    "credential_id, key_ref, encrypted_credential IS NOT NULL AS has_ciphertext "
    "FROM `{t}.org_integrations` WHERE is_active"
)
ACTIVATE = f"BEGIN TRANSACTION;\n{_ERASE_ACTIVE};\n{_INSERT_CREDENTIAL};\n{_INSERT_EVENT};\nCOMMIT TRANSACTION"
IS_ACTIVE = "SELECT key_ref FROM `{t}.org_integrations` WHERE credential_id = @credential_id AND is_active"
RECORD_VALIDATION = f"""BEGIN TRANSACTION;
UPDATE `{{t}}.org_integrations` SET validation_status = @validation_status,
  validation_error_code = @validation_error_code, validation_error_message = @validation_error_message,
  last_validated_at = COALESCE(@validated_at, last_validated_at), updated_at = @at, updated_by = @actor
  WHERE credential_id = @credential_id AND is_active;
{_INSERT_EVENT};
COMMIT TRANSACTION"""
DEACTIVATE = f"BEGIN TRANSACTION;\n{_ERASE_ACTIVE};\n{_INSERT_EVENT};\nCOMMIT TRANSACTION"
REPLACE_CIPHERTEXT = f"""BEGIN TRANSACTION;
UPDATE `{{t}}.org_integrations` SET encrypted_credential = @ciphertext, key_ref = @key_ref
  WHERE credential_id = @credential_id AND is_active AND key_ref = @expected_key_ref;
{_INSERT_EVENT};
COMMIT TRANSACTION"""
APPEND_EVENT = _INSERT_EVENT
EVENTS = (
    f"SELECT {EVENT_COLUMNS} FROM `{{t}}.org_integration_events` WHERE (@org_slug IS NULL OR org_slug = @org_slug)"
    " ORDER BY at DESC, event_id DESC"
)
ADD_KEY = f"""INSERT INTO `{{t}}.org_api_keys` ({KEY_COLUMNS}) VALUES (@org_slug, @key_id, @key_prefix, @key_hash,
  @created_at, @revoked_at)"""
FIND_KEY = f"SELECT {KEY_COLUMNS} FROM `{{t}}.org_api_keys` WHERE key_id = @key_id"
COUNT_LIVE_KEYS = "SELECT COUNT(*) AS n FROM `{t}.org_api_keys` WHERE org_slug = @org_slug AND revoked_at IS NULL"
REVOKE_KEYS = "UPDATE `{t}.org_api_keys` SET revoked_at = @at WHERE org_slug = @org_slug AND revoked_at IS NULL"
LIST_KEYS = (
    f"SELECT {KEY_COLUMNS} FROM `{{t}}.org_api_keys` WHERE (@org_slug IS NULL OR org_slug = @org_slug)"
    " ORDER BY created_at"
)
PING = "SELECT 1 AS ok"
CREATE_KEY_VERSIONS = """CREATE TABLE IF NOT EXISTS `{t}.key_versions` (
  key_ref STRING NOT NULL, key_check STRING NOT NULL, created_at TIMESTAMP NOT NULL, retired_at TIMESTAMP)"""
KEY_VERSIONS = "SELECT key_ref, key_check, created_at, retired_at FROM `{t}.key_versions`"
RECORD_KEY_VERSION = """INSERT INTO `{t}.key_versions` (key_ref, key_check, created_at, retired_at)
  SELECT @key_ref, @key_check, @created_at, CAST(NULL AS TIMESTAMP) FROM (SELECT 1)
  WHERE NOT EXISTS (SELECT 1 FROM `{t}.key_versions` WHERE key_ref = @key_ref)"""
RETIRE_KEY_VERSION = """UPDATE `{t}.key_versions` SET retired_at = @at
  WHERE key_ref = @key_ref AND retired_at IS NULL"""

ALL = {name: value for name, value in dict(globals()).items() if name.isupper() and "COLUMNS" not in name}
