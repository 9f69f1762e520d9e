"""Status overview: KPIs that filter the attention queue (what needs action first, one page at a time), bulk
re-validation, reconcile, the runs' changes, charts.

Actions run in callbacks before the page is drawn, so KPIs, table and charts always show the state after them;
a bulk run goes on in the background (its progress is in every page's sidebar) and this page redraws when it ends.
The drawing lives beside this file: `_status_queue.py` (KPIs, filters, the queue's pages, selection, actions) and
`_status_runs.py` (the bulk run's outcome, the run picker and its changes).
"""

import altair as alt
import streamlit as st
from integrations.views import AGE_BUCKETS, status_mix, validation_ages

from pages import _status_queue, _status_runs, _ui

_ui.through_app()

st.title("Status overview")
# Each part of the page is one container: a part that appears or grows (a run's outcome, a flash, a confirmation)
# moves no other part, so no element of the previous draw is left showing in another's place while the page redraws
# (a second "Reconcile the status cache…" button, seen at scale while the page was drawn again).
with st.container(key="status_top"):
    _status_runs.follow_bulk()
    _ui.show_flash()
    frame = _ui.overview()
    for warning in frame.attrs.get("warnings", []):
        _ui.plain_warning(warning)
    asof, refresh = st.columns([5, 1], vertical_alignment="center")
    asof.caption(f"As of {frame.attrs.get('as_of', '')} UTC (the overview is kept up to 15 s; actions here refresh it)")
    refresh.button("Refresh", key="refresh_overview", on_click=_ui.changed)
with st.container(key="status_kpis"):
    _status_queue.kpis(frame)
with st.container(key="status_bulk_outcome"):
    _status_runs.bulk_outcome()
with st.container(key="status_queue"):
    chosen = _status_queue.queue(frame)
with st.container(key="status_actions"):
    _status_queue.actions(frame, chosen)
with st.container(key="status_runs"):
    _status_runs.runs()

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
