"""The Streamlit overview page, driven by AppTest against a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from analyzer.cli import cli

APP = str(Path(__file__).parents[1] / "app.py")
MEETING = Path(__file__).parent / "data" / "meeting.vtt"


def run_app(db: Path) -> AppTest:
    import os

    os.environ["ANALYZER_DB"] = str(db)
    try:
        app = AppTest.from_file(APP, default_timeout=60)
        app.run()
    finally:
        del os.environ["ANALYZER_DB"]
    assert not app.exception
    return app


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


def test_overview_shows_stored_calls(tmp_path):
    db = tmp_path / "app.duckdb"
    result = CliRunner().invoke(
        cli,
        ["ingest", str(MEETING), "--db", str(db), "--rep", "Priya Shah", "--account", "Acme"],
    )
    assert result.exit_code == 0, result.output
    app = run_app(db)
    assert [m.value for m in app.metric][0] == "1"
    assert "Latest moments" in [s.value for s in app.subheader]
    moments = app.dataframe[0].value
    assert "pricing" in set(moments["category"])


def test_empty_database_explains_how_to_add_calls(tmp_path):
    app = run_app(tmp_path / "empty.duckdb")
    assert "analyzer ingest" in app.info[0].value
