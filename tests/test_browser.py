"""End to end in a real browser: `streamlit run` headless on localhost, Chromium driven by
Playwright, every page visited and screenshotted (saved under $SCREENSHOT_DIR or a temp folder).

Needs Debian's chromium (`.ci/run` installs it); skipped elsewhere unless CI is set."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import cli

ROOT = Path(__file__).parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGES = [
    ("team", "", "Topics by rep"),
    ("accounts", "accounts", "Accounts by churn risk"),
    ("call", "call?call=globex-04&t=52", "Tracked moments"),
    ("search", "search?q=notice+period", "matching utterances"),
    ("upload", "upload", "Upload and analyze"),
    ("trackers", "trackers", "Your trackers"),
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="needs Debian's chromium (apt-get install chromium); .ci/run installs it",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser")
    db = folder / "app.duckdb"
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    assert CliRunner().invoke(cli, ["ingest", *gold, "--db", str(db)]).exit_code == 0
    port = free_port()
    log = (folder / "streamlit.log").open("wb")  # a file, not a pipe: a full pipe blocks the app
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none"],
        cwd=folder, env={**os.environ, "ANALYZER_DB": str(db)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, (folder / "streamlit.log").read_text()
                assert time.monotonic() < deadline, "streamlit did not start"
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        print((folder / "streamlit.log").read_text()[-5000:])


def test_every_page_renders_in_chromium(server, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        for name, path, text in PAGES:
            page.goto(f"{server}/{path}")
            page.wait_for_selector(f"text={text}", timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000
            )
            assert page.locator("[data-testid=stException]").count() == 0, name
            page.screenshot(path=str(shots / f"{name}.png"))
        browser.close()
    assert not errors, errors
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(f"{n}.png" for n, _, _ in PAGES)


def test_upload_in_the_browser_appears_as_a_call(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{server}/upload")
        page.wait_for_selector("text=Upload and analyze", timeout=60_000)
        page.locator("input[type=file]").set_input_files(str(ROOT / "tests/data/meeting.vtt"))
        page.get_by_label("Rep").fill("Priya Shah")
        page.get_by_label("Account").fill("Browser Test Co")
        page.get_by_text("Upload and analyze").click()
        done = page.wait_for_selector("text=moments → call", timeout=60_000).inner_text()
        call_id = done.rsplit("call", 1)[-1].strip(" `")
        # The new call is there at once, without restarting the app.
        page.goto(f"{server}/call?call={call_id}")
        page.wait_for_selector("text=Browser Test Co", timeout=60_000)
        page.wait_for_selector("text=Competitors: Gong", timeout=60_000)
        browser.close()
