"""Audit log: filters and export."""

from __future__ import annotations

from integrations import IntegrationService

from tests.console.conftest import app


def test_filters_and_export(demo: IntegrationService) -> None:
    at = app("pages/audit_log.py")
    total = len(demo.events())
    assert len(at.dataframe[0].value) == total
    at.multiselect(key="audit_action").set_value(["VALIDATE"]).run()
    table = at.dataframe[0].value
    assert len(table) > 0 and set(table.action) == {"VALIDATE"}
    at.multiselect(key="audit_org").set_value(["globex"]).run()
    assert set(at.dataframe[0].value.org_slug) == {"globex"}
    at.multiselect(key="audit_outcome").set_value(["REJECTED"]).run()
    assert len(at.dataframe[0].value) == 1
    assert at.caption[0].value == f"1 of {total:,} events"
    assert at.get("download_button")
