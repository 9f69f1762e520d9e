-- One RPC for a batch of status updates (`POST /rest/v1/rpc/integration_status_sync`), so a bulk sync of N
-- statuses costs one request per 500 instead of N PATCHes. It only UPDATEs our columns on existing rows: it never
-- inserts. When any org_slug matches no row it writes nothing and returns those slugs (the caller reports
-- ORG_NOT_FOUND); otherwise it returns an empty array. Needs 001 first. Idempotent (create or replace).
-- SECURITY INVOKER: it runs with the caller's rights, and only service_role may call it.
begin;

create or replace function public.integration_status_sync(updates jsonb)
returns text[]
language plpgsql
security invoker
set search_path = ''
as $$
declare
  missing text[];
  provider text;
begin
  if jsonb_typeof(updates) is distinct from 'array' then
    raise exception 'updates must be a JSON array of {org_slug, provider, status, configured_at}';
  end if;
  select coalesce(array_agg(distinct u.org_slug order by u.org_slug), '{}') into missing
    from jsonb_to_recordset(updates) as u (org_slug text)
   where not exists (select 1 from public.organizations o where o.org_slug = u.org_slug);
  if cardinality(missing) > 0 then
    return missing;
  end if;
  if exists (select 1 from jsonb_to_recordset(updates) as u (provider text)
              where u.provider is null or u.provider not in ('openai', 'anthropic', 'gcp')) then
    raise exception 'unknown provider in updates' using hint = 'provider is one of openai, anthropic, gcp';
  end if;
  foreach provider in array array['openai', 'anthropic', 'gcp'] loop
    execute format(
      'update public.organizations o set %1$I = u.status, %2$I = u.configured_at '
      'from (select distinct on (org_slug) org_slug, status, configured_at '
      '        from rows from (jsonb_to_recordset($1) as (org_slug text, provider text, status text, '
      '             configured_at timestamptz)) with ordinality as r (org_slug, provider, status, configured_at, n) '
      '       where provider = $2 order by org_slug, n desc) u '
      'where o.org_slug = u.org_slug',
      format('integration_%s_status', provider), format('integration_%s_configured_at', provider))
    using updates, provider;
  end loop;
  return missing;
end
$$;

revoke execute on function public.integration_status_sync(jsonb) from public;
do $grant$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke execute on function public.integration_status_sync(jsonb) from anon, authenticated';
  end if;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant execute on function public.integration_status_sync(jsonb) to service_role';
  end if;
end
$grant$;

commit;
