"""The running console in Chromium, as an operator walks it. Every journey saves screenshots under
.artifacts/screenshots/ (printed at the end of the run) so a person can look at what the browser showed.

Provider checks are simulated with a 1.5 s round trip (INTEGRATIONS_SANDBOX_LATENCY_MS) so that leaving a page
while a check or a bulk run is in flight is something the test can actually do."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integrations import CredentialKind, IntegrationService, Status, connect
from integrations.demo import seed
from integrations.domain import Action
from playwright.sync_api import expect

from tests.keys import CANARY, anthropic_key, openai_key, service_account_json

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LATENCY_MS = 1500
EXTRA_ORGS = 30  # 60 more PENDING credentials: a bulk run over them takes a few seconds
HOSTILE = "![pwn](http://127.0.0.1:9/pwn.png) [click me](http://evil.example/) <img src=x onerror=alert(1)>"

pytestmark = pytest.mark.e2e
expect.set_options(timeout=60_000)  # two shared cores: a rerun can take a few seconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console") / "data"
    svc = connect(data_dir=path)
    seed(svc)
    for i in range(EXTRA_ORGS):
        slug = f"fleet-{i:03d}"
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key(), skip_validation=True)
        svc.setup(slug, "anthropic", anthropic_key(), skip_validation=True)
    # for the flip test: seeded before the console starts, since its overview is cached for 15 s (an out-of-band
    # write shows after that, or at once after any of the console's own actions)
    svc.register_org("cyberdyne")  # keyless GCP, waiting on the customer's grant
    svc.setup_keyless("cyberdyne", "cyberdyne-notgranted.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")
    svc.register_org("flipco")
    svc.setup("flipco", "openai", openai_key("revoked"), credential_name=HOSTILE, skip_validation=True)
    return path


@pytest.fixture(scope="module")
def svc(data: Path) -> IntegrationService:
    """The test's own view of the console's data (the same files)."""
    return connect(data_dir=data)


@pytest.fixture(scope="module")
def console(data: Path) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    env.update(INTEGRATIONS_DATA_DIR=str(data), INTEGRATIONS_SANDBOX_LATENCY_MS=str(LATENCY_MS))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port)],
        cwd=ROOT,  # .streamlit/config.toml: 127.0.0.1, allowed hosts, XSRF
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
        pytest.fail(f"streamlit did not become healthy: {proc.stdout.read().decode()[-2000:]}")  # type: ignore[union-attr]
    yield url
    proc.terminate()
    output = proc.communicate(timeout=20)[0].decode()
    assert CANARY not in output and CANARY[8:] not in output, "the canary reached the server log"
    print(f"\nscreenshots: {SHOTS}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def warm(browser, console: str) -> None:
    """One first visit through app.py (Streamlit's first st.navigation call of the process; see _ui.through_app)."""
    first = browser.new_page()
    first.goto(console)
    first.locator("h1").first.wait_for(timeout=60_000)
    first.close()


@pytest.fixture
def page(browser, console: str, warm: None):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)  # two cores shared with other work: a first page load can be slow
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def card(page):
    """The integration card (status, credential, name, last validated, metadata): the innermost block of its title."""
    heading = page.locator("h3").filter(has_text=" · ")
    return page.locator('[data-testid="stVerticalBlock"]').filter(has=heading).last


def validations(svc: IntegrationService) -> list[tuple[str, str]]:
    return sorted((e.org_slug, e.provider.value) for e in svc.store.events() if e.action == Action.VALIDATE)


