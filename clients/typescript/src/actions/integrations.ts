"use server";
/**
 * `@/actions/integrations`: the module the integration document's frontend snippets import, as server actions
 * (Next.js "use server"). They run on the server only: the org API key is read there (see `orgApiKey` below)
 * and never reaches the browser; a call answers a plain result object and never throws.
 *
 * Configuration (server environment): INTEGRATIONS_API_URL (default http://127.0.0.1:8000) and the org's API key
 * in INTEGRATIONS_ORG_API_KEY_<SLUG> (slug upper-cased, '-' as '_') or INTEGRATIONS_ORG_API_KEY; or call
 * `configureIntegrationActions` once at server start with your own lookup (e.g. a secret manager).
 */
import { IntegrationsApiError, PipelineBackendClient } from "../client.js";
import type { IntegrationStatus, OrgIntegrations, Provider, ProviderName, SetupRequest, WarningInfo } from "../client.js";

export interface IntegrationActionsConfig {
  baseUrl?: string;
  orgApiKey?: (orgSlug: string) => string | Promise<string>;
  fetchImpl?: typeof fetch;
}

let config: IntegrationActionsConfig = {};

/** Set the API's address and the org API key lookup (server side). */
export async function configureIntegrationActions(next: IntegrationActionsConfig): Promise<void> {
  config = { ...config, ...next };
}

function env(name: string): string | undefined {
  const value = typeof process === "undefined" ? undefined : process.env[name];
  return value === undefined || value === "" ? undefined : value;
}

async function keyFor(orgSlug: string): Promise<string> {
  if (config.orgApiKey) return config.orgApiKey(orgSlug);
  const key = env(`INTEGRATIONS_ORG_API_KEY_${orgSlug.toUpperCase().replace(/-/g, "_")}`) ?? env("INTEGRATIONS_ORG_API_KEY");
  if (key === undefined) throw new Error(`No org API key is configured on the server for ${orgSlug}.`);
  return key;
}

function client(): PipelineBackendClient {
  return new PipelineBackendClient(config.baseUrl ?? env("INTEGRATIONS_API_URL") ?? "http://127.0.0.1:8000", config.fetchImpl);
}

/** What a failed action says: the catalog code, a message for people, whether a retry may help, and the fix. */
export interface ActionFailure {
  success: false;
  error: string;
  errorCode: string;
  retryable: boolean;
  hint: string;
  retryAfter: string | null;
}

function failure(exc: unknown): ActionFailure {
  if (exc instanceof IntegrationsApiError) {
    return {
      success: false,
      error: exc.error.message,
      errorCode: exc.code,
      retryable: exc.retryable,
      hint: exc.hint,
      retryAfter: exc.retryAfter,
    };
  }
  return {
    success: false,
    error: "The integrations service could not be reached.",
    errorCode: "NETWORK_ERROR",
    retryable: true,
    hint: "Retry in a moment; if it persists, check INTEGRATIONS_API_URL on the server.",
    retryAfter: null,
  };
}

export interface SetupIntegrationInput {
  orgSlug: string;
  provider: ProviderName;
  credential: string;
  credentialName?: string;
  metadata?: NonNullable<SetupRequest["metadata"]>;
  skipValidation?: boolean;
}

export interface SetupIntegrationSuccess {
  success: true;
  credentialId: string;
  validationStatus: IntegrationStatus;
  message: string;
  /** Not failures: each with its catalog code and fix (e.g. STATUS_SYNC_FAILED). */
  warnings: WarningInfo[];
  error?: undefined;
}

export type SetupIntegrationResult = SetupIntegrationSuccess | (ActionFailure & { validationStatus?: undefined });

/** Validate, encrypt and store a provider credential for the org (a second setup rotates the first). */
export async function setupIntegration(input: SetupIntegrationInput): Promise<SetupIntegrationResult> {
  try {
    const answer = await client().setupIntegration(
      input.orgSlug,
      input.provider,
      {
        credential: input.credential,
        ...(input.credentialName === undefined ? {} : { credential_name: input.credentialName }),
        ...(input.metadata === undefined ? {} : { metadata: input.metadata }),
        ...(input.skipValidation === undefined ? {} : { skip_validation: input.skipValidation }),
      },
      await keyFor(input.orgSlug),
    );
    return {
      success: true,
      credentialId: answer.credential_id,
      validationStatus: answer.validation_status,
      message: answer.message,
      warnings: answer.warning_details,
    };
  } catch (exc) {
    return failure(exc);
  }
}

export interface GetIntegrationsSuccess {
  success: true;
  integrations: OrgIntegrations["integrations"];
  allValid: boolean;
  providersConfigured: Provider[];
  /** e.g. STATUS_CACHE_DRIFT: the status cache disagrees with the system of record (each with its fix). */
  warnings: WarningInfo[];
  error?: undefined;
}

export type GetIntegrationsResult = GetIntegrationsSuccess | (ActionFailure & { integrations?: undefined });

/** Every provider's integration for the org (status, name, hint; never a secret). */
export async function getIntegrations(orgSlug: string): Promise<GetIntegrationsResult> {
  try {
    const answer = await client().getIntegrations(orgSlug, await keyFor(orgSlug));
    return {
      success: true,
      integrations: answer.integrations,
      allValid: answer.all_valid,
      providersConfigured: answer.providers_configured,
      warnings: answer.warning_details,
    };
  } catch (exc) {
    return failure(exc);
  }
}
