"""Status overview: KPIs, the org x provider table with drift, filters, charts, bulk actions."""

import altair as alt
import pandas as pd
import streamlit as st
from integrations import IntegrationError

from pages import _ui

svc = _ui.service()
st.title("Status overview")
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

with st.container(border=True):
    f1, f2, f3, f4 = st.columns([2, 2, 1, 1])
    providers = f1.multiselect("Provider", ["OPENAI", "ANTHROPIC", "GCP"], key="filter_provider")
    statuses = f2.multiselect("Status", ["VALID", "INVALID", "PENDING", "NOT_CONFIGURED"], key="filter_status")
    stale = f3.number_input(
        "Stale over (days)",
        min_value=0,
        value=0,
        key="filter_stale",
        help="0 shows all; otherwise configured credentials not validated for this long.",
    )
    drift_only = f4.checkbox("Drift only", key="filter_drift")

view = frame
if providers:
    view = view[view.provider.isin(providers)]
if statuses:
    view = view[view.status.isin(statuses)]
if stale:
    view = view[
        (view.status != "NOT_CONFIGURED") & (view.validation_age_days.isna() | (view.validation_age_days > stale))
    ]
if drift_only:
    view = view[view.drift]
view = view.assign(badge=view.status.map(_ui.badge), cached=view.cached_status.map(_ui.badge)).reset_index(drop=True)

st.caption(f"{len(view):,} of {len(frame):,} integrations")
table = st.dataframe(
    view[
        [
            "org_slug",
            "provider",
            "badge",
            "cached",
            "drift",
            "credential_name",
            "credential_hint",
            "last_validated_at",
            "validation_age_days",
            "error_code",
        ]
    ],
    key="overview_table",
    on_select="rerun",
    selection_mode="multi-row",
    hide_index=True,
    width="stretch",
    column_config={
        "org_slug": "Org",
        "provider": "Provider",
        "badge": "Status (record)",
        "cached": "Status (cache)",
        "drift": st.column_config.CheckboxColumn("Drift", help="Cache disagrees with the record"),
        "credential_name": "Name",
        "credential_hint": "Credential",
        "last_validated_at": st.column_config.DatetimeColumn("Last validated", format="YYYY-MM-DD HH:mm"),
        "validation_age_days": st.column_config.NumberColumn("Age (days)", format="%.1f"),
        "error_code": "Error",
    },
)
selected = view.iloc[table.selection.rows] if table.selection.rows else view.iloc[0:0]

if len(selected) == 1:
    row = selected.iloc[0]
    c1, c2 = st.columns(2)
    if c1.button(f"Open setup for {row.org_slug} · {row.provider}", key="open_setup"):
        _ui.open_page("pages/setup.py", row.org_slug, row.provider)
    if c2.button(f"Troubleshoot {row.org_slug} · {row.provider}", key="open_troubleshooting"):
        _ui.open_page("pages/troubleshooting.py", row.org_slug, row.provider)

a1, a2, a3 = st.columns(3)
scope = selected[selected.status != "NOT_CONFIGURED"]
if a1.button(f"Re-validate selected ({len(scope)})", key="revalidate_selected", disabled=scope.empty) or a2.button(
    "Re-validate all", key="revalidate_all"
):
    report = _ui.with_progress(
        svc.revalidate_many,
        "Re-validating…",
        actor=_ui.actor(),
        orgs=None if scope.empty else sorted(set(scope.org_slug)),
        providers=None if scope.empty else sorted(set(scope.provider)),
    )
    _ui.changed()
    st.success(
        f"{report.total} checked in {report.duration_s:.1f}s: {report.outcomes}; "
        f"{len(report.changed)} status change(s)."
    )
    if report.errors:
        st.warning(f"Errors by code: {report.errors}")
if a3.button("Reconcile the status cache…", key="reconcile_preview"):
    st.session_state["reconcile_plan"] = svc.reconcile(dry_run=True).model_dump(mode="json")
preview = st.session_state.get("reconcile_plan")
if preview is not None:
    if not preview["drifts"]:
        st.info("No drift: the status cache agrees with the system of record.")
    else:
        st.dataframe(pd.DataFrame(preview["drifts"]), hide_index=True, key="reconcile_drifts")
        if st.button(f"Fix {len(preview['drifts'])} drift(s)", key="reconcile_apply", type="primary"):
            try:
                st.success(f"Fixed {svc.reconcile(actor=_ui.actor()).fixed} drift(s).")
            except IntegrationError as exc:
                _ui.show_error(exc)
            st.session_state.pop("reconcile_plan")
            _ui.changed()

left, right = st.columns(2)
mix = frame.groupby(["provider", "status"]).size().reset_index(name="count")
left.altair_chart(
    alt.Chart(mix, title="Status mix per provider")
    .mark_bar()
    .encode(
        x="provider:N",
        y="count:Q",
        color=alt.Color(
            "status:N",
            scale=alt.Scale(
                domain=["VALID", "INVALID", "PENDING", "NOT_CONFIGURED"],
                range=["#2e7d32", "#c62828", "#f9a825", "#bdbdbd"],
            ),
        ),
    ),
    width="stretch",
)
ages = configured.dropna(subset=["validation_age_days"])
right.altair_chart(
    alt.Chart(ages, title="Days since last validation")
    .mark_bar()
    .encode(x=alt.X("validation_age_days:Q", bin=alt.Bin(maxbins=20), title="days"), y="count():Q", color="provider:N"),
    width="stretch",
)
