-- Status cache columns on the Supabase `organizations` table (one row per org).
-- Derived data, rebuilt by `integrations reconcile`; never a secret.
alter table public.organizations
  add column if not exists integration_openai_status text not null default 'NOT_CONFIGURED',
  add column if not exists integration_openai_configured_at timestamptz,
  add column if not exists integration_anthropic_status text not null default 'NOT_CONFIGURED',
  add column if not exists integration_anthropic_configured_at timestamptz,
  add column if not exists integration_gcp_status text not null default 'NOT_CONFIGURED',
  add column if not exists integration_gcp_configured_at timestamptz;

alter table public.organizations
  drop constraint if exists integration_openai_status_check,
  add constraint integration_openai_status_check
    check (integration_openai_status in ('VALID', 'INVALID', 'PENDING', 'NOT_CONFIGURED')),
  drop constraint if exists integration_anthropic_status_check,
  add constraint integration_anthropic_status_check
    check (integration_anthropic_status in ('VALID', 'INVALID', 'PENDING', 'NOT_CONFIGURED')),
  drop constraint if exists integration_gcp_status_check,
  add constraint integration_gcp_status_check
    check (integration_gcp_status in ('VALID', 'INVALID', 'PENDING', 'NOT_CONFIGURED'));
