"""Issue 27, the reviewer's walk, in Chromium on a cold server of this module's own (no warm-up): `/setup` as the
process's first request and again warm; labels, not enum names, where people read; a second tab that follows a bulk
run started in the first and enables its actions again when it ends; a new key the provider could not be reached
for, stored as PENDING in one click without pasting it again."""

from __future__ import annotations

import re
import time

import pytest
from integrations import IntegrationService, Status
from playwright.sync_api import expect

from tests.e2e.test_console_browser import (  # noqa: F401  (the module-scoped fixtures: a fresh server here)
    SHOTS,
    browser,
    card,
    console,
    data,
    nav,
    svc,
)
from tests.keys import openai_key

pytestmark = pytest.mark.e2e
expect.set_options(timeout=60_000)


@pytest.fixture
def context(browser, console: str):  # noqa: F811  (no warm-up: the first test's goto is the process's first request)
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    context.set_default_timeout(60_000)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"c27w_{name}.png"), full_page=True)


def test_setup_url_as_the_first_request_opens_setup_for_the_org_and_provider(page, console: str) -> None:  # noqa: F811
    page.goto(f"{console}/setup?org=umbrella&provider=ANTHROPIC")
    page.locator("h3").filter(has_text="umbrella · Anthropic").wait_for()
    expect(page.locator("h1").filter(has_text="Setup")).to_be_visible()
    assert "org=umbrella" in page.url and "provider=ANTHROPIC" in page.url
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.locator('[data-testid="stForm"] input[type="password"]').wait_for()  # drawn whole, for the screenshot
    shot(page, "01_setup_url_cold")


def test_setup_url_warm_and_the_other_links_still_open_their_pages(page, console: str) -> None:  # noqa: F811
    page.goto(f"{console}/setup?org=globex&provider=GCP")
    page.locator("h3").filter(has_text="globex · Google Cloud").wait_for()
    assert "org=globex" in page.url and "provider=GCP" in page.url
    expect(page.get_by_text("Page not found")).to_have_count(0)
    shot(page, "02_setup_url_warm")
    page.goto(f"{console}/?org=initech&provider=ANTHROPIC")  # the root is Setup still
    page.locator("h3").filter(has_text="initech · Anthropic").wait_for()
    page.goto(f"{console}/troubleshooting?org=hooli&provider=OPENAI")
    page.locator("h1").filter(has_text="Troubleshooting").wait_for()
    expect(page.get_by_text("Diagnose hooli · OpenAI")).to_be_visible()
    page.goto(f"{console}/status?org=globex")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    page.goto(f"{console}/audit_log?org=globex")
    page.locator("h1").filter(has_text="Audit log").wait_for()


def test_people_read_labels_not_enum_names(page, console: str) -> None:  # noqa: F811
    page.goto(f"{console}/?org=initech&provider=GCP")
    page.locator("h3").filter(has_text="initech · Google Cloud").wait_for()
    expect(card(page)).to_contain_text("⚪ Not configured")
    expect(card(page)).not_to_contain_text("NOT_CONFIGURED")
    shot(page, "03_card_badge_label")
    page.goto(f"{console}/status")
    grid = page.locator('.st-key-overview_table [data-testid="stDataFrame"]')
    grid.wait_for()
    page.wait_for_function(
        """() => document.querySelector('.st-key-overview_table [data-testid="stDataFrame"]')
            ?.textContent.includes('Pending')"""
    )
    text = grid.text_content() or ""  # the grid's accessible text (its cells are drawn on a canvas)
    assert "Pending" in text and "PENDING" not in text and "NOT_CONFIGURED" not in text, text[:2000]
    shot(page, "04_status_grid_labels")
    page.get_by_text("Charts", exact=True).click()
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    page.wait_for_timeout(1500)  # the charts' drawing, for the screenshot only
    page.locator('[data-testid="stVegaLiteChart"]').first.scroll_into_view_if_needed()
    shot(page, "04b_status_charts_labels")


