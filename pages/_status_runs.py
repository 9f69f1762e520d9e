"""The status page's runs: the outcome of the bulk run started from this session, a run in progress (started in
any tab), and the changes of the last bulk or nightly run by default with a picker for earlier runs (one page of
changes at a time)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from integrations.changes import LOOKBACK
from integrations.views import page_count, page_of

from pages import _ui

PAGE_SIZE = 50  # changes sent to the browser per page (a nightly run at 10,000 orgs can change thousands)
KINDS = {"bulk": "Bulk run", "nightly": "Nightly run", "single": "Single checks"}


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
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(report.outcomes.items())) or "nothing"
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
                _ui.blank(changed.head(PAGE_SIZE)),
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

    @st.fragment(run_every=1.0 if in_progress is not None else None)
    def run_in_progress() -> None:
        """A bulk run going on (started in any tab): shown as in progress until it ends, then a refresh shows it."""
        job = _ui.jobs().get(in_progress.id) if in_progress is not None else None
        if job is None:
            return
        if job.running:
            st.info(
                f"In progress: {job.label} (run {job.meta.get('run_id', '')}), {job.done:,}/{job.total:,} checked, "
                f"started {job.started_at:%H:%M:%S} UTC. Its changes are listed here when it ends.",
                icon="⏳",
            )
        else:
            st.success(f"{job.label} has ended.", icon="✅")
            st.button("Show its changes", key="run_ended_refresh", on_click=_ui.changed)

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
    st.caption(
        f"{KINDS.get(last.attrs['kind'], '')} {_ui.plain(last.attrs['run_id'])}: {last.attrs['checks']:,} check(s) "
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
        rows.assign(status_before=rows.status_before.map(_ui.badge), status_after=rows.status_after.map(_ui.badge))
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
