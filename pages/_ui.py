"""Streamlit-only helpers shared by the pages: the service, the operator, the chosen org, jobs, error display.

The library never imports Streamlit; the pages never build adapters.
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import streamlit as st
from integrations import Capability, DataStatus, IntegrationError, IntegrationService, Provider, Status, connect
from integrations.jobs import Job, JobRunner
from integrations.labels import LABELS, label
from integrations.troubleshooting import advice
from integrations.verdict import ProblemClass

ORG_KEY = "org"
ORG_REQUEST_KEY = "org_request"
PROVIDER_KEY = "provider"
BULK = "bulk"  # the job kind of bulk re-validations: one at a time, shown in every page's sidebar
BULK_WATCH_KEY = "bulk_watch"  # the bulk job this session saw running (refresh the page when it ends)
FLASH_KEY = "flash"
LOOPBACK = ["127.0.0.1", "localhost", "::1"]
ROOT = Path(__file__).resolve().parents[1]  # where app.py is: page paths are relative to it
DEEP_LINK_KEY = "deep_link"  # the page and query of a request that arrived before app.py ran (see through_app)
APP_KEY = "entered_through_app"  # set by app.py once its checks (sign-in or local Host) passed
# A key whose check could not reach its provider, kept in the session (on the server, never drawn) so that Setup can
# store it as PENDING without a second paste; dropped once used, at the next run that does not offer it, when the
# org or provider changes, or when another page opens after the offer.
KEPT_KEY = "setup_kept_for_pending"
STATUS_ICONS = {"VALID": "🟢", "INVALID": "🔴", "PENDING": "🟡", "NOT_CONFIGURED": "⚪"}
BADGES = {s.value: f"{STATUS_ICONS[s.value]} {label(s)}" for s in Status}  # 🟢 Valid, ⚪ Not configured
_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=\"'])")


def _env_fingerprint() -> str:
    return repr(sorted((k, v) for k, v in os.environ.items() if k.startswith(("INTEGRATIONS_", "SUPABASE_"))))


@st.cache_resource(show_spinner=False)
def _service(fingerprint: str) -> IntegrationService:
    return connect(installed=True)  # a missing data dir is refused ("Run `integrations init`"), never created


def service() -> IntegrationService:
    """One service per configuration, shared by every session. A bad setting or a missing data dir: the catalog
    error and its fix on the page, nothing else (no traceback)."""
    try:
        return _service(_env_fingerprint())
    except IntegrationError as exc:
        st.error(f"**{exc.code}**: {plain(exc.message)}\n\nFix: {plain(exc.hint)}")
        st.stop()
        raise  # st.stop() raises; this line is for the type checker


@st.cache_resource(show_spinner=False)
def _jobs(fingerprint: str) -> JobRunner:
    return JobRunner()


def jobs() -> JobRunner:
    """The background jobs of this console process (checks and bulk runs outlive the page that started them)."""
    return _jobs(_env_fingerprint())


# Kept as shared resources, not copied per read (at 10,000 orgs a copy of the overview costs a noticeable part of
# a render): read-only for the pages, which derive new frames from them. `attrs["version"]` names one read, so
# what a page derives from it can be cached per version. Each is kept while the store's data version stays the same:
# a render of unchanged data reads nothing again, and a write of any process (the CLI, the API, a nightly run)
# shows at the next render.
AGE_BUCKET_S = 3600  # what is kept is read again at least this often: ages and cost-data freshness move with time
STALE_AFTER_S = 15  # a store with no cheap data version (BigQuery): what is kept is read again after this


def data_version() -> str:
    """The store's marker of its data (read on every render, one cheap query), with the hour: unchanged data is
    still read again hourly, as its validation ages and cost-data freshness move on. A store without a marker
    gives a 15 s bucket of time instead."""
    version = service().data_version()
    now = time.time()
    if version is None:
        return f"t{int(now // STALE_AFTER_S)}"
    return f"{version}@{int(now // AGE_BUCKET_S)}"


@st.cache_resource(max_entries=2, show_spinner="Loading the overview…")
def _overview(fingerprint: str, version: str) -> pd.DataFrame:
    frame = _service(fingerprint).overview()
    frame.attrs["as_of"] = pd.Timestamp.now(tz="UTC").strftime("%H:%M:%S")  # text: Arrow serializes attrs as JSON
    frame.attrs["version"] = uuid.uuid4().hex
    return frame


@st.cache_resource(max_entries=16, show_spinner="Loading the runs…")
def _run_changes(fingerprint: str, version: str, run_id: str | None) -> pd.DataFrame:
    return _service(fingerprint).run_changes(run_id)


@st.cache_resource(max_entries=2, show_spinner=False)
def _org_slugs(fingerprint: str, version: str) -> list[str]:
    return _service(fingerprint).orgs()


def run_changes(run_id: str | None = None) -> pd.DataFrame:
    """One run's status changes (by default the last bulk or nightly run), with every run in `attrs["runs"]`."""
    return _run_changes(_env_fingerprint(), data_version(), run_id)


