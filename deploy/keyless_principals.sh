#!/usr/bin/env bash
# Keyless GCP: one service account per org (its principal) in a project that holds only principals, the runtime
# identities allowed to mint tokens for them, and the BigQuery Job User role mode-a dry runs are billed with.
# The principal's id is int-<the first 24 hex digits of sha256("integrations-org:<org>")>, as
# lib/integrations/providers/gcp_keyless.py names it; `integrations keyless ORG` prints it too.
# Usage: PRINCIPALS_PROJECT=p RUNTIME_SAS="integrations-job@p.iam.gserviceaccount.com integrations-api@p..." \
#          deploy/keyless_principals.sh ORG [ORG...]
# A project holds 100 service accounts by default: ask for a quota raise, or shard orgs over principal projects.
# (The API creates a missing principal on demand instead when INTEGRATIONS_GCP_CREATE_PRINCIPALS=true; the Job User
# grant below is still this script's.)
set -euo pipefail
: "${PRINCIPALS_PROJECT:?set PRINCIPALS_PROJECT}" "${RUNTIME_SAS:?set RUNTIME_SAS (space-separated emails)}"
[ "$#" -gt 0 ] || { echo "usage: $0 ORG [ORG...]" >&2; exit 2; }

gcloud services enable iamcredentials.googleapis.com iam.googleapis.com bigquery.googleapis.com \
  --project "$PRINCIPALS_PROJECT"
# Token Creator on the principals project = on every principal in it (nothing else lives there)
for runtime in $RUNTIME_SAS; do
  gcloud projects add-iam-policy-binding "$PRINCIPALS_PROJECT" --member "serviceAccount:${runtime}" \
    --role roles/iam.serviceAccountTokenCreator --condition None >/dev/null
done

for org in "$@"; do
  id="int-$(printf 'integrations-org:%s' "$org" | sha256sum | cut -c1-24)"
  email="${id}@${PRINCIPALS_PROJECT}.iam.gserviceaccount.com"
  gcloud iam service-accounts describe "$email" --project "$PRINCIPALS_PROJECT" >/dev/null 2>&1 ||
    gcloud iam service-accounts create "$id" --project "$PRINCIPALS_PROJECT" \
      --display-name "integrations ${org}" --description "keyless GCP reader"
  # mode a: the dry-run query that proves read access runs in (and is billed to) the principals project
  gcloud projects add-iam-policy-binding "$PRINCIPALS_PROJECT" --member "serviceAccount:${email}" \
    --role roles/bigquery.jobUser --condition None >/dev/null
  echo "${org}: ${email}"
done
