"""The status page's runs: the outcome of the bulk run started from this session, a run in progress (started in
any tab), and the changes of the last bulk or nightly run by default with a picker for earlier runs (one page of
changes at a time)."""

from __future__ import annotations

from datetime import UTC

import pandas as pd
import streamlit as st
from integrations.changes import LOOKBACK, run_kind
from integrations.views import page_count, page_of

from pages import _ui

PAGE_SIZE = 50  # changes sent to the browser per page (a nightly run at 10,000 orgs can change thousands)
KINDS = {"bulk": "Bulk run", "nightly": "Nightly run", "single": "Single checks"}


def show_stored_run(run) -> None:
    """A run in progress read from the store: its staged checks so far (its events come with finalize)."""
    tasks = f"tasks done {run.tasks_done}/{run.task_count}" if run.task_count else "no task has finished yet"
    st.info(
        f"In progress: {KINDS[run_kind(run.run_id)].lower()} {_ui.plain(run.run_id)}, {run.staged:,} checked so far "
        f"({tasks}), first check {run.first_at.astimezone(UTC):%H:%M:%S} UTC. Its changes are listed here when it "
        "is finalized.",
        icon="⏳",
    )


def follow_bulk() -> None:
    """A bulk run started here and still going: show its progress, then the page as it is after it."""
    running = _ui.jobs().get(st.session_state.get("bulk_result"))
    if running is not None and running.running:
        _ui.wait_for(running)
        _ui.changed()
        st.rerun()  # the sidebar (drawn before) shows the ended run too: one progress, not a stale second one


def bulk_outcome() -> None:
    """The last bulk run started from this session: its outcome and the rows it changed."""
    job = _ui.jobs().get(st.session_state.get("bulk_result"))
    if job is None or job.running:
        return
    if job.error is not None:
        _ui.show_error(job.error)
    else:
        report = job.result
        outcomes = ", ".join(f"{n} {_ui.label(k).lower()}" for k, n in sorted(report.outcomes.items())) or "nothing"
        st.success(
            f"{job.label}: {report.checked} checked in {report.duration_s:.1f}s ({outcomes}); "
            f"{report.changed} status change(s)."
        )
        if report.drift_fixed:
            st.info(f"The status cache was repaired after the run: {report.drift_fixed} drift(s) fixed.")
        for warning in report.warnings:
            _ui.plain_warning(warning)
        if report.changes:
            shown = ["org_slug", "provider", "before", "after", "error_code", "credential_name"]
            changed = pd.DataFrame(report.changes).reindex(columns=shown)
            if len(changed) > PAGE_SIZE:
                st.caption(f"The first {PAGE_SIZE} of {len(changed):,} changes (all are listed under the run below).")
            st.dataframe(
                _ui.blank(_ui.for_people(changed.head(PAGE_SIZE), ("provider", "before", "after"))),
                key="bulk_changed",
                hide_index=True,
                column_config={
                    "org_slug": "Org",
                    "provider": "Provider",
                    "before": "Before",
                    "after": "After",
                    "error_code": "Error",
                    "credential_name": "Name",
                },
            )
        if report.missing:
            st.warning(f"Not configured any more, not checked: {_ui.plain(', '.join(report.missing))}")
    st.button("Dismiss", key="bulk_dismiss", on_click=lambda: st.session_state.pop("bulk_result", None))


