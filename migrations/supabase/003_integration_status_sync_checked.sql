-- The status sync RPC learns compare-and-set (issue 28, N5): an update with `"checked": true` (a check's result)
-- is written only where the row's integration_{provider}_configured_at is already the update's configured_at,
-- i.e. the row still shows the credential that was checked. A credential deleted or replaced while it was checked
-- keeps the newer state its delete or setup wrote. Updates without `checked` are written as before. Needs 001 and
-- 002 first. Idempotent (create or replace, same signature and grants as 002).
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
    raise exception 'updates must be a JSON array of {org_slug, provider, status, configured_at, checked}';
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
      'from (select distinct on (org_slug) org_slug, status, configured_at, checked '
      '        from rows from (jsonb_to_recordset($1) as (org_slug text, provider text, status text, '
      '             configured_at timestamptz, checked boolean)) '
      '             with ordinality as r (org_slug, provider, status, configured_at, checked, n) '
      '       where provider = $2 order by org_slug, n desc) u '
      'where o.org_slug = u.org_slug '
      '  and (not coalesce(u.checked, false) or o.%2$I is not distinct from u.configured_at)',
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
