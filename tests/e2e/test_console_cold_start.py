"""The console on a cold server, in Chromium, in the order an operator works (issue 27): an alert's deep link as
the process's very first request (no warm-up visit), then a selection that must survive a re-sort and a filter
between select and act. The server is this module's own, started fresh."""

from __future__ import annotations

import re
import time

import pytest
from integrations import IntegrationService
from integrations.labels import label
from playwright.sync_api import expect

from tests.e2e.test_console_browser import (  # noqa: F401  (the module-scoped fixtures: a fresh server here)
    SHOTS,
    browser,
    click_row,
    console,
    data,
    filter_org,
    svc,
    validations,
)

pytestmark = pytest.mark.e2e
expect.set_options(timeout=60_000)


@pytest.fixture
def page(browser, console: str):  # noqa: F811  (no warm-up: the first test's goto is the process's first request)
    context = browser.new_context(viewport={"width": 1400, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def test_the_first_request_after_a_start_opens_the_deep_link_as_asked(page, console: str) -> None:  # noqa: F811
    page.goto(f"{console}/troubleshooting?org=umbrella&provider=GCP")
    page.locator("h1").filter(has_text="Troubleshooting").wait_for()
    expect(page.get_by_text("Diagnose umbrella · Google Cloud")).to_be_visible()
    assert "org=umbrella" in page.url and "provider=GCP" in page.url and "/troubleshooting" in page.url
    page.screenshot(path=str(SHOTS / "20_cold_deep_link.png"), full_page=True)


def test_select_then_resort_then_filter_then_act(page, console: str, svc: IntegrationService) -> None:  # noqa: F811
    page.goto(f"{console}/status")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    filter_org(page, "fleet-00")  # 20 PENDING rows, by org then provider
    page.get_by_text("20 of").wait_for()
    click_row(page, 1)  # fleet-000 ANTHROPIC
    page.get_by_role("button", name="Re-validate selected (1)").wait_for()
    click_row(page, 3)  # fleet-001 ANTHROPIC
    button = page.get_by_role("button", name="Re-validate selected (2)")
    button.wait_for()
    before = validations(svc)
    button.click()  # both turn VALID: they leave the PENDING rows at the top for the bottom of the queue
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="2 checked").wait_for()
    page.get_by_text("2 selected").wait_for()
    page.screenshot(path=str(SHOTS / "21_selection_after_resort.png"), full_page=True)
    filter_org(page, "fleet-000")  # one of the two chosen rows stays in view
    page.get_by_text("1 more selected but hidden").wait_for()
    expect(page.get_by_role("button", name="Open setup for fleet-000 · Anthropic")).to_be_visible()
    page.screenshot(path=str(SHOTS / "22_selection_after_filter.png"), full_page=True)
    filter_org(page, "fleet-00")
    page.get_by_role("button", name="Re-validate selected (2)").click()  # act: the rows chosen, not rows 1 and 3
    deadline = time.monotonic() + 30
    while len(validations(svc)) < len(before) + 4 and time.monotonic() < deadline:
        time.sleep(0.3)
    new = validations(svc)
    for pair in before:
        new.remove(pair)
    assert new == [("fleet-000", "ANTHROPIC")] * 2 + [("fleet-001", "ANTHROPIC")] * 2, new


def test_select_on_page_one_then_on_page_two_then_act(page, console: str, svc: IntegrationService) -> None:  # noqa: F811
    """The queue is sent a page at a time: a row ticked on page 1 stays chosen on page 2, and the action checks
    exactly the rows chosen on both pages."""
    from integrations.views import attention_queue, filter_queue

    from pages._status_queue import PAGE_SIZE

    page.goto(f"{console}/status")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    filter_org(page, "fleet")
    rows = filter_queue(attention_queue(svc.overview()), "fleet")
    assert len(rows) > PAGE_SIZE
    first, second = rows.iloc[0], rows.iloc[PAGE_SIZE]
    page.get_by_text(re.compile(rf"^{len(rows)} of \d+ integrations · rows 1-{PAGE_SIZE}$")).wait_for()
    click_row(page, 1)
    page.get_by_role("button", name=f"Open setup for {first.org_slug} · {label(first.provider)}").wait_for()
    page.get_by_role("button", name="Next ›").click()
    page.get_by_text(re.compile(rf"rows {PAGE_SIZE + 1}-{len(rows)}$")).wait_for()
    click_row(page, 1)
    button = page.get_by_role("button", name="Re-validate selected (2)")
    button.wait_for()
    page.screenshot(path=str(SHOTS / "23_selection_across_pages.png"), full_page=True)
    before = validations(svc)
    button.click()
    deadline = time.monotonic() + 30
    while len(validations(svc)) < len(before) + 2 and time.monotonic() < deadline:
        time.sleep(0.3)
    new = validations(svc)
    for pair in before:
        new.remove(pair)
    assert new == sorted([(first.org_slug, first.provider), (second.org_slug, second.provider)]), new
