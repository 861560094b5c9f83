from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.store import Store
from analyzer.tagging import KeywordTagger
from analyzer.trackers import load_trackers

DATA = Path(__file__).parent / "data"

# A short sales call: tiny.en hears "Salesforce" as "sales first" in it.
CALL_TURNS = [
    ("rep", "Hi Dana, thanks for joining. Which tools does your team use today?"),
    (
        "customer",
        "We keep our forecasts in Salesforce, and we tried Gong for six months, "
        "but it was too expensive.",
    ),
    ("rep", "Understood. Our pricing is sixty dollars per user per month on the annual plan."),
    ("customer", "If the integration problems are not fixed, we will cancel our contract."),
    ("rep", "Would a live demo next week help?"),
    ("customer", "Yes, a demo on Tuesday works for me."),
]


@pytest.fixture(scope="session")
def trackers():
    return load_trackers()


@pytest.fixture(scope="session")
def tagger(trackers):
    return KeywordTagger(trackers)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "test.duckdb")
    store.migrate()
    return store


@pytest.fixture(scope="session")
def call_audio(tmp_path_factory):
    """The CALL_TURNS call synthesized with Piper: (stereo samples, true turns)."""
    from analyzer.synth import synthesize_call

    return synthesize_call(CALL_TURNS)


@pytest.fixture(scope="session")
def stereo_call(tmp_path_factory, call_audio):
    from analyzer.synth import write_wav

    return write_wav(tmp_path_factory.mktemp("calls") / "stereo_call.wav", call_audio[0])


@pytest.fixture
def open_page(monkeypatch):
    """Open the app on `db` (at `page`, with URL query `params`); the database stays set for
    the whole test, so later reruns see it too."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def open_(db: Path, page: str | None = None, **params) -> AppTest:
        st.cache_data.clear()
        st.cache_resource.clear()
        monkeypatch.setenv("ANALYZER_DB", str(db))
        app = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=60)
        for key, value in params.items():
            app.query_params[key] = value
        app.run()
        if page:
            app.switch_page(page)
            app.run()
        assert not app.exception, app.exception
        return app

    return open_


@pytest.fixture
def store_at(tmp_path):
    """Make a database file left at schema `version`, holding what `sql` inserted: an older
    file for a migration to upgrade."""
    import duckdb

    def make(version: int, sql: str) -> Store:
        store = Store(tmp_path / "old.duckdb")
        store.migrate(target=version)
        with duckdb.connect(str(store.path)) as connection:
            connection.execute(sql)
        return store

    return make