def nav(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    try:
        page.locator("h1").filter(has_text=title.split()[0]).wait_for()
    except Exception:
        shot(page, f"failed_nav_to_{title.split()[0].lower()}")
        raise


def filter_org(page, text: str) -> None:
    page.get_by_label("Org", exact=True).fill(text)
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")


def settled(page) -> None:
    """Wait for the rerun to end: no element left from the previous run (a stale button is still drawn, and
    clickable, beside its new copy until the rerun that replaces it ends)."""
    page.wait_for_function(
        """() => !document.querySelector('[data-stale="true"]')
            && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')"""
    )


def click_row(page, row: int) -> None:
    """Tick a row's selection box in the data grid (rows are drawn on a canvas, 35 px each below the header)."""
    # a grid showing other rows is a new widget: the one it replaces may show (stale) until the redraw ends
    # and a grid still drawn from the previous run (data-stale) takes the click but drops it when the new one lands
    page.wait_for_function(
        """() => {
            const grids = document.querySelectorAll('.st-key-overview_table [data-testid="stDataFrame"]');
            return grids.length === 1 && !grids[0].closest('[data-stale="true"]')
                && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]');
        }"""
    )
    box = page.locator('.st-key-overview_table [data-testid="stDataFrame"]').bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * row + 17)


def test_setup_then_status_then_back(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/?org=initech")
    form = page.locator('[data-testid="stForm"]')
    page.locator("h3").filter(has_text="initech").wait_for()
    expect(card(page)).to_contain_text("⚪ Not configured")
    form.locator('input[type="password"]').fill(CANARY)
    form.get_by_label("Credential name").fill("Browser key")
    form.get_by_role("button", name="Validate and save").click()
    success = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="configured")
    success.wait_for()
    assert "cred_" in success.inner_text()
    expect(card(page)).to_contain_text("🟢 Valid")  # the same run shows the new state
    expect(card(page)).not_to_contain_text("⚪ Not configured")
    expect(card(page)).to_contain_text("Browser key")
    assert form.locator('input[type="password"]').input_value() == ""
    assert page.get_by_label("Credential name").input_value() == "Browser key"
    shot(page, "01_setup_done_card_is_valid")
    assert CANARY not in page.content()

    nav(page, "Status overview")
    filter_org(page, "initech")
    page.get_by_text("1 of").wait_for()
    shot(page, "02_status_shows_the_new_integration")
    click_row(page, 1)
    page.get_by_role("button", name="Open setup for initech · OpenAI").click()
    page.locator("h3").filter(has_text="initech · OpenAI").wait_for()
    expect(card(page)).to_contain_text("Browser key")
    expect(card(page)).to_contain_text("🟢 Valid")
    assert "org=initech" in page.url and "provider=OPENAI" in page.url
    shot(page, "03_back_on_setup")


def test_rotate_keeps_the_name_and_metadata(page, console: str, svc: IntegrationService) -> None:
    before = svc.get_one("acmecorp", "openai")
    page.goto(f"{console}/?org=acmecorp")
    page.locator("h3").filter(has_text="acmecorp").wait_for()
    expect(page.get_by_label("Credential name")).to_have_value("OpenAI Production Key")  # pre-filled
    expect(page.get_by_label("Metadata (JSON object)")).to_have_value(re.compile("production"))
    page.get_by_role("button", name="Rotate").click()
    page.get_by_text("the name and metadata are kept").wait_for()
    page.locator('[data-testid="stForm"] input[type="password"]').fill(openai_key())
    page.get_by_role("button", name="Validate and save").click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="rotated").wait_for()
    expect(card(page)).to_contain_text("OpenAI Production Key")
    expect(card(page)).to_contain_text('"environment": "production"')
    after = svc.get_one("acmecorp", "openai")
    assert after.credential_id != before.credential_id and after.credential_name == "OpenAI Production Key"
    assert after.metadata == {"environment": "production"}
    shot(page, "04_rotated_name_and_metadata_kept")


def test_revalidate_two_selected_rows_makes_exactly_two_checks(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/status")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    filter_org(page, "acmecorp")
    page.get_by_text("3 of").wait_for()
    click_row(page, 1)
    page.get_by_role("button", name="Re-validate selected (1)").wait_for()
    click_row(page, 3)
    button = page.get_by_role("button", name="Re-validate selected (2)")
    button.wait_for()
    shot(page, "05_two_rows_selected")
    before = validations(svc)
    button.click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="2 checked").wait_for()
    new = validations(svc)
    for pair in before:
        new.remove(pair)
    assert len(new) == 2 and {org for org, _ in new} == {"acmecorp"}, new
    shot(page, "06_two_checks_done")


