#!/usr/bin/env bash
# Step 4 of the deploy: render deploy/'s templates for this project (deploy/render.py), build the job image with the
# rendered env pinned into it, replace the two jobs, let the workflow run them, deploy the workflow, schedule it
# nightly. Re-running it deploys the current commit again and changes nothing else.
# Usage: PROJECT_ID=p REGION=europe-west1 BQ_LOCATION=EU SUPABASE_URL=https://REF.supabase.co deploy/deploy.sh
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}" "${BQ_LOCATION:?set BQ_LOCATION (the dataset location)}"
: "${SUPABASE_URL:?set SUPABASE_URL (https://REF.supabase.co)}"
here="$(cd "$(dirname "$0")" && pwd)"
p=(--project "$PROJECT_ID")
IMAGE="${REGION}-docker.pkg.dev/${PROJECT_ID}/integrations/job:$(git -C "$here" rev-parse --short HEAD)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

pin_b64="$(python3 "$here/render.py" --project "$PROJECT_ID" --region "$REGION" --location "$BQ_LOCATION" \
  --supabase-url "$SUPABASE_URL" --image "$IMAGE" --dataset "${DATASET:-organizations}" \
  --keyring "${KEYRING:-integrations}" --out "$out" --print-pin-b64)"

cat > "$out/cloudbuild.yaml" <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, -f, deploy/Dockerfile, --build-arg, "PINNED_ENV_B64=${pin_b64}", -t, "${IMAGE}", .]
images: ["${IMAGE}"]
YAML
gcloud builds submit "$here/.." "${p[@]}" --region "$REGION" --config "$out/cloudbuild.yaml"

for job in job.yaml finalize-job.yaml; do
  gcloud run jobs replace "$out/$job" --region "$REGION" "${p[@]}"
done
# the workflow runs each job with argument overrides: the custom role from provision.sh, on these two jobs only
for job in integrations-revalidate integrations-finalize; do
  gcloud run jobs add-iam-policy-binding "$job" --region "$REGION" "${p[@]}" \
    --member "serviceAccount:integrations-workflow@${PROJECT_ID}.iam.gserviceaccount.com" \
    --role "projects/${PROJECT_ID}/roles/integrationsJobRunner" >/dev/null
done
gcloud workflows deploy integrations-nightly --source "$out/workflow.yaml" --location "$REGION" "${p[@]}" \
  --service-account "integrations-workflow@${PROJECT_ID}.iam.gserviceaccount.com"

# nightly at 03:00 UTC: Cloud Scheduler starts one workflow execution
uri="https://workflowexecutions.googleapis.com/v1/projects/${PROJECT_ID}/locations/${REGION}/workflows/integrations-nightly/executions"
if gcloud scheduler jobs describe integrations-nightly --location "$REGION" "${p[@]}" >/dev/null 2>&1; then
  verb=update
else
  verb=create
fi
gcloud scheduler jobs "$verb" http integrations-nightly --location "$REGION" "${p[@]}" \
  --schedule "0 3 * * *" --time-zone UTC --http-method POST --uri "$uri" --message-body '{}' \
  --oauth-service-account-email "integrations-scheduler@${PROJECT_ID}.iam.gserviceaccount.com"
echo "deployed ${IMAGE}"