def runs() -> None:
    """Changes since the last run: the run in progress, then a picked run's status changes, worst first."""
    st.subheader("Changes since the last run")
    in_progress = _ui.jobs().running(_ui.BULK)
    in_progress_id = in_progress.meta.get("run_id") if in_progress is not None else None
    elsewhere, poll = _ui.runs_in_progress()
    elsewhere_ids = {r.run_id for r in elsewhere} - {in_progress_id}

    @st.fragment(run_every=1.0 if in_progress is not None else poll if elsewhere_ids else None)
    def run_in_progress() -> None:
        """Bulk runs going on: the one started in this process (in any tab) with its live progress, and those of
        other processes (the CLI, a nightly task run) from the store, each shown as in progress until it ends."""
        job = _ui.jobs().get(in_progress.id) if in_progress is not None else None
        if job is not None and job.running:
            st.info(
                f"In progress: {job.label} (run {job.meta.get('run_id', '')}), {job.done:,}/{job.total:,} checked, "
                f"started {job.started_at:%H:%M:%S} UTC. Its changes are listed here when it ends.",
                icon="⏳",
            )
        elif job is not None:
            st.success(f"{job.label} has ended.", icon="✅")
            st.button("Show its changes", key="run_ended_refresh", on_click=_ui.changed)
        now = [r for r in _ui.runs_in_progress()[0] if r.run_id != in_progress_id]
        for run in now:
            show_stored_run(run)
        ended = elsewhere_ids - {r.run_id for r in now}
        if ended:
            st.success(f"Finalized: {_ui.plain(', '.join(sorted(ended)))}.", icon="✅")
            st.button("Show its changes", key="stored_run_ended_refresh", on_click=_ui.changed)

    run_in_progress()
    latest = _ui.run_changes()
    listed = [r for r in latest.attrs["runs"] if r["run_id"] != in_progress_id]
    if not listed:
        st.caption(f"No re-validation in the last {LOOKBACK.days} days.")
        return

    def run_label(r: dict) -> str:
        return (
            f"{KINDS.get(r['kind'], r['kind'])} · {r['started']:%Y-%m-%d %H:%M} to {r['ended']:%H:%M} UTC · "
            f"{r['checks']:,} check(s), {r['changes']:,} change(s)"
        )

    ids = [r["run_id"] for r in listed]
    by_id = {r["run_id"]: r for r in listed}
    default = latest.attrs["run_id"] if latest.attrs["run_id"] in by_id else ids[0]
    picked = st.selectbox(
        "Run",
        ids,
        index=ids.index(default),
        format_func=lambda i: run_label(by_id[i]),
        help="The last bulk or nightly run is shown first; single checks (CLI, API, Setup page) are runs of "
        "their own and never hide it.",
    )
    last = latest if picked == latest.attrs["run_id"] else _ui.run_changes(picked)
    started, ended = last.attrs["started"], last.attrs["ended"]
    # a bulk or nightly run is named by its id; single checks by their time (their id is only the picker's key)
    named = "" if last.attrs["kind"] == "single" else f" {_ui.plain(last.attrs['run_id'])}"
    st.caption(
        f"{KINDS.get(last.attrs['kind'], '')}{named}: {last.attrs['checks']:,} check(s) "
        f"from {started:%Y-%m-%d %H:%M:%S} to {ended:%H:%M:%S} UTC; {len(last):,} status change(s), worst first."
    )
    if last.attrs["undelivered"]:
        _ui.plain_warning(
            f"ALERT_DELIVERY_FAILED: {last.attrs['undelivered']} change(s) were not sent to the alert "
            "webhook; check INTEGRATIONS_ALERT_WEBHOOK_URL (the Audit log lists them, action ALERT)."
        )
    if last.empty:
        return
    pages = page_count(len(last), PAGE_SIZE)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page of changes (of {pages:,}, {PAGE_SIZE} each)", 1, pages, key="runs_page"))
    rows = page_of(last, page, PAGE_SIZE)
    shown = _ui.blank(
        _ui.for_people(rows).assign(
            status_before=rows.status_before.map(_ui.badge), status_after=rows.status_after.map(_ui.badge)
        )
    )
    shown.attrs = {}  # the run's bounds are shown above; Arrow cannot carry timestamps in attrs
    st.dataframe(
        shown,
        key="last_run_changes",
        hide_index=True,
        width="stretch",
        column_order=[c for c in last.columns if c != "credential_id"],
        column_config={
            "at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"),
            "org_slug": "Org",
            "provider": "Provider",
            "status_before": "Before",
            "status_after": "After",
            "error_code": "Error",
            "fix": st.column_config.TextColumn("Fix", width="large"),
            "actor": "By",
        },
    )
