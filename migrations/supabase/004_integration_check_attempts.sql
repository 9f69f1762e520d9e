-- The attempt limiter's shared count (issue 28, N16): every API replica and restart counts an org's credential
-- checks in one place, so "20 checks a minute" holds for the service, not per process. Our own table (never the
-- frontend's), RLS on with no policy (only service_role, which bypasses RLS, reads or writes it), and one RPC that
-- counts and records atomically (an advisory lock per org), on the database's clock. Rows older than the window
-- are deleted as the org's next attempt is counted. Idempotent.
begin;

create table if not exists public.integration_check_attempts (
  org_slug text not null,
  at timestamptz not null default now()
);
create index if not exists integration_check_attempts_org on public.integration_check_attempts (org_slug, at);
alter table public.integration_check_attempts enable row level security;
revoke all on public.integration_check_attempts from public;

-- null when the attempt was recorded; else the seconds until the oldest counted attempt leaves the window
create or replace function public.integration_check_attempt(org_slug text, max_attempts integer, window_s double precision)
returns double precision
language plpgsql
security invoker
set search_path = ''
as $$
declare
  window_start timestamptz := now() - make_interval(secs => window_s);
  counted integer;
  oldest timestamptz;
begin
  perform pg_advisory_xact_lock(hashtext('integration_check_attempt:' || org_slug));
  delete from public.integration_check_attempts a where a.org_slug = $1 and a.at <= window_start;
  select count(*), min(a.at) into counted, oldest from public.integration_check_attempts a where a.org_slug = $1;
  if counted >= max_attempts then
    return greatest(0, extract(epoch from (oldest + make_interval(secs => window_s) - now())));
  end if;
  insert into public.integration_check_attempts (org_slug) values ($1);
  return null;
end
$$;

revoke execute on function public.integration_check_attempt(text, integer, double precision) from public;
do $grant$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on public.integration_check_attempts from anon, authenticated';
    execute 'revoke execute on function public.integration_check_attempt(text, integer, double precision) '
            'from anon, authenticated';
  end if;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, delete on public.integration_check_attempts to service_role';
    execute 'grant execute on function public.integration_check_attempt(text, integer, double precision) '
            'to service_role';
  end if;
end
$grant$;

commit;