# a run started in another process (the CLI, a Cloud Run task) is read from the store's staged results: every few
# seconds on a local store (SQLite: ~0.1 s with 8 nightly runs of 10,000 checks in the window), at most every 10 s
# on one that bills each read (BigQuery: a job); kept per data version too, so a finalize shows at the next render
LOCAL_POLL_S, BILLED_POLL_S = 3.0, 10.0


@st.cache_resource(max_entries=4, show_spinner=False)
def _runs_in_progress(fingerprint: str, version: str, bucket: int) -> list:
    return _service(fingerprint).runs_in_progress()


def runs_in_progress() -> tuple[list, float]:
    """The runs in progress in any process (staged, not finalized), and how often to read them again: read once
    per poll interval and data version, less often on a store whose every read is a billed job (BigQuery)."""
    svc = service()
    version = svc.data_version()
    poll = BILLED_POLL_S if svc.reads_billed else LOCAL_POLL_S
    return _runs_in_progress(_env_fingerprint(), str(version), int(time.time() // poll)), poll


def overview() -> pd.DataFrame:
    """The org x provider table, kept while the data is unchanged; `changed()` drops it (the Refresh button)."""
    return _overview(_env_fingerprint(), data_version())


def changed() -> None:
    _overview.clear()
    _run_changes.clear()
    _org_slugs.clear()


def plain(text: object) -> str:
    """Text chosen by a tenant (or echoed from a URL), escaped so that Markdown shows it literally."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text)).replace("\n", " ")


def flash(kind: str, message: str) -> None:
    """A message for the next render of the page (set by an action's callback, shown once)."""
    st.session_state.setdefault(FLASH_KEY, []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        {"success": st.success, "error": st.error, "warning": st.warning, "info": st.info}[kind](message)


def auth_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all: local mode
        return False


def local_host_allowed() -> bool:
    """In local mode the console answers only requests addressed to itself: the Host header must name a loopback
    address (or the configured server.address), so a page on another name that resolves here (DNS rebinding)
    gets nothing. A run with no HTTP request behind it (AppTest) has no Host to check."""
    headers = st.context.headers
    if not headers:
        return True
    host = (urlsplit(f"//{headers.get('Host', '')}").hostname or "").rstrip(".")
    return host in (st.get_option("server.allowedHosts") or LOOPBACK)


def through_app() -> None:
    """Every page starts here. Streamlit serves the `pages/` folder on its own (each page without app.py, so
    without sign-in or the Host check) until the first st.navigation call of the process, e.g. to the first
    request after a start: such a run is sent to app.py instead, with the page and the URL's query (an alert's
    deep link is exactly such a first request): app.py reads the org from that query and opens the page asked
    for once its checks passed. A run with no HTTP request (AppTest) is let be. A page other than Setup drops the
    key Setup kept to offer storing it as PENDING (forget_offered_key)."""
    page = _page_of(sys._getframe(1).f_globals.get("__file__", ""))
    if page != "pages/setup.py":
        forget_offered_key()
    if st.context.headers and not st.session_state.get(APP_KEY):
        query = {k: st.query_params[k] for k in st.query_params}
        st.session_state[DEEP_LINK_KEY] = (page, query)
        st.switch_page("app.py", query_params=query)


def _page_of(path: str) -> str | None:
    """A page script's path relative to app.py's folder (pages/setup.py), or None."""
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix() if path else None
    except ValueError:
        return None


def forget_offered_key() -> None:
    """Another page opened: a key Setup kept is dropped, unless its check is still running (Setup then shows the
    outcome, and the offer, when the operator comes back)."""
    kept = st.session_state.get(KEPT_KEY)
    if kept and (kept["offered"] or not getattr(jobs().get(kept["job"]), "running", False)):
        st.session_state.pop(KEPT_KEY)


def to_setup() -> None:
    """`/setup`: Setup is the default page, served at `/`; this opens it with the URL's query (org, provider)."""
    st.switch_page("pages/setup.py", query_params={k: st.query_params[k] for k in st.query_params})


def deep_link() -> tuple[str, dict[str, str]] | None:
    """The page and query a first request asked for before app.py ran (see through_app), once."""
    link = st.session_state.pop(DEEP_LINK_KEY, None)
    return link if link and link[0] else None


def signed_in() -> bool:
    return bool(getattr(st.user, "is_logged_in", False))


def actor() -> str:
    """The signed-in operator's email, or the local user in local mode."""
    if auth_configured() and signed_in():
        return str(st.user.get("email") or st.user.get("name") or "operator")
    return f"local:{os.environ.get('USER', 'operator')}"


def org_slugs() -> list[str]:
    """Every org's slug from the system of record (the picker works while the status cache is down), kept while
    the data is unchanged."""
    return _org_slugs(_env_fingerprint(), data_version())


ORG_FIND_KEY = "org_find"
PICKER_LIMIT = 100  # options sent to the browser in the org picker; more orgs are found by the search above it


def org_choices(slugs: list[str], wanted: str | None) -> list[str]:
    """The org picker's options: every org while there are few; with more than PICKER_LIMIT, a search box above the
    picker and the first PICKER_LIMIT orgs whose slug contains its text, with the chosen org always among them."""
    if len(slugs) <= PICKER_LIMIT:
        return slugs
    text = st.text_input(
        "Find an organization",
        key=ORG_FIND_KEY,
        placeholder=f"part of a slug ({len(slugs):,} orgs)",
        help=f"The picker below lists {PICKER_LIMIT} organizations at a time: the ones whose slug contains this text.",
    )
    needle = text.strip().lower()
    found = [s for s in slugs if needle in s] if needle else slugs
    shown = found[:PICKER_LIMIT]
    if wanted in slugs and wanted not in shown:
        shown = [wanted, *shown]
    if needle:
        st.caption(
            f"{len(found):,} match{'es' if len(found) != 1 else ''}"
            + (f", the first {PICKER_LIMIT} listed" if len(found) > PICKER_LIMIT else "")
        )
    return shown


def requested_org() -> str | None:
    """The org chosen in the sidebar, else the URL's."""
    return st.session_state.get(ORG_KEY) or st.query_params.get(ORG_KEY)


def unknown_org() -> str | None:
    """The org the URL asks for when no such org exists (a page then says so and opens nothing)."""
    wanted = requested_org()
    return wanted if wanted and wanted not in org_slugs() else None


def current_org() -> str | None:
    """The chosen org; None when there is none or the requested one does not exist."""
    org, slugs = requested_org(), org_slugs()
    if org:
        return org if org in slugs else None
    return slugs[0] if slugs else None


def require_org() -> str:
    """The chosen org, or stop the page with what is wrong (unknown org in the URL, or no orgs at all)."""
    org = current_org()
    if org is None:
        missing = unknown_org()
        if missing:
            st.error(f"No organization {plain(missing)} exists. Pick one in the sidebar.", icon="🔎")
        else:
            st.info("No organizations yet: create one with `integrations org create SLUG`.")
        st.stop()
    return org  # type: ignore[return-value]


def current_provider() -> Provider:
    try:
        return Provider.parse(st.query_params.get(PROVIDER_KEY, "OPENAI"))
    except IntegrationError:
        return Provider.OPENAI


def provider_picker(key: str) -> str:
    """The provider radio, starting from the URL's provider; the choice goes back into the URL."""
    values = [p.value for p in Provider]
    choice = st.radio(
        "Provider",
        values,
        key=key,
        horizontal=True,
        index=values.index(current_provider().value),
        format_func=label,
    )
    st.query_params[PROVIDER_KEY] = choice
    return choice


def open_page(page: str, org: str, provider: str) -> None:
    """Jump to another page with org/provider in the URL (shareable)."""
    st.session_state[ORG_REQUEST_KEY] = org  # the sidebar widget is already drawn: app.py applies it next run
    st.switch_page(page, query_params={ORG_KEY: org, PROVIDER_KEY: provider})


def show_error(
    exc: IntegrationError,
    org: str | None = None,
    provider: str | None = None,
    *,
    kind: str | None = None,
    stored: bool = True,
    rotation: bool = False,
) -> None:
    """The catalog entry for an error, narrowed to the key at hand (its provider and kind; whether it was ever
    stored, whether it was a rotation): what happened, likely causes, fixes, and a way to troubleshoot."""
    entry = exc.entry
    st.error(f"**{entry.title}** (`{exc.code}`): {plain(exc.message)}", icon="🚫")
    with st.container(border=True):
        if provider:
            told = advice(exc.code, provider, kind, stored=stored, rotation=rotation)
            causes, fixes, notes = told.causes, told.fixes, told.notes
        else:
            causes, fixes, notes = list(entry.causes), list(entry.fixes), []
        for note in notes:
            st.markdown(f"**{note}**")
        st.markdown("**Likely causes**\n" + "\n".join(f"- {c}" for c in causes))
        st.markdown("**What to do**\n" + "\n".join(f"- {f}" for f in fixes))
        if exc.retryable:
            st.caption("This is temporary: nothing was changed; retry later.")
        checks = exc.details.get("checks") or []
        if checks:
            st.markdown(
                "**Checks**\n"
                + "\n".join(f"- {'✅' if c['passed'] else '❌'} {c['name']} {plain(c['detail'])}" for c in checks)
            )
    troubleshoot_link(org, provider)


def troubleshoot_link(org: str | None, provider: str | None) -> None:
    params = {k: v for k, v in ((ORG_KEY, org), (PROVIDER_KEY, provider)) if v}
    st.page_link("pages/troubleshooting.py", label="Open troubleshooting", icon="🩺", query_params=params)


def show_capabilities(capabilities: list[Capability]) -> None:
    """What the key can do for cost tracking: inference and cost data, each passed or not available, and why."""
    for c in capabilities:
        icon = "✅" if c.status == "passed" else "ℹ️"
        st.caption(f"{icon} **{c.name}**: {c.status}. {c.detail}")


def wait_for(job: Job, labels: dict[str, str] | None = None) -> None:
    """Draw a running job's steps and progress until it ends. Leaving the page stops only this drawing: the job
    goes on, and its outcome is shown when the operator comes back."""
    with st.status(job.label, expanded=True) as box:
        shown, bar = 0, st.empty()
        while job.running:
            for step in job.steps[shown:]:
                box.write(f"{(labels or {}).get(step, step)}…")
            shown = len(job.steps)
            # drawing something each turn is also what lets Streamlit stop this run when the operator leaves
            bar.progress(job.fraction, text=f"{job.done}/{job.total}" if job.total else "Working…")
            time.sleep(0.1)
        for step in job.steps[shown:]:
            box.write(f"{(labels or {}).get(step, step)}…")
        bar.empty()
        if job.error is None:
            box.update(label="Done", state="complete", expanded=False)
        else:
            box.update(label=f"Failed: {job.error.code}", state="error", expanded=False)


def start_bulk(label: str, **kwargs: Any) -> None:
    """Start a bulk re-validation in the background (one at a time: a run of one task that finalizes itself). Its
    run id is made here, so every tab can show that run as in progress."""
    svc, who, run_id = service(), actor(), f"bulk-{uuid.uuid4().hex[:16]}"

    def work(job: Job) -> Any:
        try:
            return svc.revalidate_many(actor=who, progress=job.progress, run_id=run_id, **kwargs)
        finally:
            changed()

    try:
        job = jobs().start(BULK, label, work, owner=who, exclusive=True, meta={"run_id": run_id})
        st.session_state[BULK_WATCH_KEY] = job.id
        st.session_state["bulk_result"] = job.id
    except IntegrationError as exc:
        flash("warning", f"`{exc.code}`: {plain(exc.message)}")


def runs_going_on() -> frozenset[str]:
    """The ids of the bulk runs in progress: this process's (in any tab) and any other process's (the CLI, a nightly
    task), from the store."""
    running = jobs().running(BULK)
    mine = {str(running.meta.get("run_id") or running.id)} if running is not None else set()
    return frozenset(mine | {r.run_id for r in runs_in_progress()[0]})


def bulk_sidebar() -> None:
    """Every page's sidebar: the running bulk re-validation's progress, then its outcome. While a run is in progress
    (started in this tab, another tab or another process) the page watches it and, when it ends, draws itself again
    whole: its actions enabled again and the run's changes listed, with no refresh by the operator. An idle page
    does not poll."""
    running = jobs().running(BULK)
    if running is not None:
        st.session_state[BULK_WATCH_KEY] = running.id
    going_on = runs_going_on()
    every = 1.0 if running is not None else runs_in_progress()[1] if going_on else None

    @st.fragment(run_every=every)
    def progress() -> None:
        job = jobs().get(st.session_state.get(BULK_WATCH_KEY)) or jobs().latest(BULK)
        if job is not None and job.running:
            st.progress(job.fraction, text=f"{job.label}: {job.done}/{job.total}")
        elif job is not None and job.result is not None:
            st.caption(f"Last bulk run: {job.result.checked} checked, {job.result.changed} status change(s).")
        elif job is not None and job.error is not None:
            st.caption(f"Last bulk run failed: {job.error.code}")
        if every is not None and going_on - runs_going_on():
            changed()
            st.rerun()  # a run this page drew as in progress has ended: the whole page as it is now

    progress()


DATA_ICONS = {"FRESH": "🟢", "STALE": "🟠", "STALLED": "🔴", "PENDING_FIRST_DATA": "🔵"}
DATA_BADGES = {d.value: f"{DATA_ICONS[d.value]} {label(d)}" for d in DataStatus}  # 🟠 Stale


def freshness_facts(current: Any) -> None:
    """A Setup card's second row: the cost data's status, the newest day with data, the source's last successful
    read, and the key's expiry ("never expires" and "unknown" said explicitly; "not asked" where the provider has
    no expiry to read). A late source is a warning beside a valid credential, with its catalog code."""
    data = current.data_status.value if current.data_status is not None else None
    through = str(current.data_through) if current.data_through else ("no data yet" if data else "—")
    facts = {
        "Cost data": DATA_BADGES.get(data or "", "not read"),
        "Data through": through,
        "Last success": f"{current.last_success_at:%Y-%m-%d %H:%M} UTC" if current.last_success_at else "never",
        "Key expiry": current.expiry or "not asked",
        "Last used": f"{current.last_used_at:%Y-%m-%d %H:%M} UTC" if current.last_used_at else "—",
    }
    for col, (name, value) in zip(st.columns([1, 2, 1, 1, 1]), facts.items(), strict=True):
        col.caption(name)
        col.text(value)
    if current.data_status in (DataStatus.STALE, DataStatus.STALLED):
        code = f"DATA_{data}"
        entry = IntegrationError(code)
        st.warning(f"`{code}`: {plain(entry.message)}")  # the catalog says the credential is valid
    if current.expiry == "unknown":
        st.caption("Expiry unknown: the provider refused to show this key's expiry, or it is not in its key list.")


def badge(status: str | None) -> str:
    return BADGES.get(status or "", status or "—")


def plain_warning(text: str) -> None:
    """A warning whose text is shown as written (backslash-escaped: Streamlit alerts render Markdown)."""
    st.warning("".join("\\" + c if c in MARKDOWN_SPECIALS else c for c in text), icon="⚠️")


MARKDOWN_SPECIALS = set("\\`*_{}[]()<>#+-.!|~$:")


DANGER_CSS = "<style>{}</style>"


def danger(*keys: str) -> None:
    """Draw these buttons red: the destructive confirmations (delete), and only those."""
    rules = " ".join(
        f".st-key-{k} button {{background-color: #c62828; border-color: #c62828; color: white;}}" for k in keys
    )
    st.html(DANGER_CSS.format(rules))


WHO_ACTS = {  # who must act on a row's problem, as people say it
    ProblemClass.TENANT_ACTION.value: "Tenant",
    ProblemClass.OPERATOR_ACTION.value: "Operator",
    ProblemClass.TRANSIENT.value: "Nobody yet (transient)",
    ProblemClass.DARK.value: "Nobody",
}


ENUM_COLUMNS = ("provider", "attention", "data_status", "action", "outcome", "status_before", "status_after")


def for_people(frame: pd.DataFrame, columns: tuple[str, ...] = ENUM_COLUMNS) -> pd.DataFrame:
    """A grid's copy of `frame` with its enum values as labels (Not configured, Google Cloud, Tenant): the cells and
    the grid's accessible text read as people say them. The page's own frame (filters, selection, actions, CSV)
    keeps the values."""
    said = {c: frame[c].map(lambda v: LABELS.get(v, v)) for c in columns if c in frame.columns}
    if "problem_class" in frame.columns:
        said["problem_class"] = frame["problem_class"].map(lambda v: WHO_ACTS.get(v, v))
    return frame.assign(**said)


def blank(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns with no value shown empty, not as None or nan."""
    text = frame.select_dtypes(include="object").columns
    return frame.assign(**{c: frame[c].where(frame[c].notna(), "") for c in text})


def headers(frame: pd.DataFrame) -> dict[str, str]:
    """Readable column headers for a table of snake_case fields: org_slug -> Org slug."""
    return {c: c.replace("_", " ").capitalize() for c in frame.columns}


def cell(value: object, enum: bool = False) -> str:
    """One value as people read it: nothing for None/nan, timestamps to the second in UTC, an enum value (`enum`)
    as its label."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    return label(value) if enum else str(value)
