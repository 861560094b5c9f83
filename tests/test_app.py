"""Every page of the Streamlit app, driven by AppTest against a real database: the 24 sample
calls imported from their gold transcripts, plus one recording ingested from audio."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.errors import InputError
from analyzer.records import Utterance
from analyzer.store import Store
from analyzer.ui.jobs import JobRunner, accept_upload

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def app_db(tmp_path_factory, stereo_call):
    folder = tmp_path_factory.mktemp("app")
    db = folder / "app.duckdb"
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    result = CliRunner().invoke(cli, ["ingest", *gold, "--db", str(db)])
    assert result.exit_code == 0, result.output
    recording = folder / "discovery.wav"
    shutil.copy(stereo_call, recording)
    result = CliRunner().invoke(cli, ["ingest", str(recording), "--db", str(db), "--call-id",
                                      "audio-1", "--rep", "Mark Jones", "--account", "Acme",
                                      "--call-type", "sales", "--date", "2026-11-19"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return db


def test_team_trends(open_page, app_db):
    app = open_page(app_db)
    assert app.title[0].value == "Team trends"
    assert app.metric[0].value == "25"  # calls
    moments = app.dataframe[-1].value
    assert {"Priya Shah", "Marcus Lee", "Elena Ruiz", "Tom Becker"} <= set(moments["rep"])
    coaching = app.dataframe[0].value
    assert coaching.iloc[-1]["rep"] == "Team median"
    assert 0 < coaching.iloc[-1]["talk_ratio_pct"] < 100
    assert len(app.get("vega_lite_chart")) == 2  # heatmap and weekly trend


def test_team_filters_come_from_the_link(open_page, app_db):
    app = open_page(app_db, rep="Priya Shah", topic="competitor")
    assert app.multiselect(key="f_reps").value == ["Priya Shah"]
    moments = app.dataframe[-1].value
    assert set(moments["rep"]) == {"Priya Shah"} and set(moments["category"]) == {"competitor"}


def test_accounts_rank_the_churning_accounts_first(open_page, app_db):
    app = open_page(app_db, "analyzer/ui/accounts.py")
    ranking = app.dataframe[0].value
    assert set(ranking["account"].head(2)) == {"Globex Manufacturing", "Umbrella Retail"}
    assert ranking.iloc[0]["risk"] > ranking.iloc[-1]["risk"]
    globex = next(e for e in app.expander if e.label.startswith("Globex Manufacturing"))
    assert "notice period" in " ".join(globex.dataframe[0].value["quote"]).lower()


def test_call_page_plays_from_the_moment(open_page, app_db):
    app = open_page(app_db, "analyzer/ui/call.py", call="audio-1", t="10")
    assert app.title[0].value == "audio-1"
    assert app.get("audio")[0].proto.start_time == 10
    chat = [m.markdown[0].value for m in app.chat_message]
    assert any("▶ this moment" in line for line in chat)
    assert not app.dataframe[0].value.empty  # tracked moments


def test_call_page_plays_only_the_beeped_copy_under_audio_redaction(open_page, app_db, tmp_path):
    from analyzer.pipeline import redacted_audio_path

    db = tmp_path / "redacted.duckdb"
    shutil.copy(app_db, db)
    result = CliRunner().invoke(cli, ["pii", "on", "--audio", "--db", str(db)])
    assert "1 recording(s) beeped" in result.output, result.output
    app = open_page(db, "analyzer/ui/call.py", call="audio-1")
    assert app.get("audio")
    assert "Identifiers are beeped" in " ".join(c.value for c in app.caption)
    redacted_audio_path(Store(db), "audio-1").unlink()
    app = open_page(db, "analyzer/ui/call.py", call="audio-1")
    assert not app.get("audio")  # never the original instead
    assert "no beeped copy" in app.warning[0].value


def test_call_page_for_a_transcript(open_page, app_db):
    app = open_page(app_db, "analyzer/ui/call.py", call="globex-04")
    assert app.title[0].value == "Renewal discussion"
    assert len(app.chat_message) > 20
    assert "no audio" in " ".join(c.value for c in app.caption)


def test_search(open_page, app_db):
    app = open_page(app_db, "analyzer/ui/search.py")
    app.text_input[0].input("notice period").run()
    assert not app.exception, app.exception
    assert "matching utterances" in app.caption[0].value, [c.value for c in app.caption]
    results = app.dataframe[0].value
    assert not results.empty
    assert "notice period" in results.iloc[0]["text"].lower()


def test_upload_page_renders(open_page, app_db):
    app = open_page(app_db, "analyzer/ui/upload.py")
    assert app.title[0].value == "Upload calls"


def test_trackers_page_validates_before_saving(open_page, app_db, tmp_path):
    db = tmp_path / "copy.duckdb"
    shutil.copy(app_db, db)
    app = open_page(db, "analyzer/ui/trackers.py")
    assert len(app.dataframe[0].value) > 20
    app.text_area[0].input("trackers:\n  - {name: X}\n")
    app.button[0].click().run()
    assert "Not saved" in app.error[0].value
    assert not (tmp_path / "trackers.yaml").exists()


def test_trackers_page_shows_smart_trackers_and_teaches_a_topic(open_page, app_db, tmp_path):
    db = tmp_path / "teach.duckdb"
    shutil.copy(app_db, db)
    app = open_page(db, "analyzer/ui/trackers.py")
    heads = app.dataframe[1].value
    assert set(heads["Topic"]) >= {"Pricing", "Churn signals"} and heads["F1"].between(0, 1).all()
    app.button[1].click().run()  # "Validate and train" the template: security_review
    assert not app.exception, app.exception
    assert "security_review: cross-validated F1" in app.success[0].value
    assert (tmp_path / "examples" / "security_review.yaml").exists()
    app.text_area[1].input("category: security review\npositives: []\n")
    app.button[1].click().run()
    assert "Not trained" in app.error[0].value
    runner = JobRunner(Store(db))
    said = [Utterance("c", "customer", 0, 3, "before we sign, infosec needs your soc two report")]
    assert "security_review" in {m.category for m in runner.ingestor().tagger.tag(said)}


def test_empty_database_explains_how_to_add_calls(open_page, tmp_path):
    app = open_page(tmp_path / "empty.duckdb")
    assert "analyzer ingest" in app.info[0].value


def test_upload_is_checked_by_content_and_stored_safely(tmp_path):
    store = Store(tmp_path / "u.duckdb")
    with pytest.raises(InputError, match="not a readable audio"):
        accept_upload(store, "call.wav", b"just text pretending to be audio" * 20)
    kept = accept_upload(
        store, "../../etc/meeting.vtt", (ROOT / "tests/data/meeting.vtt").read_bytes()
    )
    assert kept.parent == tmp_path / "recordings" and kept.name.endswith("_meeting.vtt")
    assert list((tmp_path / "recordings").iterdir()) == [kept]


def test_background_ingest_of_an_upload(tmp_path):
    from analyzer.sources import make_meta

    store = Store(tmp_path / "bg.duckdb")
    kept = accept_upload(store, "meeting.vtt", (ROOT / "tests/data/meeting.vtt").read_bytes())
    runner = JobRunner(store)
    job = runner.submit([kept], make_meta(rep="Priya Shah", account="Acme"), owner="local")
    runner.executor.shutdown(wait=True)
    assert job.done and job.outcomes[0].status == "ok"
    assert store.calls()[0]["account"] == "Acme"
