"""Status overview: KPIs, filters, drift, reconcile, bulk re-validation, many orgs."""

from __future__ import annotations

from integrations import IntegrationService, Provider, Status

from tests.console.conftest import app
from tests.keys import openai_key


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_kpis_match_the_library(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    frame = demo.overview()
    assert metrics(at) == {
        "Orgs": str(frame.org_slug.nunique()),
        "Configured": str((frame.status != "NOT_CONFIGURED").sum()),
        "Valid": str((frame.status == "VALID").sum()),
        "Invalid": str((frame.status == "INVALID").sum()),
        "Pending": str((frame.status == "PENDING").sum()),
        "Drifted": "1",
    }


def test_filters(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.multiselect(key="filter_status").set_value(["INVALID"]).run()
    table = at.dataframe[0].value
    assert len(table) == 2 and set(table.org_slug) == {"globex", "umbrella"}
    at.multiselect(key="filter_status").set_value([]).run()
    at.checkbox(key="filter_drift").check().run()
    table = at.dataframe[0].value
    assert list(zip(table.org_slug, table.provider, strict=True)) == [("hooli", "ANTHROPIC")]
    at.checkbox(key="filter_drift").uncheck()
    at.multiselect(key="filter_provider").set_value(["GCP"]).run()
    assert set(at.dataframe[0].value.provider) == {"GCP"}


def test_stale_filter(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.number_input(key="filter_stale").set_value(1).run()
    table = at.dataframe[0].value  # fresh demo data: only never-validated (PENDING) rows are stale
    assert set(table.badge.str.split().str[-1]) == {"PENDING"}


def test_reconcile_preview_then_apply(demo: IntegrationService) -> None:
    at = app("pages/status.py")
    at.button(key="reconcile_preview").click().run()
    assert demo.overview().drift.sum() == 1  # a preview changes nothing
    at.button(key="reconcile_apply").click().run()
    assert "Fixed 1 drift(s)" in at.success[0].value
    assert demo.overview().drift.sum() == 0
    at.run()
    assert metrics(at)["Drifted"] == "0"


def test_revalidate_all(demo: IntegrationService) -> None:
    demo.setup("initech", "openai", openai_key("revoked"), skip_validation=True)
    at = app("pages/status.py")
    at.button(key="revalidate_all").click().run()
    assert not at.exception and "checked" in at.success[0].value and "status change" in at.success[0].value
    assert demo.get_one("initech", "openai").status == Status.INVALID
    at.run()  # the overview cache was cleared by the write
    assert metrics(at)["Invalid"] == "3"


def test_many_orgs(demo: IntegrationService) -> None:
    for i in range(1500):
        demo.register_org(f"bulk-{i:05d}")  # orgs exist when registered in the store
    for i in range(0, 1500, 50):
        demo.setup(f"bulk-{i:05d}", Provider.OPENAI, openai_key(), skip_validation=True)
    at = app("pages/status.py")
    assert metrics(at)["Orgs"] == "1506"
    assert "of 4,518 integrations" in at.caption[0].value
