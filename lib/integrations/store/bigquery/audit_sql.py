"""Audit aggregations in BigQuery's dialect: in the gcp profile the audit questions run in BigQuery, and only
their (small) answers travel back. `{t}` is the validated `project.dataset`; values are @parameters."""

_ACTIVE = "FROM `{t}.org_integrations` WHERE is_active"

AUDIT = {
    "configured": f"SELECT provider, validation_status AS status, COUNT(*) AS n {_ACTIVE} GROUP BY 1, 2",
    "unhealthy": "SELECT org_slug, provider, validation_status, validation_error_code, credential_hint, created_at, "
    f"last_validated_at {_ACTIVE} AND validation_status != @valid ORDER BY org_slug, provider",
    "stale_pending": "SELECT org_slug, provider, validation_status, validation_error_code, credential_hint, "
    f"created_at, last_validated_at {_ACTIVE} AND validation_status = @pending "
    "AND created_at < @cutoff ORDER BY org_slug, provider",
    "validation_age": "SELECT org_slug, provider, validation_status, last_validated_at, "
    f"TIMESTAMP_DIFF(@now, last_validated_at, SECOND) / 86400 AS age_days {_ACTIVE} "
    "ORDER BY org_slug, provider",
    "not_validated_since": "SELECT org_slug, provider, validation_status, last_validated_at, "
    f"TIMESTAMP_DIFF(@now, last_validated_at, SECOND) / 86400 AS age_days {_ACTIVE} "
    "AND (last_validated_at IS NULL OR last_validated_at < @cutoff) ORDER BY org_slug, provider",
    "duplicate_active": f"SELECT org_slug, provider, COUNT(*) AS active_rows {_ACTIVE} GROUP BY 1, 2 "
    "HAVING COUNT(*) > 1 ORDER BY 1, 2",
    "active_without_ciphertext": f"SELECT org_slug, provider, credential_id {_ACTIVE} AND encrypted_credential IS NULL "
    "ORDER BY 1, 2",
    "reused_credentials": "SELECT provider, SUBSTR(credential_fingerprint, 1, 12) AS fingerprint, "
    "ANY_VALUE(credential_hint) AS hint, COUNT(DISTINCT org_slug) AS org_count, "
    f"ARRAY_AGG(DISTINCT org_slug ORDER BY org_slug) AS orgs {_ACTIVE} "
    "GROUP BY provider, credential_fingerprint HAVING COUNT(DISTINCT org_slug) > 1 ORDER BY 1, 2",
    "key_versions": f"SELECT key_ref, COUNT(*) AS ciphertexts {_ACTIVE} AND encrypted_credential IS NOT NULL "
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
