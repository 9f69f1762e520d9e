"""Issue 27's console actions in Chromium, on this module's own cold server (no warm-up visit), in the order an
operator works: test a key without saving and then save it; diagnose and act beside the failed step; create an org
and rotate its org API key (shown once). The tested key and the org keys appear in no server log, no event, no
stored file and no page after their one-time display."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integrations import IntegrationError, IntegrationService, Status, connect
from integrations.demo import seed
from integrations.domain import Action
from playwright.sync_api import expect

from tests.e2e.test_console_browser import CHROMIUM, ROOT, _free_port, browser, card, settled  # noqa: F401
from tests.keys import openai_key

pytestmark = pytest.mark.e2e
expect.set_options(timeout=60_000)
SHOTS = Path(os.environ.get("C27B_SHOTS", str(ROOT / ".artifacts" / "screenshots")))
TESTED = "sk-proj-TESTEDzq7Xv9Lw3Pm8Rt5Yu2Io0AbCdEfGhIjKl"  # tested, never saved: found nowhere afterwards
SECRETS: list[str] = [TESTED]  # the org keys join as the console shows them


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("actions") / "data"
    seed(connect(data_dir=path))
    return path


@pytest.fixture(scope="module")
def svc(data: Path) -> IntegrationService:
    return connect(data_dir=data)


@pytest.fixture(scope="module")
def console(data: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    env.update(INTEGRATIONS_DATA_DIR=str(data), INTEGRATIONS_SANDBOX_LATENCY_MS="300")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not become healthy")
    yield url
    proc.terminate()
    output = proc.communicate(timeout=20)[0].decode()
    for secret in SECRETS:
        assert secret not in output and secret[-16:] not in output, "a tested key or an org key reached the log"
    files = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for secret in SECRETS:
        assert secret.encode() not in files and secret[-16:].encode() not in files, "a secret reached the data dir"


@pytest.fixture
def page(browser, console: str):  # noqa: F811  (no warm-up: this module's first goto is the process's first)
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def test_test_a_key_without_saving_then_save_it(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/?org=initech")
    form = page.locator('[data-testid="stForm"]')
    page.locator("h3").filter(has_text="initech").wait_for()
    form.locator('input[type="password"]').fill(TESTED)
    form.get_by_role("button", name="Test (don't save)").click()
    passed = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="Test passed")
    passed.wait_for()
    expect(passed).to_contain_text("nothing was stored")
    expect(card(page)).to_contain_text("⚪ Not configured")  # nothing stored, no status change
    expect(form.locator('input[type="password"]')).to_have_value("")  # the key left the form and the session
    shot(page, "c27b_01_test_passed_nothing_stored")
    assert TESTED not in page.content()

    form.locator('input[type="password"]').fill(openai_key("revoked"))
    form.get_by_role("button", name="Test (don't save)").click()
    page.locator('[data-testid="stAlertContentError"]').filter(has_text="Test invalid").wait_for()
    expect(page.get_by_text("INVALID_CREDENTIAL").first).to_be_visible()
    expect(card(page)).to_contain_text("⚪ Not configured")
    shot(page, "c27b_02_test_refused_nothing_stored")
    assert svc.get_one("initech", "openai").status == Status.NOT_CONFIGURED
    tests = [e for e in svc.store.events("initech") if e.action == Action.TEST]
    assert sorted(e.outcome.value for e in tests) == ["REJECTED", "SUCCESS"]

    form.locator('input[type="password"]').fill(TESTED)  # the good one, saved now
    form.get_by_role("button", name="Validate and save").click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="configured").wait_for()
    expect(card(page)).to_contain_text("🟢 Valid")
    # the form is drawn below the card: its emptied field may land a moment after the card (the operator's own
    # typing, still in their input, is not an output)
    expect(form.locator('input[type="password"]')).to_have_value("")
    assert TESTED not in page.content()
    svc.delete("initech", "openai")  # erased: the module's end finds the key in no stored file


def test_diagnose_then_act_beside_the_failed_step(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/troubleshooting?org=hooli&provider=ANTHROPIC")  # the demo's drifted cache row
    page.get_by_role("button", name="Diagnose").click()
    page.get_by_text("STATUS_CACHE_DRIFT").first.wait_for()  # the code status and the REST API give drift
    shot(page, "c27b_03_diagnose_drift_with_resync_button")
    page.locator(".st-key-act_resync button").click()  # beside the failed step (not the page's own Resync)
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="1 drift(s) fixed").wait_for()
    expect(page.get_by_text("❌")).to_have_count(0)  # diagnosed again after the action: every step passes
    assert svc.cache.get_org("hooli").status_of("ANTHROPIC").status == Status.VALID  # type: ignore[union-attr,arg-type]
    shot(page, "c27b_04_after_resync_all_green")

    page.goto(f"{console}/troubleshooting?org=globex&provider=OPENAI")  # a key the provider revoked
    page.get_by_role("button", name="Diagnose").click()
    page.locator(".st-key-act_validate button").wait_for()
    shot(page, "c27b_05_diagnose_revoked_with_actions")
    before = len([e for e in svc.store.events("globex") if e.action == Action.VALIDATE])
    page.locator(".st-key-act_validate button").click()
    page.locator('[data-testid="stAlertContentWarning"]').filter(has_text="Re-validated").wait_for()
    assert len([e for e in svc.store.events("globex") if e.action == Action.VALIDATE]) == before + 1
    rotate = page.get_by_role("button", name="Open Setup to rotate the key")
    expect(rotate).to_have_count(1)  # the rerun after Re-validate has replaced the faded copy of the step
    rotate.click()
    page.locator("h3").filter(has_text="globex · OpenAI").wait_for()
    assert "org=globex" in page.url and "provider=OPENAI" in page.url

    page.goto(f"{console}/troubleshooting?org=initech&provider=GCP")  # nothing configured
    page.get_by_role("button", name="Diagnose").click()
    page.get_by_role("button", name="Open Setup for initech · Google Cloud").click()
    page.locator("h3").filter(has_text="initech · Google Cloud").wait_for()


def gone(page, text: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's DOM holds `text` nowhere (Streamlit swaps a rerun's elements in after the click)."""
    page.wait_for_function("t => !document.documentElement.outerHTML.includes(t)", arg=text, timeout=30_000)