def test_a_revalidation_that_flips_shows_under_changes_since_the_last_run(
    page, console: str, svc: IntegrationService
) -> None:
    page.goto(f"{console}/status")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    changes = page.locator('[data-testid="stDataFrame"]').last  # below the queue and the actions
    filter_org(page, "flipco")
    page.get_by_text("1 of").wait_for()
    click_row(page, 1)
    page.get_by_role("button", name="Re-validate selected (1)").click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="1 status change").wait_for()
    expect(page.get_by_text(re.compile(r"Bulk run bulk-.*: .* status change"))).to_be_visible()
    expect(page.locator('[data-stale="true"]')).to_have_count(0)  # the rerun after the run has drawn everything
    expect(changes).to_contain_text("flipco")  # the grid's accessible table, newest change first
    page.get_by_role("heading", name="Changes since the last run").scroll_into_view_if_needed()
    assert svc.run_changes().iloc[0][["org_slug", "status_after"]].tolist() == ["flipco", "INVALID"]
    shot(page, "06b_changes_since_the_last_run")
    assert "onerror" not in page.locator("img").evaluate_all("els => els.map(e => e.outerHTML).join()")


def test_gcp_key_file_upload_never_shows_the_private_key(page, console: str, tmp_path: Path) -> None:
    key_file = tmp_path / "service-account.json"
    key_file.write_text(service_account_json("uploader@demo-project.iam.gserviceaccount.com"))
    page.goto(f"{console}/?org=initech&provider=GCP")
    page.locator("h3").filter(has_text="initech · Google Cloud").wait_for()
    page.get_by_text("Service-account key file", exact=True).click()  # keyless is the recommended default
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(key_file))
    page.get_by_text("service-account.json").wait_for()
    page.get_by_role("button", name="Validate and save").click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="configured").wait_for()
    expect(card(page)).to_contain_text("uploader@demo-project.iam.gserviceaccount.com")
    assert "PRIVATE KEY" not in page.content()
    shot(page, "07b_gcp_key_uploaded")


def test_keyless_gcp_setup_walks_to_valid(page, console: str, svc: IntegrationService) -> None:
    """No key file: the customer sees the org's principal and the commands, the first check says what is missing
    (the grant), and once the export table is one the principal can read, Check access turns VALID."""
    principal = svc.keyless_info("cyberdyne").principal
    page.goto(f"{console}/?org=cyberdyne&provider=GCP")
    page.locator("h3").filter(has_text="cyberdyne · Google Cloud").wait_for()
    expect(page.get_by_label("Without a key file (recommended)")).to_be_checked()
    expect(page.locator('[data-testid="stCode"]').filter(has_text=principal).first).to_be_visible()
    expect(page.locator('[data-testid="stCode"]').filter(has_text="bq add-iam-policy-binding").first).to_be_visible()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    expect(card(page)).to_contain_text("🟡 Pending")
    shot(page, "08a_keyless_what_to_run")
    table = page.get_by_label("Billing export table (project.dataset.table)")
    table.fill("cyberdyne-billing.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")
    page.get_by_role("button", name="Check access").click()
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="status VALID").wait_for()
    expect(card(page)).to_contain_text("🟢 Valid")
    expect(card(page)).to_contain_text("Keyless (no key file)")
    assert svc.get_one("cyberdyne", "gcp").status == Status.VALID
    assert "PRIVATE KEY" not in page.content()
    shot(page, "08b_keyless_valid")


def test_leaving_a_running_check_keeps_its_outcome(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/?org=hooli")
    page.locator("h3").filter(has_text="hooli · OpenAI").wait_for()
    page.locator('[data-testid="stForm"] input[type="password"]').fill(openai_key())
    page.get_by_role("button", name="Validate and save").click()
    page.locator('[data-testid="stMain"]').get_by_text("Setting up OpenAI for hooli").first.wait_for()
    nav(page, "Audit log")  # leave while the provider check (1.5 s) is in flight
    deadline = time.monotonic() + 20
    while svc.get_one("hooli", "openai").status != Status.VALID and time.monotonic() < deadline:
        time.sleep(0.2)
    assert svc.get_one("hooli", "openai").status == Status.VALID, "recorded although the page was left"
    nav(page, "Setup")
    page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="configured").wait_for()
    expect(card(page)).to_contain_text("🟢 Valid")
    shot(page, "07_check_outcome_shown_on_return")


