-- Status cache columns on the frontend's Supabase `organizations` table (one row per org, created by the frontend).
-- Derived data, rebuilt by `integrations reconcile`; never a secret. We only add and constrain our own columns.
-- Idempotent: safe to run again, and safe where the columns already exist with legacy values or types
-- (lower-case or padded statuses are normalised, NULL or empty -> NOT_CONFIGURED, anything else -> PENDING;
-- a text configured_at is converted to timestamptz). Run `integrations reconcile` afterwards.
begin;

do $migration$
declare
  provider text;
  status_col text;
  at_col text;
  col_type text;
  allowed constant text := $$('VALID', 'INVALID', 'PENDING', 'NOT_CONFIGURED')$$;
begin
  foreach provider in array array['openai', 'anthropic', 'gcp'] loop
    status_col := format('integration_%s_status', provider);
    at_col := format('integration_%s_configured_at', provider);

    execute format(
      'alter table public.organizations add column if not exists %I text not null default %L, '
      'add column if not exists %I timestamptz',
      status_col, 'NOT_CONFIGURED', at_col);

    select data_type into col_type from information_schema.columns
     where table_schema = 'public' and table_name = 'organizations' and column_name = status_col;
    if col_type <> 'text' then  -- a legacy varchar or enum
      execute format('alter table public.organizations alter column %1$I type text using %1$I::text', status_col);
    end if;
    select data_type into col_type from information_schema.columns
     where table_schema = 'public' and table_name = 'organizations' and column_name = at_col;
    if col_type <> 'timestamp with time zone' then
      execute format(
        'alter table public.organizations alter column %1$I type timestamptz using nullif(btrim(%1$I::text), '''')::timestamptz',
        at_col);
    end if;

    execute format('alter table public.organizations drop constraint if exists %I', status_col || '_check');
    execute format(
      'update public.organizations set %1$I = case '
      '  when upper(btrim(%1$I)) in %2$s then upper(btrim(%1$I)) '
      '  when %1$I is null or btrim(%1$I) = %3$L then %4$L '
      '  else %5$L end '
      'where %1$I is null or %1$I not in %2$s',
      status_col, allowed, '', 'NOT_CONFIGURED', 'PENDING');
    execute format(
      'alter table public.organizations alter column %1$I set default %2$L, alter column %1$I set not null, '
      'add constraint %3$I check (%1$I in %4$s)',
      status_col, 'NOT_CONFIGURED', status_col || '_check', allowed);
  end loop;
end
$migration$;

commit;