def test_a_second_tab_follows_a_bulk_run_and_enables_its_actions_when_it_ends(
    context,
    console: str,  # noqa: F811
    svc: IntegrationService,  # noqa: F811
) -> None:
    first, second = context.new_page(), context.new_page()
    second.goto(f"{console}/?org=initech")
    second.locator("h3").filter(has_text="initech").wait_for()
    first.goto(f"{console}/status")
    first.locator('[data-testid="stMetric"]').first.wait_for()
    configured = first.locator('[data-testid="stMetric"]').nth(1).locator('[data-testid="stMetricValue"]').inner_text()
    start = first.get_by_role("button", name="Re-validate all…")
    expect(start).to_be_enabled()
    start.click()
    first.get_by_role("button", name=f"Yes, re-validate {configured}").click()
    first.locator('[data-testid="stMain"]').get_by_text(f"Re-validating {configured} credentials").first.wait_for()

    nav(second, "Status overview")  # drawn while the run goes on: its actions wait for it
    again = second.get_by_role("button", name="Re-validate all…")
    expect(again).to_be_disabled()
    expect(second.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')).to_be_visible()
    shot(second, "05_second_tab_during_the_run")
    first.locator('[data-testid="stAlertContentSuccess"]').filter(has_text=f"{configured} checked").wait_for()
    reconcile = second.get_by_role("button", name="Reconcile the status cache…")
    most, deadline = 0, time.monotonic() + 60
    while again.is_disabled() and time.monotonic() < deadline:  # watch the redraw: one Reconcile button at any moment
        most = max(most, reconcile.count())
        second.wait_for_timeout(50)
    expect(again).to_be_enabled(timeout=30_000)  # no reload: the tab drew itself again when the run ended
    assert most <= 1, "a second Reconcile button was drawn during the redraw"
    expect(second.locator('[data-testid="stSidebar"]')).to_contain_text(f"Last bulk run: {configured} checked")
    expect(second.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')).to_have_count(0)
    shot(second, "06_second_tab_after_the_run")
    shot(first, "07_first_tab_after_the_run")


def test_a_new_key_the_provider_could_not_be_reached_for_is_stored_as_pending_in_one_click(
    page,
    console: str,  # noqa: F811
    svc: IntegrationService,  # noqa: F811
) -> None:
    key = openai_key("unreachable")
    page.goto(f"{console}/?org=initech&provider=OPENAI")
    page.locator("h3").filter(has_text="initech · OpenAI").wait_for()
    form = page.locator('[data-testid="stForm"]')
    form.locator('input[type="password"]').fill(key)
    form.get_by_label("Credential name").fill("Kept while the provider was down")
    form.get_by_role("button", name="Validate and save").click()
    page.locator('[data-testid="stAlertContentError"]').filter(has_text="NETWORK_ERROR").wait_for()
    store = page.get_by_role("button", name=re.compile("Store it as PENDING"))
    expect(store).to_be_visible()
    expect(form.locator('input[type="password"]')).to_have_value("")  # nothing to paste again: the page keeps it
    assert key not in page.content() and key[8:] not in page.content()
    shot(page, "08_network_error_offers_pending")
    store.click()
    page.locator('[data-testid="stAlertContentWarning"]').filter(has_text="stored as PENDING").wait_for()
    expect(card(page)).to_contain_text("🟡 Pending")
    expect(card(page)).to_contain_text("Kept while the provider was down")
    assert key not in page.content() and key[8:] not in page.content()
    deadline = time.monotonic() + 10
    while svc.get_one("initech", "openai").status != Status.PENDING and time.monotonic() < deadline:
        time.sleep(0.2)
    one = svc.get_one("initech", "openai")
    assert one.status == Status.PENDING and one.credential_name == "Kept while the provider was down"
    shot(page, "09_stored_as_pending")
