"""Status overview: an attention queue (what needs action first), KPIs, charts, bulk re-validation, reconcile.

Actions run in callbacks before the page is drawn, so KPIs, table and charts always show the state after them;
a bulk run goes on in the background (its progress is in every page's sidebar) and this page redraws when it ends.
"""

import altair as alt
import pandas as pd
import streamlit as st
from integrations import IntegrationError
from integrations.changes import LOOKBACK
from integrations.views import AGE_BUCKETS, attention_queue, status_mix, validation_ages

from pages import _ui

_ui.through_app()

CONFIRM_ALL, PLAN_KEY = "confirm_revalidate_all", "reconcile_plan"
svc = _ui.service()
st.title("Status overview")


def revalidate(targets: list[str] | None, count: int) -> None:
    st.session_state.pop(CONFIRM_ALL, None)
    noun = "credential" if count == 1 else "credentials"
    _ui.start_bulk(f"Re-validating {count} {noun}", targets=targets)


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
_ui.show_flash()
frame = _ui.overview()
for warning in frame.attrs.get("warnings", []):
    _ui.plain_warning(warning)
configured = frame[frame.status != "NOT_CONFIGURED"]
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
            f"{job.label}: {report.total} checked in {report.duration_s:.1f}s ({outcomes}); "
            f"{len(report.changed)} status change(s)."
        )
        if report.changed:
            shown = ["org_slug", "provider", "before", "after", "error_code", "credential_name"]
            st.dataframe(pd.DataFrame(report.changed).reindex(columns=shown), key="bulk_changed", hide_index=True)
        if report.missing:
            st.warning(f"Not configured any more, not checked: {_ui.plain(', '.join(report.missing))}")
    st.button("Dismiss", key="bulk_dismiss", on_click=lambda: st.session_state.pop("bulk_result", None))

# --- the attention queue -------------------------------------------------------------------------------------
with st.container(border=True):
    f0, f1, f2, f3, f4 = st.columns([2, 2, 2, 1, 1])
    org_text = f0.text_input("Org", key="filter_org", placeholder="part of a slug")
    providers = f1.multiselect("Provider", ["OPENAI", "ANTHROPIC", "GCP"], key="filter_provider")
    reasons = f2.multiselect(
        "Needs", ["INVALID", "Drift", "PENDING", "Stale", "OK"], key="filter_attention", help="Why a row is listed"
    )
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
st.caption(f"{len(queue):,} of {len(frame):,} integrations")
table = st.dataframe(
    queue.assign(status=queue.status.map(_ui.badge), cached_status=queue.cached_status.map(_ui.badge)),
    key="overview_table",
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
        "cached_status": "Status (cache)",
        "credential_name": "Name",
        "credential_hint": "Credential",
        "last_validated_at": st.column_config.DatetimeColumn("Last validated", format="YYYY-MM-DD HH:mm"),
        "age": "Validated",
    },
)
selected = queue.iloc[table.selection.rows] if table.selection.rows else queue.iloc[0:0]

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
        st.dataframe(pd.DataFrame(plan["drifts"]), hide_index=True, key="reconcile_drifts")
        st.button(f"Fix {len(plan['drifts'])} drift(s)", key="reconcile_apply", type="primary", on_click=reconcile)

# --- changes since the last run, read from the history (the nightly job's runs as well as this console's) --------
st.subheader("Changes since the last run")
last = svc.changes_since_last_run()
if last.attrs["started"] is None:
    st.caption(f"No re-validation in the last {LOOKBACK.days} days.")
else:
    started, ended = last.attrs["started"], last.attrs["ended"]
    run = f" ({_ui.plain(last.attrs['run_id'])})" if last.attrs["run_id"] else ""  # a task run's id: as text
    st.caption(
        f"Last run{run}: {last.attrs['checks']:,} check(s) from {started:%Y-%m-%d %H:%M:%S} to {ended:%H:%M:%S} UTC; "
        f"{len(last)} status change(s)."
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
