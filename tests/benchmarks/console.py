"""`make bench-console`: the console's first render in Chromium at scale (a benchmark, not a timed test).

For each size (BENCH_CONSOLE_ORGS, default 2000,10000) it builds the demo fleet (`integrations demo --orgs N`,
kept in .bench/console-N so a second run reuses it; or BENCH_CONSOLE_DATA_<N> names a data dir), starts the
console, and measures in Debian's Chromium, from navigation to the page drawn (its table on screen and no element
left stale): the status page's first render, on a cold server (the process's first request) and again warm, and
the audit log's first page; with the bytes the browser received over the WebSocket for each. Run it on an idle
machine: the figures are wall-clock.

The same run measures a floor: a hello-world Streamlit app (a title and a 50-row table) started the same way (same
config, same wait), i.e. what any Streamlit page costs in this browser on this machine, rendered in turns with each
page measured (the best of 3 of each); every figure is also given as a ratio to it (the cold figure to the floor's
first request), which is what to compare between runs on a shared or slower machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
SIZES = [int(n) for n in os.environ.get("BENCH_CONSOLE_ORGS", "2000,10000").split(",")]
HELLO = """import pandas as pd
import streamlit as st

st.title("Hello")
st.container(key="overview_table").dataframe(pd.DataFrame({"org": [f"org-{i:05d}" for i in range(50)], "n": range(50)}))
"""


def line(name: str, value: str) -> None:
    print(f"{name:<58} {value}", flush=True)


def data_for(orgs: int) -> Path:
    given = os.environ.get(f"BENCH_CONSOLE_DATA_{orgs}")
    if given:
        return Path(given)
    path = ROOT / ".bench" / f"console-{orgs}"
    if not (path / ".fleet-done").exists():
        env = {**os.environ, "INTEGRATIONS_DATA_DIR": str(path), "PYTHONPATH": str(ROOT / "lib")}
        cli = [sys.executable, "-m", "integrations.cli"]
        started = time.perf_counter()
        subprocess.run([*cli, "init"], env=env, check=True, capture_output=True)
        subprocess.run([*cli, "demo", "--orgs", str(orgs), "--json"], env=env, check=True, capture_output=True)
        line(f"integrations demo --orgs {orgs}", f"{time.perf_counter() - started:.0f}s")
        (path / ".fleet-done").touch()
    return path


def start_console(data: Path, script: Path = ROOT / "app.py") -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTEGRATIONS_")}
    env.update(INTEGRATIONS_DATA_DIR=str(data), PYTHONPATH=str(ROOT / "lib"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/_stcore/health", timeout=1).text == "ok":
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the console did not start")


def render(browser, url: str, table_key: str) -> tuple[float, int]:
    """Seconds from navigation to the page drawn, and the bytes received over the WebSocket meanwhile."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    received = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: received.__setitem__(0, received[0] + len(f))))
    started = time.perf_counter()
    page.goto(url)
    page.locator(f'.st-key-{table_key} [data-testid="stDataFrame"]').wait_for(timeout=180_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-stale=\"true\"]').length === 0"
        " && !document.querySelector('[data-testid=\"stStatusWidget\"]')",
        timeout=180_000,
    )
    took = time.perf_counter() - started
    page.close()
    return took, received[0]


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit("Debian's chromium is needed (apt-get install chromium)")
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        hello_script = Path(tmp) / "hello.py"
        hello_script.write_text(HELLO)
        hello, hello_url = start_console(Path(tmp), hello_script)
        try:
            hello_cold = render(browser, hello_url, "overview_table")[0]
            line("floor: hello-world app (title + 50-row table), first request", f"{hello_cold:.2f}s")

            def rounds(url: str, key: str) -> tuple[float, float, int]:
                """Best of 3 of a page and of the floor, rendered in turns (a shared machine's load hits both)."""
                took, floor, received = [], [], 0
                for _ in range(3):
                    floor.append(render(browser, hello_url, "overview_table")[0])
                    t, received = render(browser, url, key)
                    took.append(t)
                return min(took), min(floor), received

            for orgs in SIZES:
                data = data_for(orgs)
                proc, url = start_console(data)
                try:
                    cold, cold_bytes = render(browser, f"{url}/status", "overview_table")
                    name = f"{orgs:,} orgs: status page, first request after a start"
                    line(name, f"{cold:.2f}s = {cold / hello_cold:.2f}x the floor's first request ({cold_bytes:,} B)")
                    for name, page, key in (
                        (f"{orgs:,} orgs: status page, first render (best of 3)", "status", "overview_table"),
                        (f"{orgs:,} orgs: audit log, first page (best of 3)", "audit_log", "audit_table"),
                    ):
                        took, floor, received = rounds(f"{url}/{page}", key)
                        line(
                            name, f"{took:.2f}s = {took / floor:.2f}x the floor ({floor:.2f}s in turn) ({received:,} B)"
                        )
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
        finally:
            hello.terminate()
            hello.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
