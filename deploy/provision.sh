#!/usr/bin/env bash
# Step 1 of the deploy (README "Nightly re-validation on Cloud Run"): everything the nightly run needs that a fresh
# project lacks, each created only when missing (run it again: it changes nothing). Grants are deploy/iam.sh's.
# Usage: PROJECT_ID=p REGION=europe-west1 BQ_LOCATION=EU \
#          SUPABASE_KEY_FILE=path ALERT_WEBHOOK_URL_FILE=path ORG_ALERT_WEBHOOKS_FILE=path \
#          ALERT_SIGNING_SECRET_FILE=path deploy/provision.sh
# The four files hold the Supabase service-role key, the operator's alert webhook URL, the tenants' alert webhooks
# (a JSON object {"org-slug": "https://..."}, `{}` for none yet) and the alerts' signing master secret (at least 32
# characters, e.g. `openssl rand -hex 32`); each is read only while its secret has no version yet (gcloud reads it;
# nothing is echoed).
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}" "${BQ_LOCATION:?set BQ_LOCATION (the dataset location)}"
DATASET="${DATASET:-organizations}"
KEYRING="${KEYRING:-integrations}"
p=(--project "$PROJECT_ID")

# APIs first: every create below needs its service enabled
gcloud services enable "${p[@]}" bigquery.googleapis.com cloudkms.googleapis.com secretmanager.googleapis.com \
  artifactregistry.googleapis.com cloudbuild.googleapis.com run.googleapis.com workflows.googleapis.com \
  cloudscheduler.googleapis.com iam.googleapis.com logging.googleapis.com

# the identities: tasks, finalize, the workflow, the scheduler (what each may do: deploy/iam.sh)
for name in integrations-tasks integrations-finalize integrations-workflow integrations-scheduler; do
  if ! gcloud iam service-accounts describe "$name@${PROJECT_ID}.iam.gserviceaccount.com" "${p[@]}" >/dev/null 2>&1
  then
    gcloud iam service-accounts create "$name" "${p[@]}" --display-name "$name"
  fi
done

# the workflow's two custom roles: run the jobs with argument overrides (granted on the two jobs by deploy.sh), and
# watch the operation and execution it started (granted on the project)
role() {  # role() ID TITLE PERMISSIONS
  if gcloud iam roles describe "$1" "${p[@]}" >/dev/null 2>&1; then
    gcloud iam roles update "$1" "${p[@]}" --permissions "$3" --quiet >/dev/null
  else
    gcloud iam roles create "$1" "${p[@]}" --title "$2" --permissions "$3" --stage GA
  fi
}
role integrationsJobRunner "Integrations: run a job with overrides" run.jobs.run,run.jobs.runWithOverrides
role integrationsRunWatcher "Integrations: watch job executions" run.operations.get,run.executions.get

# the dataset, in its location (the jobs' INTEGRATIONS_BIGQUERY_LOCATION); its tables come from `integrations init`
if ! bq show --format=none "${PROJECT_ID}:${DATASET}" >/dev/null 2>&1; then
  bq --location="$BQ_LOCATION" mk --dataset "${PROJECT_ID}:${DATASET}"
fi

# Cloud KMS: the key ring, the credentials key (ENCRYPT_DECRYPT) and the fingerprints key (HMAC)
k=(--location "$REGION" "${p[@]}")
gcloud kms keyrings describe "$KEYRING" "${k[@]}" >/dev/null 2>&1 || gcloud kms keyrings create "$KEYRING" "${k[@]}"
if ! gcloud kms keys describe credentials --keyring "$KEYRING" "${k[@]}" >/dev/null 2>&1; then
  gcloud kms keys create credentials --keyring "$KEYRING" "${k[@]}" --purpose encryption
fi
if ! gcloud kms keys describe fingerprints --keyring "$KEYRING" "${k[@]}" >/dev/null 2>&1; then
  gcloud kms keys create fingerprints --keyring "$KEYRING" "${k[@]}" --purpose mac \
    --default-algorithm hmac-sha256 --protection-level software
fi

# Secret Manager: the Supabase key and the alerts' three secrets, each with a first version from its file
secret() {  # secret() NAME FILE_VARIABLE
  gcloud secrets describe "$1" "${p[@]}" >/dev/null 2>&1 ||
    gcloud secrets create "$1" "${p[@]}" --replication-policy automatic
  if ! gcloud secrets versions describe latest --secret "$1" "${p[@]}" >/dev/null 2>&1; then
    local file="${!2:-}"
    if [[ -z "$file" || ! -r "$file" ]]; then
      echo "secret $1 has no version: set $2 to a file holding it and run this again" >&2
      return 1
    fi
    gcloud secrets versions add "$1" "${p[@]}" --data-file "$file"
  fi
}
secret supabase-service-role-key SUPABASE_KEY_FILE
secret integrations-alert-webhook-url ALERT_WEBHOOK_URL_FILE
secret integrations-org-alert-webhooks ORG_ALERT_WEBHOOKS_FILE
secret integrations-alert-signing-secret ALERT_SIGNING_SECRET_FILE

# Artifact Registry: where deploy.sh pushes the job image
if ! gcloud artifacts repositories describe integrations --location "$REGION" "${p[@]}" >/dev/null 2>&1; then
  gcloud artifacts repositories create integrations --repository-format docker --location "$REGION" "${p[@]}"
fi
echo "provisioned ${PROJECT_ID}: next, \`integrations init\` with the gcp settings (the tables), then deploy/iam.sh"
