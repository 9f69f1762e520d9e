#!/usr/bin/env bash
# The service accounts of the nightly re-validation and the least each needs.
# Usage: PROJECT_ID=p REGION=europe-west1 DATASET=organizations KEYRING=integrations deploy/iam.sh
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}"
DATASET="${DATASET:-organizations}" KEYRING="${KEYRING:-integrations}"
sa() { echo "$1@${PROJECT_ID}.iam.gserviceaccount.com"; }
for name in integrations-job integrations-workflow integrations-scheduler; do
  gcloud iam service-accounts describe "$(sa "$name")" --project "$PROJECT_ID" >/dev/null 2>&1 ||
    gcloud iam service-accounts create "$name" --project "$PROJECT_ID" --display-name "$name"
done

# 1. integrations-job: what the tasks and finalize run as
#    - BigQuery Job User on the project (query jobs), Data Editor on the dataset only (read credentials, append to
#      revalidation_results, MERGE into org_integrations, INSERT events)
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:$(sa integrations-job)" \
  --role roles/bigquery.jobUser --condition None
bq add-iam-policy-binding --member "serviceAccount:$(sa integrations-job)" --role roles/bigquery.dataEditor \
  "${PROJECT_ID}:${DATASET}"
#    - Decrypt with the credentials key (a re-validation never encrypts; setups run elsewhere)
gcloud kms keys add-iam-policy-binding credentials --keyring "$KEYRING" --location "$REGION" --project "$PROJECT_ID" \
  --member "serviceAccount:$(sa integrations-job)" --role roles/cloudkms.cryptoKeyDecrypter
#    - the Supabase service role key, from Secret Manager
gcloud secrets add-iam-policy-binding supabase-service-role-key --project "$PROJECT_ID" \
  --member "serviceAccount:$(sa integrations-job)" --role roles/secretmanager.secretAccessor
#    - the status-flip alert's webhook URL (finalize posts to it), from Secret Manager
gcloud secrets add-iam-policy-binding integrations-alert-webhook-url --project "$PROJECT_ID" \
  --member "serviceAccount:$(sa integrations-job)" --role roles/secretmanager.secretAccessor

# 2. integrations-workflow: runs the two jobs with argument overrides (run.jobs.runWithOverrides is in
#    roles/run.developer) and acts as the job's service account when it does
#    (the jobs exist once deploy/deploy.sh has run: run this script again after the first deploy)
for job in integrations-revalidate integrations-finalize; do
  if gcloud run jobs describe "$job" --region "$REGION" --project "$PROJECT_ID" >/dev/null 2>&1; then
    gcloud run jobs add-iam-policy-binding "$job" --region "$REGION" --project "$PROJECT_ID" \
      --member "serviceAccount:$(sa integrations-workflow)" --role roles/run.developer
  else
    echo "job $job not deployed yet: run deploy/deploy.sh, then this script again" >&2
  fi
done
gcloud iam service-accounts add-iam-policy-binding "$(sa integrations-job)" --project "$PROJECT_ID" \
  --member "serviceAccount:$(sa integrations-workflow)" --role roles/iam.serviceAccountUser
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:$(sa integrations-workflow)" \
  --role roles/logging.logWriter --condition None

# 3. integrations-scheduler: starts the workflow, nothing else
gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "serviceAccount:$(sa integrations-scheduler)" \
  --role roles/workflows.invoker --condition None
