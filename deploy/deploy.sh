#!/usr/bin/env bash
# Build, deploy and schedule the nightly re-validation (README "Nightly re-validation on Cloud Run").
# Run deploy/iam.sh first. Usage: PROJECT_ID=p REGION=europe-west1 deploy/deploy.sh
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}"
IMAGE="${REGION}-docker.pkg.dev/${PROJECT_ID}/integrations/job:$(git rev-parse --short HEAD)"
here="$(cd "$(dirname "$0")" && pwd)"
render() {  # the YAML with this project's names in place of PROJECT_ID / REGION and this build's image
  sed -e "s|REGION-docker.pkg.dev/PROJECT_ID/integrations/job:latest|${IMAGE}|" \
      -e "s|PROJECT_ID|${PROJECT_ID}|g" -e "s|REGION|${REGION}|g" "$here/$1"
}

gcloud artifacts repositories describe integrations --location "$REGION" --project "$PROJECT_ID" >/dev/null 2>&1 ||
  gcloud artifacts repositories create integrations --repository-format docker --location "$REGION" \
    --project "$PROJECT_ID"
gcloud builds submit "$here/.." --project "$PROJECT_ID" --region "$REGION" \
  --config /dev/stdin <<YAML
steps:
  - name: gcr.io/cloud-builders/docker
    args: [build, -f, deploy/Dockerfile, -t, "${IMAGE}", .]
images: ["${IMAGE}"]
YAML

render job.yaml | gcloud run jobs replace - --region "$REGION" --project "$PROJECT_ID"
render finalize-job.yaml | gcloud run jobs replace - --region "$REGION" --project "$PROJECT_ID"
render workflow.yaml > /tmp/integrations-workflow.yaml
gcloud workflows deploy integrations-nightly --source /tmp/integrations-workflow.yaml --location "$REGION" \
  --service-account "integrations-workflow@${PROJECT_ID}.iam.gserviceaccount.com" --project "$PROJECT_ID"

# nightly at 03:00 UTC: Cloud Scheduler starts one workflow execution
uri="https://workflowexecutions.googleapis.com/v1/projects/${PROJECT_ID}/locations/${REGION}/workflows/integrations-nightly/executions"
if gcloud scheduler jobs describe integrations-nightly --location "$REGION" --project "$PROJECT_ID" >/dev/null 2>&1; then
  verb=update
else
  verb=create
fi
gcloud scheduler jobs "$verb" http integrations-nightly --location "$REGION" --project "$PROJECT_ID" \
  --schedule "0 3 * * *" --time-zone UTC --http-method POST --uri "$uri" --message-body '{}' \
  --oauth-service-account-email "integrations-scheduler@${PROJECT_ID}.iam.gserviceaccount.com"
