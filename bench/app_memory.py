"""Peak memory of the app's server while it serves a large database, and how long each page
takes to be ready in a real browser.

    python -m bench.app_memory DB      # e.g. the 100k-call file from `bench.scale --keep DIR`

Starts `streamlit run app.py` on DB, opens every coaching page in headless Chromium (Debian's
`chromium`), waits for each to finish running, and reads the server's peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (page, path, text that appears only once the page's last part has rendered)
PAGES = [("Team trends", "", "Select a row to open the call"),
         ("Accounts", "accounts", "Competitors mentioned, by week"),
         ("Search", "search?q=notice+period", "Select a row to open the call")]  # fmt: skip


def peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    return kib * 1024


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed with the server below
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--server.fileWatcherType", "none"],
        env={**os.environ, "ANALYZER_DB": str(args.db.resolve())}, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        print(f"server idle: peak RSS {peak_rss(server.pid) / 2**30:.2f} GiB")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for name, path, text in PAGES:
                started = time.perf_counter()
                page.goto(f"{url}/{path}")
                page.wait_for_selector(f"text={text}", timeout=600_000)
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=stStatusWidget]')",
                    timeout=600_000,
                )
                ready = time.perf_counter() - started
                print(f"{name:12} ready in {ready:6.1f} s; server peak RSS so far "
                      f"{peak_rss(server.pid) / 2**30:.2f} GiB")  # fmt: skip
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    main()