def test_create_an_org_then_rotate_its_key_shown_once(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/orgs")
    page.locator("h1").filter(has_text="Organizations").wait_for()
    page.get_by_role("textbox", name="Slug").fill("newco")
    page.get_by_label("Name (optional)").fill("New Co")
    page.get_by_role("button", name="Create organization").click()
    shown = page.locator('.st-key-orgs_key_once [data-testid="stCode"]')
    shown.wait_for()
    first = shown.inner_text().strip()
    SECRETS.append(first)
    assert svc.authenticate("newco", first).org_slug == "newco"
    shot(page, "c27b_06_org_created_key_shown_once")
    page.get_by_role("button", name="I have copied it").click()
    expect(shown).to_have_count(0)
    gone(page, first)
    assert first not in page.content()
    expect(page.get_by_text("newco").first).to_be_visible()  # the sidebar opened the new org

    settled(page)  # "I have copied it" reran the page: its previous copy of this button may still be drawn
    page.get_by_role("button", name="Rotate org API key…").click()
    page.get_by_text("The current key stops working at once").wait_for()
    page.get_by_role("button", name="Yes, rotate").wait_for()  # the rerun has drawn the confirmation
    shot(page, "c27b_07_rotate_confirm")
    page.get_by_role("button", name="Yes, rotate").click()
    shown.wait_for()
    second = shown.inner_text().strip()
    SECRETS.append(second)
    assert second != first and svc.authenticate("newco", second).org_slug == "newco"
    with pytest.raises(IntegrationError):
        svc.authenticate("newco", first)
    shot(page, "c27b_08_rotated_key_shown_once")
    page.get_by_role("button", name="I have copied it").click()
    expect(shown).to_have_count(0)
    gone(page, second)  # the rerun may still be replacing the faded elements of the one before
    assert second not in page.content() and first not in page.content()
    page.reload()
    page.locator("h1").filter(has_text="Organizations").wait_for()
    assert second not in page.content()
    events = svc.events("newco").to_json()
    assert first not in events and second not in events and first[-16:] not in events
