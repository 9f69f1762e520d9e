"""The running console in a real browser: set up an integration, see it on the status page, troubleshoot it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integrations import connect
from integrations.demo import seed

from tests.keys import CANARY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    data = tmp_path_factory.mktemp("console") / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    env["INTEGRATIONS_DATA_DIR"] = str(data)
    seed(connect(data_dir=data))
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
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
        pytest.fail(f"streamlit did not become healthy: {proc.stdout.read().decode()[-2000:]}")
    yield url
    proc.terminate()
    output = proc.communicate(timeout=20)[0].decode()
    assert CANARY not in output and CANARY[8:] not in output, "the canary reached the server log"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS[1:])
        yield b
        b.close()


def test_setup_then_status_then_troubleshooting(console: str, browser) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.set_default_timeout(30_000)
    page.goto(f"{console}/?org=initech")
    form = page.locator('[data-testid="stForm"]')
    page.locator("h3").filter(has_text="initech").wait_for()
    form.locator('input[type="password"]').fill(CANARY)
    form.get_by_label("Credential name").fill("Browser key")
    form.get_by_role("button", name="Validate and save").click()
    success = page.locator('[data-testid="stAlertContentSuccess"]').filter(has_text="configured")
    success.wait_for()
    assert "cred_" in success.inner_text()
    assert page.locator('[data-testid="stForm"] input[type="password"]').input_value() == ""
    page.screenshot(path=str(ARTIFACTS / "setup_success.png"), full_page=True)
    assert CANARY not in page.content()

    page.goto(f"{console}/status?org=acmecorp")  # the row chosen below must win over the sidebar's org
    page.locator('[data-testid="stMetric"]').first.wait_for()
    grid = page.locator('[data-testid="stDataFrame"]')
    grid.wait_for()
    page.locator('[data-testid="stMultiSelect"]').first.click()
    page.get_by_role("option", name="OPENAI").click()
    page.keyboard.press("Escape")
    page.get_by_text("of 18 integrations").filter(has_text="6 of").wait_for()
    page.screenshot(path=str(ARTIFACTS / "status_overview.png"), full_page=True)
    box = grid.bounding_box()
    # rows are sorted by org: acmecorp, globex, hooli, initech, ...; click the 4th row's selection box
    page.mouse.click(box["x"] + 16, box["y"] + 35 * 4 + 17)
    button = page.get_by_role("button", name="Troubleshoot initech · OPENAI")
    button.wait_for()
    page.wait_for_load_state("networkidle")
    button.click()
    page.locator("h1").filter(has_text="Troubleshooting").wait_for()
    assert "org=initech" in page.url and "provider=OPENAI" in page.url
    page.locator("h3").filter(has_text="Diagnose initech").wait_for()
    page.get_by_role("button", name="Diagnose").click()
    page.get_by_text("status cache agrees").wait_for()
    assert page.locator("h3").filter(has_text="Diagnose initech").count() == 1
    page.screenshot(path=str(ARTIFACTS / "troubleshooting_diagnose.png"), full_page=True)
    assert page.get_by_text("✅").count() == 6
    assert CANARY not in page.content()