def test_navigate_away_during_a_bulk_run_and_back(page, console: str, svc: IntegrationService) -> None:
    page.goto(f"{console}/status")
    page.locator('[data-testid="stMetric"]').first.wait_for()
    metric = page.locator('[data-testid="stMetric"]').nth(1).locator('[data-testid="stMetricValue"]')
    configured = int(metric.inner_text())
    start = page.get_by_role("button", name="Re-validate all…")
    expect(start).to_be_enabled(timeout=120_000)  # a bulk run of an earlier test may still be finishing: one at a time
    start.click()
    page.get_by_text(f"Re-validate all {configured} configured credentials").wait_for()
    shot(page, "08_revalidate_all_asks_with_the_count")
    before = len(validations(svc))
    page.get_by_role("button", name=f"Yes, re-validate {configured}").click()
    page.locator('[data-testid="stMain"]').get_by_text(f"Re-validating {configured} credentials").first.wait_for()
    nav(page, "Audit log")  # leave while it runs
    progress = page.locator('[data-testid="stSidebar"] [data-testid="stProgress"]')
    try:
        progress.wait_for()
    finally:
        shot(page, "09_bulk_progress_in_audit_log_sidebar")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert re.search(rf"Re-validating {configured} credentials: \d+/", sidebar), sidebar
    shot(page, "09_bulk_progress_in_audit_log_sidebar")
    nav(page, "Troubleshooting")
    if progress.count():
        shot(page, "10_bulk_progress_in_troubleshooting_sidebar")
    nav(page, "Status overview")
    result = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text=f"{configured} checked")
    try:
        result.wait_for(timeout=60_000)
    finally:
        shot(page, "11_bulk_result_with_changed_rows")
    assert len(validations(svc)) == before + configured, "every configured credential checked once"
    assert "status change" in result.inner_text()
    # what stays PENDING after a bulk run is a keyless integration waiting on its customer's grant, nothing else
    waiting = [r for r in svc.credentials() if r.validation_status == Status.PENDING]
    assert all(r.credential_kind == CredentialKind.KEYLESS for r in waiting)
    pending = page.locator('[data-testid="stMetric"]').nth(4).locator('[data-testid="stMetricValue"]').inner_text()
    assert pending == str(len(waiting))
    shot(page, "11_bulk_result_with_changed_rows")


def test_unknown_org_deep_link(page, console: str) -> None:
    page.goto(f"{console}/?org=no-such-org")
    page.get_by_text("No organization no-such-org exists").wait_for()
    page.wait_for_load_state("networkidle")
    assert "org=no-such-org" in page.url, "the URL keeps what was asked for"
    assert page.locator("h3").count() == 0, "no other org's card"
    shot(page, "12_unknown_org")
    page.goto(f"{console}/troubleshooting?org=no-such-org")
    page.get_by_text("No organization no-such-org exists").wait_for()
    assert page.get_by_role("button", name="Diagnose").count() == 0


def test_hostile_credential_name_is_shown_as_text(page, console: str, svc: IntegrationService) -> None:
    svc.setup("stark-industries", "anthropic", anthropic_key(), credential_name=HOSTILE, metadata={"note": HOSTILE})
    page.goto(f"{console}/?org=stark-industries&provider=ANTHROPIC")
    page.locator("h3").filter(has_text="stark-industries · Anthropic").wait_for()
    page.wait_for_load_state("networkidle")
    expect(card(page)).to_contain_text(HOSTILE)  # the name, literally
    assert page.locator('img[src*="pwn"], img[src="x"]').count() == 0
    assert page.locator('a[href*="evil.example"]').count() == 0
    shot(page, "13_hostile_name_as_text")


