// The integration document's frontend snippets, copied verbatim: a settings form's submit handler and the page
// that lists an org's integrations, calling the server actions of `@/actions/integrations`.
import { getIntegrations, setupIntegration } from "@/actions/integrations";

export async function handleSubmit(orgSlug: string, provider: string, apiKey: string, keyName: string) {
  const result = await setupIntegration({
    orgSlug,
    provider: provider as "OPENAI" | "ANTHROPIC" | "GCP",
    credential: apiKey,
    credentialName: keyName,
  });

  if (result.success) {
    console.log(`Saved: ${result.validationStatus}`);
    return { ok: true, status: result.validationStatus };
  } else {
    console.error(result.error);
    return { ok: false, message: result.error };
  }
}

export async function loadIntegrations(orgSlug: string) {
  const result = await getIntegrations(orgSlug);
  if (!result.success) {
    throw new Error(result.error);
  }
  const openai = result.integrations.OPENAI;
  const anthropic = result.integrations.ANTHROPIC;
  const gcp = result.integrations.GCP;
  return {
    openai: openai.status,
    anthropic: anthropic.status,
    gcp: gcp.status,
    configured: result.providersConfigured,
    allValid: result.allValid,
  };
}

// run against a real API on loopback (tests/typescript): the answers the snippets read
const org = process.env.ORG ?? "acmecorp";
const saved = await handleSubmit(org, "OPENAI", process.env.OPENAI_KEY ?? "", "OpenAI Production Key");
const listed = await loadIntegrations(org);
const refused = await handleSubmit(org, "ANTHROPIC", "not-a-key", "Bad key");
console.log(JSON.stringify({ saved, listed, refused }));
