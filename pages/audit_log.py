"""Audit log: the event history with filters, a timeline, one page of events at a time, one event's detail, and
CSV export (built only when asked for). The sidebar's org is the default scope."""

from datetime import UTC, datetime, timedelta

import streamlit as st
from integrations import Provider
from integrations.domain import Action, Outcome
from integrations.labels import label
from integrations.views import events_view

from pages import _ui

_ui.through_app()

PAGE_SIZE = 100  # rows sent to the browser per page: the history can be hundreds of thousands of events
DETAIL_LABELS = {  # an event's fields as the table's headers name them
    "at": "Time (UTC)",
    "org_slug": "Org",
    "provider": "Provider",
    "credential_id": "Credential id",
    "action": "Action",
    "status_before": "Before",
    "status_after": "After",
    "outcome": "Outcome",
    "error_code": "Code",
    "message": "Message",
    "actor": "Actor",
    "duration_ms": "Took (ms)",
    "run_id": "Run id",
    "event_id": "Event id",
}

svc = _ui.service()
st.title("Audit log")
today = datetime.now(UTC).date()
sidebar_org = st.session_state.get(_ui.ORG_KEY) or st.query_params.get(_ui.ORG_KEY)
everyone = not sidebar_org or st.toggle(
    "All organizations", key="audit_all_orgs", help=f"Off: only {sidebar_org}, the org chosen in the sidebar."
)
f1, f2, f3 = st.columns(3)
f4, f5, f6 = st.columns(3)
span = f6.date_input("Time range", (today - timedelta(days=30), today), key="audit_range")
start = span[0] if isinstance(span, tuple) and span else today - timedelta(days=30)  # a range being picked: 1 date
# the store reads from the range's first day on (BigQuery scans only those days), not the whole history; for the
# sidebar's org, only that org's events
since = datetime.combine(start, datetime.min.time(), UTC)
events = events_view(svc.events(org_slug=None if everyone else sidebar_org, since=since))

orgs = f1.multiselect("Org", sorted(events.org_slug.unique()), key="audit_org", disabled=not everyone)
orgs = orgs if everyone else []
providers = f2.multiselect("Provider", [p.value for p in Provider], key="audit_provider", format_func=label)
actions = f3.multiselect("Action", [a.value for a in Action], key="audit_action", format_func=label)
outcomes = f4.multiselect("Outcome", [o.value for o in Outcome], key="audit_outcome", format_func=label)
actors = f5.multiselect("Actor", sorted(events.actor.dropna().unique()), key="audit_actor")

view = events
for column, chosen in (
    ("org_slug", orgs),
    ("provider", providers),
    ("action", actions),
    ("outcome", outcomes),
    ("actor", actors),
):
    if chosen:
        view = view[view[column].isin(chosen)]
if isinstance(span, tuple) and len(span) == 2:
    end = datetime.combine(span[1], datetime.max.time(), UTC)
    view = view[view["at"] <= end]
view = view.reset_index(drop=True)

scope = "" if everyone else f" for {_ui.plain(sidebar_org)}"
st.caption(f"{len(view):,} of {len(events):,} events{scope} since {start:%Y-%m-%d}")
# the timeline is drawn when asked for: its Vega view (and the chart library the browser loads for it) cost the
# first page about a seventh
if not view.empty and st.toggle("Show events per day", key="audit_timeline"):
    timeline = view.assign(day=view["at"].dt.floor("D")).groupby(["day", "action"]).size().reset_index(name="events")
    timeline = timeline.assign(action=timeline.action.map(label))  # a drawing: people's words, not values
    st.vega_lite_chart(  # a dict spec: no altair import (seconds on the first request after a start)
        timeline,
        {
            "title": "Events per day",
            "mark": {"type": "bar"},
            "encoding": {
                "x": {"field": "day", "type": "temporal", "title": None},
                "y": {"field": "events", "type": "quantitative", "title": "Events"},
                "color": {"field": "action", "type": "nominal", "title": "Action"},
            },
        },
        width="stretch",
    )
pages = max(1, -(-len(view) // PAGE_SIZE))
page = 1
if pages > 1:
    page = int(st.number_input(f"Page (of {pages:,}, {PAGE_SIZE} events each)", 1, pages, 1, key="audit_page"))
first = (page - 1) * PAGE_SIZE
shown = view.iloc[first : first + PAGE_SIZE]
table = st.dataframe(
    _ui.blank(_ui.for_people(shown)),  # the labels drawn; `view` (filters, CSV) keeps the values
    key="audit_table",
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        **DETAIL_LABELS,
        "at": st.column_config.DatetimeColumn("Time (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "message": st.column_config.TextColumn("Message", width="large"),
        "duration_ms": st.column_config.NumberColumn("Took (ms)"),
    },
)
st.download_button(  # the CSV is built when clicked, not sent with every page load
    f"Export CSV ({len(view):,} events)",
    lambda: view.to_csv(index=False),
    file_name="org_integration_events.csv",
    mime="text/csv",
    key="audit_export",
    on_click="ignore",
)
if table.selection.rows:
    event = shown.iloc[table.selection.rows[0]]
    with st.container(border=True):
        st.subheader("Event detail")
        st.caption("Select another row to see its detail.")
        # plain text: messages can echo names and provider text
        lines = (
            f"{DETAIL_LABELS.get(name, name):<15} {_ui.cell(value, name in _ui.ENUM_COLUMNS)}"
            for name, value in event.items()
        )
        st.code("\n".join(lines), language=None)
