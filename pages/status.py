"""Status overview: an attention queue (what needs action first), KPIs, charts, bulk re-validation, reconcile.

Actions run in callbacks before the page is drawn, so KPIs, table and charts always show the state after them;
a bulk run goes on in the background (its progress is in every page's sidebar) and this page redraws when it ends.
"""

import altair as alt
import pandas as pd
import streamlit as st
from integrations import IntegrationError, Provider
from integrations.changes import LOOKBACK
from integrations.views import AGE_BUCKETS, ATTENTION, attention_queue, status_mix, validation_ages

from pages import _ui

_ui.through_app()

CONFIRM_ALL, PLAN_KEY = "confirm_revalidate_all", "reconcile_plan"
TABLE_KEY, SELECTED_KEY, SHOWN_KEY, SET_ROWS_KEY = "overview_table", "selected_keys", "shown_keys", "set_rows"
svc = _ui.service()
st.title("Status overview")


def revalidate(targets: list[str] | None, count: int) -> None:
    st.session_state.pop(CONFIRM_ALL, None)
    noun = "credential" if count == 1 else "credentials"
    _ui.start_bulk(f"Re-validating {count} {noun}", targets=targets)


def chosen_keys() -> list[str]:
    """The operator's chosen rows as "org|provider" keys. When the grid's ticks differ from those this page set
    last, the operator ticked or unticked rows: their positions are read in the order the grid showed then. Chosen
    rows hidden by the filters stay chosen (they come back ticked when the filter is cleared)."""
    chosen = list(st.session_state.get(SELECTED_KEY, []))
    state = st.session_state.get(TABLE_KEY)
    rows = list(state["selection"]["rows"]) if state else []
    if rows != st.session_state.get(SET_ROWS_KEY, []):
        shown = st.session_state.get(SHOWN_KEY, [])
        on_screen = set(shown)
        chosen = [k for k in chosen if k not in on_screen] + [shown[i] for i in rows if 0 <= i < len(shown)]
        st.session_state[SELECTED_KEY] = chosen
    return chosen


def reconcile() -> None:
    st.session_state.pop(PLAN_KEY, None)
    try:
        _ui.flash("success", f"Fixed {svc.reconcile(actor=_ui.actor()).fixed} drift(s).")
    except IntegrationError as exc:
        _ui.flash("error", f"`{exc.code}`: {_ui.plain(exc.message)}")
    _ui.changed()


running = _ui.jobs().get(st.session_state.get("bulk_result"))
if running is not None and running.running:  # started here: show its progress, then the state after it
    _ui.wait_for(running)
    _ui.changed()
    st.rerun()  # the sidebar (drawn before) shows the ended run too: one progress, not a stale second one
_ui.show_flash()
frame = _ui.overview()
for warning in frame.attrs.get("warnings", []):
    _ui.plain_warning(warning)
configured = frame[frame.status != "NOT_CONFIGURED"]
asof, refresh = st.columns([5, 1])
asof.caption(f"As of {frame.attrs.get('as_of', '')} UTC (the overview is kept up to 15 s; actions here refresh it)")
refresh.button("Refresh", key="refresh_overview", on_click=_ui.changed)
kpis = st.columns(6)
kpis[0].metric("Orgs", frame.org_slug.nunique())
kpis[1].metric("Configured", len(configured))
for col, status in zip(kpis[2:5], ("VALID", "INVALID", "PENDING"), strict=True):
    col.metric(status.title(), int((frame.status == status).sum()))
kpis[5].metric("Drifted", int(frame.drift.sum()))

