"""Server-side render time of every app page, cold (empty caches) and warm (cached queries).

    python -m bench.app_pages [DB]     # default demo.duckdb, from `analyzer demo --no-app`

Timed with Streamlit's AppTest: the page script's full run, queries and charts included,
without the browser's own drawing time.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "Team trends": ("analyzer/ui/team.py", {}),
    "Accounts": ("analyzer/ui/accounts.py", {}),
    "Call": ("analyzer/ui/call.py", {"call": "globex-04", "t": "52"}),
    "Search": ("analyzer/ui/search.py", {"q": "notice period"}),
    "Upload": ("analyzer/ui/upload.py", {}),
    "Trackers": ("analyzer/ui/trackers.py", {}),
}


def main() -> None:
    db = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "demo.duckdb").resolve()
    os.environ["ANALYZER_DB"] = str(db)
    import streamlit as st

    print(f"database: {db}")
    print(f"{'page':12} {'cold ms':>8} {'warm ms (median of 5)':>22}")
    for name, (script, params) in PAGES.items():
        st.cache_data.clear()
        st.cache_resource.clear()
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        for key, value in params.items():
            app.query_params[key] = value
        app.run()
        app.switch_page(script)
        st.cache_data.clear()  # the landing page's run filled the caches
        st.cache_resource.clear()
        started = time.perf_counter()
        app.run()
        cold = time.perf_counter() - started
        assert not app.exception, app.exception
        warm = []
        for _ in range(5):
            started = time.perf_counter()
            app.run()
            warm.append(time.perf_counter() - started)
        print(f"{name:12} {cold * 1000:8.0f} {statistics.median(warm) * 1000:22.0f}")


if __name__ == "__main__":
    main()
