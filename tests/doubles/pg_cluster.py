"""A throwaway PostgreSQL cluster for tests: Debian's `postgresql` binaries, a temp dir, a unix socket, no TCP.

initdb refuses to run as root, so when the tests run as root the server runs as the `postgres` system user
(which Debian's package creates). Every caller gets a fresh database cloned from a template that holds the
Supabase frontend's schema (see `FRONTEND_SCHEMA`); cluster-wide roles are created once.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

TEMPLATE = "frontend_template"

# Supabase's API roles: PostgREST logs in as `authenticator` and switches to the role named by the request's JWT.
# service_role bypasses row-level security (BYPASSRLS), as it does in Supabase; anon and authenticated do not.
ROLES = """
create role authenticator login noinherit;
create role anon nologin noinherit;
create role authenticated nologin noinherit;
create role service_role nologin noinherit bypassrls;
grant anon, authenticated, service_role to authenticator;
"""

# The frontend's table, not ours: its own columns, RLS on, members may read their orgs. Supabase grants the API
# roles table privileges by default; RLS then decides which rows anon/authenticated see (none, here, for anon).
FRONTEND_SCHEMA = """
create schema auth;
create function auth.uid() returns uuid language sql stable as
  $$ select nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
create table public.organizations (
  id uuid primary key,
  org_slug text unique not null,
  org_name text not null,
  created_at timestamptz not null default now()
);
create table public.org_members (
  org_id uuid not null references public.organizations (id),
  user_id uuid not null,
  primary key (org_id, user_id)
);
alter table public.organizations enable row level security;
alter table public.org_members enable row level security;
create policy "members read their organizations" on public.organizations for select to authenticated
  using (id in (select org_id from public.org_members where user_id = auth.uid()));
create policy "members read their memberships" on public.org_members for select to authenticated
  using (user_id = auth.uid());
grant usage on schema public to anon, authenticated, service_role;
grant select, insert, update, delete on all tables in schema public to anon, authenticated, service_role;
"""


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (see .ci/run)")
    return Path(initdb).resolve().parent


class Cluster:
    """One postgres server on a unix socket in a temp dir; `database()` hands out fresh databases."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pgtest-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.bindir = _bindir()
        self._user = "postgres" if os.geteuid() == 0 else None
        self._templates: set[str] = set()
        self._lock = threading.Lock()

    def _run(self, *args: str) -> None:
        try:
            subprocess.run([str(self.bindir / args[0]), *args[1:]], check=True, capture_output=True, user=self._user)
        except subprocess.CalledProcessError as exc:
            log = self.root / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {exc.stderr.decode(errors='replace')}\n{tail}") from None

    def start(self) -> Cluster:
        if self._user:
            shutil.chown(self.root, self._user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off -c full_page_writes=off -c timezone=UTC"
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", str(self.root / "log"), "-o", options, "start")
        with self.connect("postgres") as conn:
            conn.execute(ROLES)
            conn.execute(f"create database {TEMPLATE}")
        with self.connect(TEMPLATE) as conn:
            conn.execute(FRONTEND_SCHEMA)
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def conninfo(self, dbname: str, user: str = "postgres") -> str:
        return f"host={self.socket_dir} dbname={dbname} user={user}"

    def connect(self, dbname: str, user: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.conninfo(dbname, user), autocommit=True)

    def template(self, name: str, setup: Callable[[psycopg.Connection], None]) -> str:
        """A template database: the frontend's schema plus `setup`, built once per cluster."""
        with self._lock:
            if name not in self._templates:
                with self.connect("postgres") as conn:
                    conn.execute(f"create database {name} template {TEMPLATE} strategy file_copy")
                with self.connect(name) as conn:
                    setup(conn)
                self._templates.add(name)
        return name

    @contextmanager
    def database(self, template: str = TEMPLATE) -> Iterator[str]:
        """A fresh database cloned from `template` (default: the frontend's schema only). It is not dropped after
        use (a drop forces a checkpoint, 0.5 s each): the whole cluster is removed when it stops."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.connect("postgres") as conn:
            conn.execute(f"create database {name} template {template}")
        yield name


@contextmanager
def cluster() -> Iterator[Cluster]:
    """Start a cluster, yield it, stop it and remove its files whatever happens."""
    pg = Cluster()
    try:
        yield pg.start()
    finally:
        pg.stop()
