"""Status overview: KPIs that filter the attention queue (what needs action first, one page at a time), bulk
re-validation, reconcile, the runs' changes, charts.

Actions run in callbacks before the page is drawn, so KPIs, table and charts always show the state after them;
a bulk run goes on in the background (its progress is in every page's sidebar) and this page redraws when it ends.
The drawing lives beside this file: `_status_queue.py` (KPIs, filters, the queue's pages, selection, actions) and
`_status_runs.py` (the bulk run's outcome, the run picker and its changes).
"""

import pandas as pd
import streamlit as st
from integrations import Status
from integrations.labels import label
from integrations.views import AGE_BUCKETS, status_mix, validation_ages

from pages import _status_queue, _status_runs, _ui

_ui.through_app()

CHARTS_TAB_KEY = "status_tab"


def charts(frame: pd.DataFrame) -> None:
    """What needs attention, drawn: statuses per provider and the time since the last validation."""
    # Vega-Lite specs as dicts, drawn by the browser as altair would draw them: importing altair (jsonschema and its
    # grammar compilation) cost the first request after a start about 4 s
    left, right = st.columns(2)
    # drawings: the values become people's words (axes, legends, tooltips), the page's data keeps the values
    mix, ages = status_mix(frame), validation_ages(frame)
    mix = mix.assign(provider=mix.provider.map(label), status=mix.status.map(label))
    ages = ages.assign(provider=ages.provider.map(label))
    left.vega_lite_chart(
        mix,
        {
            "title": "Configured integrations: status per provider",
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "provider", "type": "nominal", "title": "Provider"},
                "y": {"field": "count", "type": "quantitative", "title": "Integrations"},
                "color": {
                    "field": "status",
                    "type": "nominal",
                    "title": "Status",
                    "scale": {
                        "domain": [label(Status.VALID), label(Status.INVALID), label(Status.PENDING)],
                        "range": ["#2e7d32", "#c62828", "#f9a825"],
                    },
                },
            },
        },
        width="stretch",
    )
    right.vega_lite_chart(
        ages,
        {
            "title": "Time since last validation",
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "age", "type": "nominal", "sort": AGE_BUCKETS, "title": None},
                "y": {"field": "count", "type": "quantitative", "title": "Integrations"},
                "color": {"field": "provider", "type": "nominal", "title": "Provider"},
                "xOffset": {"field": "provider", "type": "nominal"},
            },
        },
        width="stretch",
    )


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
    asof.caption(f"As of {frame.attrs.get('as_of', '')} UTC (read again whenever the stored data changes)")
    refresh.button("Refresh", key="refresh_overview", on_click=_ui.changed)
with st.container(key="status_kpis"):
    _status_queue.kpis(frame)
with st.container(key="status_bulk_outcome"):
    _status_runs.bulk_outcome()
with st.container(key="status_queue"):
    chosen = _status_queue.queue(frame)
with st.container(key="status_actions"):
    _status_queue.actions(frame, chosen)
# The runs' changes are open by default; the charts are one click away and drawn only when their tab is open (tabs
# that rerun run only the open tab's content): two Vega views cost the page's first render about a sixth.
runs_tab, charts_tab = st.tabs(["Runs", "Charts"], key=CHARTS_TAB_KEY, on_change="rerun")
if runs_tab.open:
    with runs_tab, st.container(key="status_runs"):
        _status_runs.runs()
if charts_tab.open:
    with charts_tab:
        charts(frame)