# --- the last bulk run started from this session: its outcome and the rows it changed ----------------------
job = _ui.jobs().get(st.session_state.get("bulk_result"))
if job is not None and not job.running:
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
            st.dataframe(
                _ui.blank(pd.DataFrame(report.changes).reindex(columns=shown)),
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

# --- the attention queue -------------------------------------------------------------------------------------
with st.container(border=True):
    f0, f1, f2, f3, f4 = st.columns([2, 2, 2, 1, 1])
    org_text = f0.text_input("Org", key="filter_org", placeholder="part of a slug")
    providers = f1.multiselect("Provider", [p.value for p in Provider], key="filter_provider")
    reasons = f2.multiselect("Needs", ATTENTION, key="filter_attention", help="Why a row is listed")
    stale_days = f3.number_input("Stale after (days)", min_value=1, value=30, key="filter_stale")
    show_unconfigured = f4.toggle("Show not configured", key="filter_unconfigured")

queue = attention_queue(frame, stale_days=stale_days, include_unconfigured=show_unconfigured)
if org_text.strip():
    queue = queue[queue.org_slug.str.contains(org_text.strip().lower(), regex=False)]
if providers:
    queue = queue[queue.provider.isin(providers)]
if reasons:
    queue = queue[queue.attention.isin(reasons)]
queue = queue.reset_index(drop=True)

# The grid's selection is a list of row positions, and rows move (a re-validation re-sorts the queue, a filter
# hides rows): the operator's choice is kept as (org, provider) keys, and the grid's ticks are set from them on
# every run, so an action acts on the rows chosen, wherever they are now.
shown_keys = (queue.org_slug + "|" + queue.provider).tolist()
chosen = chosen_keys()
chosen_set = set(chosen)
ticks = [i for i, k in enumerate(shown_keys) if k in chosen_set]
st.session_state[SHOWN_KEY], st.session_state[SET_ROWS_KEY] = shown_keys, ticks
st.session_state[TABLE_KEY] = {"selection": {"rows": ticks, "columns": [], "cells": []}}
visible = [k for k in shown_keys if k in chosen_set]
hidden = len(chosen) - len(visible)
st.caption(
    f"{len(queue):,} of {len(frame):,} integrations"
    + (f" · {len(visible)} selected" if chosen else "")
    + (f" ({hidden} more selected but hidden by the filters: not acted on)" if hidden else "")
)
table = st.dataframe(
    _ui.blank(queue.assign(status=queue.status.map(_ui.badge), cached_status=queue.cached_status.map(_ui.badge))),
    key=TABLE_KEY,
    on_select="rerun",
    selection_mode="multi-row",
    hide_index=True,
    width="stretch",
    column_order=[c for c in queue.columns if c != "credential_id"],
    column_config={
        "attention": "Needs",
        "org_slug": "Org",
        "provider": "Provider",
        "status": "Status (record)",
        "data_status": "Cost data",
        "error_code": "Error",
        "fix": st.column_config.TextColumn("Fix", width="large"),
        "problem_class": st.column_config.TextColumn("Who acts", help="Who must act on the last problem"),
        "cached_status": "Status (cache)",
        "credential_name": "Name",
        "credential_hint": "Credential",
        "last_validated_at": st.column_config.DatetimeColumn("Last validated", format="YYYY-MM-DD HH:mm"),
        "age": "Validated",
    },
)
selected = queue[pd.Series(shown_keys, index=queue.index, dtype=object).isin(chosen_set)]
if chosen:
    st.button("Clear selection", key="clear_selection", on_click=lambda: st.session_state.update({SELECTED_KEY: []}))

if len(selected) == 1:
    row = selected.iloc[0]
    c1, c2 = st.columns(2)
    if c1.button(f"Open setup for {row.org_slug} · {row.provider}", key="open_setup"):
        _ui.open_page("pages/setup.py", row.org_slug, row.provider)
    if c2.button(f"Troubleshoot {row.org_slug} · {row.provider}", key="open_troubleshooting"):
        _ui.open_page("pages/troubleshooting.py", row.org_slug, row.provider)

# --- actions -------------------------------------------------------------------------------------------------
busy = _ui.jobs().running(_ui.BULK) is not None
targets = [str(c) for c in selected.credential_id.dropna()]
a1, a2, a3 = st.columns(3)
a1.button(
    f"Re-validate selected ({len(targets)})",
    key="revalidate_selected",
    disabled=not targets or busy,
    on_click=revalidate,
    args=(targets, len(targets)),
)
if a2.button("Re-validate all…", key="revalidate_all", disabled=busy or configured.empty):
    st.session_state[CONFIRM_ALL] = True
if a3.button("Reconcile the status cache…", key="reconcile_preview"):
    st.session_state[PLAN_KEY] = svc.reconcile(dry_run=True).model_dump(mode="json")
if st.session_state.get(CONFIRM_ALL):
    st.warning(f"Re-validate all {len(configured):,} configured credentials with their providers?")
    y, n = st.columns(2)
    y.button(
        f"Yes, re-validate {len(configured):,}",
        key="revalidate_all_confirm",
        type="primary",
        disabled=busy,
        on_click=revalidate,
        args=(None, len(configured)),
    )
    n.button("Cancel", key="revalidate_all_cancel", on_click=lambda: st.session_state.pop(CONFIRM_ALL, None))
plan = st.session_state.get(PLAN_KEY)
if plan is not None:
    if not plan["drifts"]:
        st.info("No drift: the status cache agrees with the system of record.")
    else:
        drifts = _ui.blank(pd.DataFrame(plan["drifts"]))
        st.dataframe(drifts, hide_index=True, key="reconcile_drifts", column_config=_ui.headers(drifts))
        st.button(f"Fix {len(plan['drifts'])} drift(s)", key="reconcile_apply", type="primary", on_click=reconcile)

# --- the runs: the last bulk or nightly run's changes by default, any earlier run on request --------------------
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
runs = [r for r in latest.attrs["runs"] if r["run_id"] != in_progress_id]
if not runs:
    st.caption(f"No re-validation in the last {LOOKBACK.days} days.")
else:
    KINDS = {"bulk": "Bulk run", "nightly": "Nightly run", "single": "Single checks"}

    def run_label(r: dict) -> str:
        return (
            f"{KINDS.get(r['kind'], r['kind'])} · {r['started']:%Y-%m-%d %H:%M} to {r['ended']:%H:%M} UTC · "
            f"{r['checks']:,} check(s), {r['changes']:,} change(s)"
        )

    ids = [r["run_id"] for r in runs]
    by_id = {r["run_id"]: r for r in runs}
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
        f"from {started:%Y-%m-%d %H:%M:%S} to {ended:%H:%M:%S} UTC; {len(last)} status change(s), worst first."
    )
    if last.attrs["undelivered"]:
        _ui.plain_warning(
            f"ALERT_DELIVERY_FAILED: {last.attrs['undelivered']} change(s) were not sent to the alert "
            "webhook; check INTEGRATIONS_ALERT_WEBHOOK_URL (the Audit log lists them, action ALERT)."
        )
    if not last.empty:
        shown = last.assign(
            status_before=last.status_before.map(_ui.badge), status_after=last.status_after.map(_ui.badge)
        )
        shown = _ui.blank(shown)
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

# --- charts: what needs attention ----------------------------------------------------------------------------
left, right = st.columns(2)
left.altair_chart(
    alt.Chart(status_mix(frame), title="Configured integrations: status per provider")
    .mark_bar()
    .encode(
        x="provider:N",
        y="count:Q",
        color=alt.Color(
            "status:N",
            scale=alt.Scale(domain=["VALID", "INVALID", "PENDING"], range=["#2e7d32", "#c62828", "#f9a825"]),
        ),
    ),
    width="stretch",
)
right.altair_chart(
    alt.Chart(validation_ages(frame), title="Time since last validation")
    .mark_bar()
    .encode(
        x=alt.X("age:N", sort=AGE_BUCKETS, title=None),
        y="count:Q",
        color="provider:N",
        xOffset="provider:N",
    ),
    width="stretch",
)