def _upgrade(port: int, host: str) -> str:
    """A WebSocket handshake to the console's stream with the given Host header; returns the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(
            (
                "GET /_stcore/stream HTTP/1.1\r\n"
                f"Host: {host}\r\nOrigin: http://{host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        return s.recv(1024).decode("latin-1").split("\r\n")[0]


def test_local_mode_refuses_other_hosts_and_cross_site_writes(console: str, browser) -> None:
    port = int(console.rsplit(":", 1)[1])
    assert " 101 " in _upgrade(port, f"127.0.0.1:{port}") and " 101 " in _upgrade(port, f"localhost:{port}")
    refused = _upgrade(port, f"rebind.evil.example:{port}")
    assert " 101 " not in refused and " 403 " in refused, refused
    upload = httpx.put(f"{console}/_stcore/upload_file/session/file", files={"file": ("a.json", b"{}")})
    assert upload.status_code == 403, "no XSRF token, no upload"

    # a browser whose DNS says rebind.evil.example is this machine (DNS rebinding)
    rebound = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*FLAGS, "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1"]
    )
    try:
        page = rebound.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"http://rebind.evil.example:{port}/?org=acmecorp")
        page.wait_for_timeout(5000)
        text = page.locator("body").inner_text()
        shot(page, "14_dns_rebinding_refused")
    finally:
        rebound.close()
    assert "acmecorp" not in text.replace("org=acmecorp", "") and "Setup" not in text


def test_status_overview_shows_cost_data_freshness(page, console: str, svc: IntegrationService) -> None:
    """Issue 26: Admin keys whose newest cost bucket is 26 h and 3 h old; the overview's Cost data column and the
    Data late reason (screenshot 20_status_overview_freshness.png, looked at by a person)."""
    from tests.keys import admin_key

    for slug, marker in (("stale-costs", "age26h"), ("fresh-costs", "age3h")):
        if slug not in svc.orgs():
            svc.register_org(slug)
        svc.setup(slug, "anthropic", admin_key("anthropic", marker))
    page.goto(console)
    page.locator("h1").first.wait_for()
    nav(page, "Status overview")
    filter_org(page, "-costs")
    page.get_by_text(re.compile(r"^2 of \d+ integrations")).wait_for()
    page.locator('.st-key-overview_table [data-testid="stDataFrame"] canvas').first.wait_for()
    page.get_by_text("Changes since the last run").wait_for()
    page.wait_for_load_state("networkidle")
    shot(page, "20_status_overview_freshness")
    frame = svc.overview()
    statuses = {
        s: v for s, v, p in zip(frame.org_slug, frame.data_status, frame.provider, strict=True) if p == "ANTHROPIC"
    }
    assert statuses["stale-costs"] == "STALE" and statuses["fresh-costs"] == "FRESH"


def test_setup_card_shows_freshness_and_expiry(page, console: str, svc: IntegrationService) -> None:
    """Issue 26 on the Setup card: a keyless GCP export last written 30 h ago is STALE beside a VALID credential,
    with the newest day, the source's last read, "never expires" and the DATA_STALE warning; an Admin key expiring
    in 6 days shows its date (screenshots 21_*, looked at by a person)."""
    from tests.keys import admin_key

    if "late-export" not in svc.orgs():
        svc.register_org("late-export")
    svc.setup_keyless("late-export", "late-age30h.billing_export.gcp_billing_export_v1_01A2B3_C4D5E6_F7A8B9")
    svc.setup("late-export", "openai", admin_key("openai", "age3h-exp6d"))
    page.goto(f"{console}/?org=late-export&provider=GCP")
    page.locator("h3").filter(has_text="late-export · Google Cloud").wait_for()
    for text in ("🟢 Valid", "🟠 Stale", "Data through", "Last success", "never expires"):
        expect(card(page)).to_contain_text(text)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="DATA_STALE").first).to_be_visible()
    shot(page, "21_setup_card_freshness_gcp")
    page.goto(f"{console}/?org=late-export&provider=OPENAI")
    page.locator("h3").filter(has_text="late-export · OpenAI").wait_for()
    expect(card(page)).to_contain_text("🟢 Fresh")
    expect(card(page)).to_contain_text(re.compile(r"expires 20\d\d-\d\d-\d\d"))
    shot(page, "21b_setup_card_expiry_openai")
