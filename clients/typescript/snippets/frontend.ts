/**
 * The integration document's frontend snippets, written against the typed client. `tsc --strict` checks them,
 * and tests/typescript runs them against a real API on loopback: the types and the wire must agree.
 * Environment: BASE_URL, ORG, ORG_API_KEY, OPENAI_KEY, GCP_KEY_FILE (a five-field service-account key file),
 * RATE_LIMITED_KEY (an Anthropic key the provider answers 429 for, with its Retry-After).
 */
import { readFileSync } from "node:fs";

import {
  IntegrationsApiError,
  PipelineBackendClient,
  getIntegrations,
  setupIntegration,
  validateIntegration,
} from "../src/client.js";
import type { DataStatus, IntegrationStatus, Provider, RetryAfter } from "../src/client.js";

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const baseUrl = env("BASE_URL");
const org = env("ORG");
const orgApiKey = env("ORG_API_KEY");
const client = new PipelineBackendClient(baseUrl);
const results: Record<string, unknown> = {};

// Setup: an OpenAI key, validated live (skip_validation omitted, as in the document's GCP example)
const setup = await setupIntegration(
  baseUrl,
  org,
  "openai",
  { credential: env("OPENAI_KEY"), credential_name: "OpenAI Production Key", metadata: { environment: "production" } },
  orgApiKey,
);
const credentialId: string = setup.credential_id; // always present on a successful setup
results.setup = { success: setup.success, credentialId, status: setup.validation_status, kind: setup.credential_kind };

// Setup without validation: stored as PENDING
const gcp = await client.setupIntegration(
  org,
  "GCP",
  { credential: readFileSync(env("GCP_KEY_FILE"), "utf8"), credential_name: "Billing export", skip_validation: true },
  orgApiKey,
);
results.setupSkipped = { status: gcp.validation_status, warnings: gcp.warnings };

// Get all: read each provider's status, all_valid and the configured list
const { integrations, all_valid, providers_configured } = await getIntegrations(baseUrl, org, orgApiKey);
const openaiStatus: IntegrationStatus = integrations.OPENAI.status;
const configured: Provider[] = providers_configured;
results.getAll = {
  openai: openaiStatus,
  anthropic: integrations.ANTHROPIC.status,
  allValid: all_valid,
  hasOpenAI: providers_configured.includes("OPENAI"),
  configured,
};
const openai = integrations.OPENAI;
if (openai.status !== "NOT_CONFIGURED") {
  results.openaiHint = openai.credential_hint; // narrowed to a configured integration
  const data: DataStatus | null = openai.data_status ?? null; // null: this key reads no cost data
  results.openaiData = { status: data, through: openai.data_through ?? null, lastSuccess: openai.last_success_at ?? null };
}

// Get one
const one = await client.getIntegration(org, "gcp", orgApiKey);
results.getOne = { provider: one.status === "NOT_CONFIGURED" ? one.provider : one.credential_kind, status: one.status };

// Validate: a rejection or an inconclusive check is a result, not an exception
const validated = await client.validateIntegration(org, "gcp", orgApiKey);
results.validate = {
  success: validated.success,
  status: validated.validation_status,
  errorCode: validated.error?.code ?? null,
  capabilities: validated.capabilities.map((c) => `${c.name}: ${c.status}`),
  retryAfter: validated.retryAfter,
};

// Validate when the provider rate-limits the check: a 200 (inconclusive), with the provider's Retry-After
await client.setupIntegration(org, "anthropic", { credential: env("RATE_LIMITED_KEY"), skip_validation: true }, orgApiKey);
const limited = await validateIntegration(baseUrl, org, "anthropic", orgApiKey);
const wait: RetryAfter | null = limited.retryAfter;
results.rateLimited = { success: limited.success, errorCode: limited.error?.code ?? null, retryAfter: wait };

// Delete
const deleted = await client.deleteIntegration(org, "gcp", orgApiKey);
results.delete = { success: deleted.success, message: deleted.message, warnings: deleted.warnings };

// An error's code: another call after delete, and a wrong key
for (const attempt of [
  () => client.validateIntegration(org, "gcp", orgApiKey),
  () => client.getIntegrations(org, "not-a-key"),
]) {
  try {
    await attempt();
    results.unexpected = true;
  } catch (error) {
    if (!(error instanceof IntegrationsApiError)) throw error;
    const errors = (results.errors ??= []) as Array<{ status: number; code: string; retryable: boolean }>;
    errors.push({ status: error.status, code: error.code, retryable: error.retryable });
  }
}

process.stdout.write(JSON.stringify(results));
