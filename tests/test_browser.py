"""End to end in a real browser: `streamlit run` headless on localhost, Chromium driven by
Playwright, every page visited and screenshotted (saved under $SCREENSHOT_DIR or a temp folder).

Needs Debian's chromium (`.ci/run` installs it); skipped elsewhere unless CI is set."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import access
from analyzer.cli import cli
from analyzer.store import Store

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


@contextlib.contextmanager
def serve(db: Path, address: str = "127.0.0.1") -> Iterator[int]:
    """`streamlit run app.py` on `db`, listening on `address`; yields the port."""
    folder = db.parent
    port = free_port()
    log = (folder / "streamlit.log").open("wb")  # a file, not a pipe: a full pipe blocks the app
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", address, "--server.headless", "true",
         "--server.fileWatcherType", "none"],
        cwd=folder, env={**os.environ, "ANALYZER_DB": str(db)},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, (folder / "streamlit.log").read_text()
                assert time.monotonic() < deadline, "streamlit did not start"
                time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        print((folder / "streamlit.log").read_text()[-5000:])


@contextlib.contextmanager
def chromium():
    """A new page in headless Chromium, with page errors collected in `page.errors`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        try:
            yield page
        finally:
            browser.close()


def ingest_gold(db: Path) -> None:
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    result = CliRunner().invoke(cli, ["ingest", *gold, "--no-smart", "--db", str(db)])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "app.duckdb"
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    assert CliRunner().invoke(cli, ["ingest", *gold, "--db", str(db)]).exit_code == 0
    with serve(db) as port:
        yield f"http://127.0.0.1:{port}"


def test_every_page_renders_in_chromium(server, tmp_path):
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with chromium() as page:
        for name, path, text in PAGES:
            page.goto(f"{server}/{path}")
            page.wait_for_selector(f"text={text}", timeout=60_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000
            )
            assert page.locator("[data-testid=stException]").count() == 0, name
            page.screenshot(path=str(shots / f"{name}.png"))
        assert not page.errors, page.errors
    assert sorted(p.name for p in shots.glob("*.png")) == sorted(f"{n}.png" for n, _, _ in PAGES)


def test_upload_in_the_browser_appears_as_a_call(server):
    with chromium() as page:
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


def lan_address() -> str | None:
    """This machine's address on its network, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))  # picks a route; sends nothing
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_only_this_computer_until_logins_then_a_sign_in(tmp_path):
    """Served on every interface: without logins a browser from the network is turned away;
    once a login exists it must sign in, sees its own calls, and a reload signs it out."""
    address = lan_address()
    if address is None:
        pytest.skip("no network address besides loopback")
    db = tmp_path / "app.duckdb"
    ingest_gold(db)
    with serve(db, "0.0.0.0") as port, chromium() as page:
        page.goto(f"http://{address}:{port}/")
        page.wait_for_selector("text=only serves the computer it runs on", timeout=60_000)
        assert page.locator("text=Team trends").count() == 0
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("text=Single-user mode", timeout=60_000)

        access.add_user(Store(db), "priya", "rep", rep="Priya Shah", password="pw for priya!")
        page.goto(f"http://{address}:{port}/")
        page.get_by_label("Username").fill("priya")
        page.get_by_label("Password", exact=True).fill("pw for priya!")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_selector("text=Rep · Priya Shah", timeout=60_000)
        page.wait_for_selector("text=Topics by rep", timeout=60_000)
        assert page.locator("text=Tom Becker").count() == 0
        page.screenshot(path=str(tmp_path / "signed_in.png"))
        page.reload()
        page.wait_for_selector("text=Sign in", timeout=60_000)
        assert not page.errors, page.errors
