#!/usr/bin/env bash
# Step 3 of the deploy: what each identity may do, and nothing more. Needs what deploy/provision.sh created and the
# tables `integrations init` created (each grant names an existing resource; the real tools refuse others).
# Re-running it adds nothing (a binding that exists is left as is).
# Usage: PROJECT_ID=p REGION=europe-west1 BQ_LOCATION=EU deploy/iam.sh
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}" "${BQ_LOCATION:?set BQ_LOCATION (the dataset location)}"
DATASET="${DATASET:-organizations}"
KEYRING="${KEYRING:-integrations}"
p=(--project "$PROJECT_ID")
sa() { echo "serviceAccount:$1@${PROJECT_ID}.iam.gserviceaccount.com"; }
project_role() { gcloud projects add-iam-policy-binding "$PROJECT_ID" --member "$1" --role "$2" --condition None >/dev/null; }
table_role() {  # table_role() MEMBER ROLE TABLE: table-level IAM (not the dataset: no org_api_keys, no history)
  bq add-iam-policy-binding --member "$1" --role "$2" "${PROJECT_ID}:${DATASET}.$3" >/dev/null
}
dataset_metadata() {  # the dataset's and tables' metadata (integrations init gets them at start), no rows
  bq query --location="$BQ_LOCATION" --nouse_legacy_sql --format=none \
    "GRANT \`roles/bigquery.metadataViewer\` ON SCHEMA \`${PROJECT_ID}\`.${DATASET} TO \"$1\""
}

# 1. integrations-tasks: read the credentials, stage results; decrypt; no Supabase, no alert secret, no fingerprints
tasks="$(sa integrations-tasks)"
project_role "$tasks" roles/bigquery.jobUser
dataset_metadata "$tasks"
table_role "$tasks" roles/bigquery.dataViewer org_integrations
table_role "$tasks" roles/bigquery.dataEditor revalidation_results
gcloud kms keys add-iam-policy-binding credentials --keyring "$KEYRING" --location "$REGION" "${p[@]}" \
  --member "$tasks" --role roles/cloudkms.cryptoKeyDecrypter >/dev/null

# 2. integrations-finalize: read the staged results, MERGE statuses, INSERT events; the Supabase key and the alerts'
#    three secrets (webhook URL, tenants' webhooks, signing master secret); no KMS
final="$(sa integrations-finalize)"
project_role "$final" roles/bigquery.jobUser
dataset_metadata "$final"
table_role "$final" roles/bigquery.dataViewer revalidation_results
table_role "$final" roles/bigquery.dataEditor org_integrations
table_role "$final" roles/bigquery.dataEditor org_integration_events
for secret in supabase-service-role-key integrations-alert-webhook-url integrations-org-alert-webhooks \
  integrations-alert-signing-secret; do
  gcloud secrets add-iam-policy-binding "$secret" "${p[@]}" --member "$final" \
    --role roles/secretmanager.secretAccessor >/dev/null
done

# 3. integrations-workflow: watch the operations and executions it starts (the custom role from provision.sh) and
#    write its logs. Running the two jobs (integrationsJobRunner on each job) is granted by deploy.sh once they exist.
#    No run.developer (it could change a job's image), no actAs on the jobs' accounts (running needs none).
flow="$(sa integrations-workflow)"
project_role "$flow" "projects/${PROJECT_ID}/roles/integrationsRunWatcher"
project_role "$flow" roles/logging.logWriter

# 4. integrations-scheduler: starts the workflow, nothing else
project_role "$(sa integrations-scheduler)" roles/workflows.invoker
echo "granted: next, deploy/deploy.sh"
