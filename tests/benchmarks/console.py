"""`make bench-console`: the console's first render in Chromium at scale (a benchmark, not a timed test).

For each size (BENCH_CONSOLE_ORGS, default 2000,10000) it builds the demo fleet (`integrations demo --orgs N`,
kept in .bench/console-N so a second run reuses it; or BENCH_CONSOLE_DATA_<N> names a data dir), starts the
console, and measures in Debian's Chromium, from navigation to the page drawn (its table on screen and no element
left stale): the status page's first render, on a cold server (the process's first request) and again warm, and
the audit log's first page; with the bytes the browser received over the WebSocket for each. Run it on an idle
machine: the figures are wall-clock.

The same run first measures a floor: a hello-world Streamlit app (a title and a 50-row table) started the same way
(same config, same wait), i.e. what any Streamlit page costs in this browser on this machine; every figure is also
given as a ratio to it, which is what to compare between runs on a shared or slower machine.
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


def floor(browser) -> float:
    """The hello-world app's first render (best of 3, after a cold one not counted): any Streamlit page's floor."""
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "hello.py"
        script.write_text(HELLO)
        proc, url = start_console(Path(tmp), script)
        try:
            cold, _ = render(browser, url, "overview_table")
            best = min(render(browser, url, "overview_table")[0] for _ in range(3))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    line("floor: hello-world app (title + 50-row table), first request", f"{cold:.2f}s")
    line("floor: hello-world app, first render (best of 3)", f"{best:.2f}s (= 1.00x, the baseline)")
    return best


def main() -> None:
    if not Path(CHROMIUM).exists():
        sys.exit("Debian's chromium is needed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        base = floor(browser)

        def figure(name: str, took: float, received: int) -> None:
            line(name, f"{took:.2f}s = {took / base:.2f}x floor ({received:,} B)")

        for orgs in SIZES:
            data = data_for(orgs)
            proc, url = start_console(data)
            try:
                cold, cold_bytes = render(browser, f"{url}/status", "overview_table")
                figure(f"{orgs:,} orgs: status page, first request after a start", cold, cold_bytes)
                warm = [render(browser, f"{url}/status", "overview_table") for _ in range(3)]
                figure(f"{orgs:,} orgs: status page, first render (best of 3)", min(w[0] for w in warm), warm[0][1])
                audit = [render(browser, f"{url}/audit_log", "audit_table") for _ in range(3)]
                figure(f"{orgs:,} orgs: audit log, first page (best of 3)", min(a[0] for a in audit), audit[0][1])
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        browser.close()


if __name__ == "__main__":
    main()
