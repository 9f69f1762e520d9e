/**
 * A small typed client for the integrations REST API, in the shape the org-facing frontend uses.
 * Every call takes the organization's API key (sent as X-API-Key). Types come from src/schema.d.ts,
 * generated from the API's own OpenAPI schema (`make ts-types`).
 */
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type ValidateOk = paths["/api/v1/integrations/{org_slug}/{provider}/validate"]["post"]["responses"][200];
export type Provider = Schemas["Provider"];
export type ProviderName = Provider | Lowercase<Provider>;
export type IntegrationStatus = Schemas["Status"];
export type DataStatus = Schemas["DataStatus"]; // is the org's cost data arriving (beside IntegrationStatus)
export type SetupRequest = Schemas["SetupRequest"];
export type SetupResponse = Schemas["SetupResponse"];
export type OrgIntegrations = Schemas["OrgIntegrationsResponse"];
export type Integration = Schemas["ConfiguredIntegration"] | Schemas["NotConfiguredIntegration"];
export type ValidateResponse = Schemas["ValidateResponse"];
export type DeleteResponse = Schemas["DeleteResponse"];
export type KeyTestRequest = Schemas["KeyTestRequest"];
export type KeyTestResponse = Schemas["KeyTestResponse"];
export type ErrorInfo = Schemas["ErrorInfo"];
export type WarningInfo = Schemas["WarningInfo"]; // a warning as an object: catalog code, message, fix
/** The Retry-After header as the schema declares it on a check's 200 (and on every 429). */
export type RetryAfter = NonNullable<ValidateOk["headers"]["Retry-After"]>;
/**
 * A check's answer (validate, test) with the 200's Retry-After: the provider's own value when it rate-limited the
 * check (`error.code` RATE_LIMITED, the check inconclusive), null otherwise or when the provider gave none.
 */
export type Checked<T> = T & { readonly retryAfter: RetryAfter | null };

/** A failed call: the API's error object, its HTTP status and (on 429) the Retry-After it gave. */
export class IntegrationsApiError extends Error {
  readonly code: string;
  readonly retryable: boolean;
  readonly hint: string;

  constructor(
    readonly status: number,
    readonly error: ErrorInfo,
    readonly retryAfter: string | null,
  ) {
    super(`${error.code}: ${error.message}`);
    this.name = "IntegrationsApiError";
    this.code = error.code;
    this.retryable = error.retryable;
    this.hint = error.hint;
  }
}

export class PipelineBackendClient {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Validate, encrypt and store a credential (a second setup rotates the first). */
  setupIntegration(
    orgSlug: string,
    provider: ProviderName,
    request: SetupRequest,
    orgApiKey: string,
  ): Promise<SetupResponse> {
    return this.call("POST", `/${orgSlug}/${provider}/setup`, orgApiKey, request);
  }

  /** Every provider's integration for the org (never a secret). */
  getIntegrations(orgSlug: string, orgApiKey: string): Promise<OrgIntegrations> {
    return this.call("GET", `/${orgSlug}`, orgApiKey);
  }

  /** One provider's integration. */
  getIntegration(orgSlug: string, provider: ProviderName, orgApiKey: string): Promise<Integration> {
    return this.call("GET", `/${orgSlug}/${provider}`, orgApiKey);
  }

  /**
   * Re-check the stored credential: a rejection is `success: false` with an `error`, not an exception; after the
   * provider's 429 (`error.code` RATE_LIMITED) `retryAfter` says when to check again.
   */
  validateIntegration(
    orgSlug: string,
    provider: ProviderName,
    orgApiKey: string,
  ): Promise<Checked<ValidateResponse>> {
    return this.check("POST", `/${orgSlug}/${provider}/validate`, orgApiKey);
  }

  /** Check a credential with the provider without saving it (nothing stored; counts against the attempt limit). */
  testIntegration(
    orgSlug: string,
    provider: ProviderName,
    request: KeyTestRequest,
    orgApiKey: string,
  ): Promise<Checked<KeyTestResponse>> {
    return this.check("POST", `/${orgSlug}/${provider}/test`, orgApiKey, request);
  }

  /** Deactivate the credential and erase its ciphertext. */
  deleteIntegration(orgSlug: string, provider: ProviderName, orgApiKey: string): Promise<DeleteResponse> {
    return this.call("DELETE", `/${orgSlug}/${provider}`, orgApiKey);
  }

  private async call<T>(method: string, path: string, orgApiKey: string, body?: unknown): Promise<T> {
    return (await this.send<T>(method, path, orgApiKey, body)).data;
  }

  /** A check's 200 with its Retry-After (the provider's, after a 429), which a plain call would drop. */
  private async check<T>(method: string, path: string, orgApiKey: string, body?: unknown): Promise<Checked<T>> {
    const { data, retryAfter } = await this.send<T>(method, path, orgApiKey, body);
    return { ...data, retryAfter };
  }

  private async send<T>(
    method: string,
    path: string,
    orgApiKey: string,
    body?: unknown,
  ): Promise<{ data: T; retryAfter: RetryAfter | null }> {
    const headers: Record<string, string> = { "X-API-Key": orgApiKey };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await this.fetchImpl(`${this.baseUrl}/api/v1/integrations${path}`, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
    });
    const data: unknown = await response.json();
    if (!response.ok) {
      const failure = data as Schemas["ErrorResponse"];
      throw new IntegrationsApiError(response.status, failure.error, response.headers.get("retry-after"));
    }
    return { data: data as T, retryAfter: response.headers.get("retry-after") };
  }
}

/** The document's standalone functions, each taking the org API key. */
export const setupIntegration = (
  baseUrl: string,
  orgSlug: string,
  provider: ProviderName,
  request: SetupRequest,
  orgApiKey: string,
): Promise<SetupResponse> => new PipelineBackendClient(baseUrl).setupIntegration(orgSlug, provider, request, orgApiKey);

export const getIntegrations = (baseUrl: string, orgSlug: string, orgApiKey: string): Promise<OrgIntegrations> =>
  new PipelineBackendClient(baseUrl).getIntegrations(orgSlug, orgApiKey);

export const getIntegration = (
  baseUrl: string,
  orgSlug: string,
  provider: ProviderName,
  orgApiKey: string,
): Promise<Integration> => new PipelineBackendClient(baseUrl).getIntegration(orgSlug, provider, orgApiKey);

export const validateIntegration = (
  baseUrl: string,
  orgSlug: string,
  provider: ProviderName,
  orgApiKey: string,
): Promise<Checked<ValidateResponse>> =>
  new PipelineBackendClient(baseUrl).validateIntegration(orgSlug, provider, orgApiKey);

export const deleteIntegration = (
  baseUrl: string,
  orgSlug: string,
  provider: ProviderName,
  orgApiKey: string,
): Promise<DeleteResponse> => new PipelineBackendClient(baseUrl).deleteIntegration(orgSlug, provider, orgApiKey);
