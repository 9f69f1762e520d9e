"""Audit log: readable columns in reading order, filters, one event's detail, export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations import IntegrationService
from integrations.views import EVENT_COLUMNS

from tests.console.conftest import app


def test_filters_and_export(demo: IntegrationService) -> None:
    at = app("pages/audit_log.py")
    total = len(demo.events())
    assert len(at.dataframe[0].value) == total
    at.multiselect(key="audit_action").set_value(["VALIDATE"]).run()
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table.action) == {"Validate"}  # the value VALIDATE, as drawn
    at.multiselect(key="audit_org").set_value(["globex"]).run()
    assert set(at.dataframe[0].value.org_slug) == {"globex"}
    at.multiselect(key="audit_outcome").set_value(["REJECTED"]).run()
    assert len(at.dataframe[0].value) == 1
    since = (datetime.now(UTC) - timedelta(days=30)).date()
    assert at.caption[0].value == f"1 of {total:,} events since {since:%Y-%m-%d}"
    assert at.get("download_button")


def test_the_range_start_bounds_what_is_read(demo: IntegrationService) -> None:
    """Only the events from the range's first day on are read (the store filters; BigQuery prunes the days)."""
    at = app("pages/audit_log.py")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    at.date_input(key="audit_range").set_value((tomorrow, tomorrow)).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 0
    assert at.caption[0].value == f"0 of 0 events since {tomorrow:%Y-%m-%d}"


def test_columns_read_time_org_provider_action_outcome_code_actor_message(demo: IntegrationService) -> None:
    at = app("pages/audit_log.py")
    assert list(at.dataframe[0].value.columns) == EVENT_COLUMNS
    assert EVENT_COLUMNS[:8] == ["at", "org_slug", "provider", "action", "outcome", "error_code", "actor", "message"]


def test_selecting_a_row_shows_the_event_in_full(demo: IntegrationService) -> None:
    at = app("pages/audit_log.py")
    at.multiselect(key="audit_outcome").set_value(["REJECTED"]).run()
    row = at.dataframe[0].value.iloc[0]
    at.session_state["audit_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    detail = at.code[0].value
    assert "Event detail" in [s.value for s in at.subheader]
    assert row.event_id in detail and row.error_code in detail and row.message in detail
    assert "Org " in detail and "org_slug" not in detail and "None" not in detail  # headers as the table's, no None
    text = at.dataframe[0].value.select_dtypes("object")
    assert not text.isna().any().any(), "an empty cell is empty, not None"


def test_org_key_events_can_be_filtered_and_every_action_is_offered(demo: IntegrationService) -> None:
    from integrations.domain import Action

    at = app("pages/audit_log.py")
    from integrations.labels import label

    assert at.multiselect(key="audit_action").options == [label(a) for a in Action]  # every action, as people say it
    at.multiselect(key="audit_action").set_value(["ORG_KEY"]).run()
    assert len(at.dataframe[0].value) > 0 and set(at.dataframe[0].value.action) == {"Org key"}


def test_the_sidebar_org_is_the_default_scope(demo: IntegrationService) -> None:
    at = app("pages/audit_log.py", org="globex")
    assert set(at.dataframe[0].value.org_slug) == {"globex"}
    assert "for globex" in at.caption[0].value
    at.toggle(key="audit_all_orgs").set_value(True).run()
    assert len(set(at.dataframe[0].value.org_slug)) > 1


def test_one_page_of_events_is_sent_at_a_time(demo: IntegrationService) -> None:
    for _ in range(12):
        demo.revalidate_many()  # 9 credentials: 108 more events
    total = len(demo.events())
    at = app("pages/audit_log.py")
    assert total > 100 and len(at.dataframe[0].value) == 100
    at.number_input(key="audit_page").set_value(2).run()
    second = at.dataframe[0].value
    assert len(second) == min(100, total - 100)
    assert second.event_id.iloc[0] == demo.events().event_id.iloc[100]
    at.session_state["audit_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert second.event_id.iloc[0] in at.code[0].value, "the detail is the row picked on this page"


def test_the_timeline_is_drawn_when_asked_for(demo: IntegrationService) -> None:
    """Events per day is one toggle away: the first page sends the table, not a chart (nor the chart library)."""
    at = app("pages/audit_log.py")
    assert not at.get("vega_lite_chart") and len(at.dataframe) == 1
    at.toggle(key="audit_timeline").set_value(True).run()
    [chart] = at.get("vega_lite_chart")
    assert "Events per day" in str(chart.proto) and len(at.dataframe) == 1


def test_the_grid_and_the_detail_say_labels(demo: IntegrationService) -> None:
    """Issue 27 (raw enum names): actions, outcomes, statuses and providers read as labels in the grid and in an
    event's detail; the filters and the data keep the values."""
    at = app("pages/audit_log.py")
    grid = at.dataframe[0].value
    assert {"Validate", "Rejected", "Org key"} <= set(grid.action) | set(grid.outcome)
    assert "Not configured" in set(grid.status_before) | set(grid.status_after)
    assert not {"VALIDATE", "REJECTED", "ORG_KEY", "NOT_CONFIGURED", "OPENAI"} & set(grid.stack())
    assert at.multiselect(key="audit_action").options[:2] == ["Setup", "Validate"]  # shown; the value stays
    at.multiselect(key="audit_action").set_value(["VALIDATE"]).run()
    assert set(at.dataframe[0].value.action) == {"Validate"}
