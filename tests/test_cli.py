"""The CLI over transcripts (no ASR needed) and bad inputs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analyzer.cli import cli

VTT = (Path(__file__).parent / "data" / "meeting.vtt").read_text()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("ANALYZER_DB", str(tmp_path / "calls.duckdb"))
    monkeypatch.delenv("ANALYZER_TRACKERS", raising=False)
    (tmp_path / "meeting.vtt").write_text(VTT)
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def query(workdir, sql):
    with duckdb.connect(str(workdir / "calls.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_ingest_a_vtt_with_flags(workdir):
    result = run(
        "ingest",
        workdir / "meeting.vtt",
        "--rep",
        "Priya Shah",
        "--account",
        "Acme",
        "--call-type",
        "sales",
        "--date",
        "2026-10-02",
    )
    assert result.exit_code == 0, result.output
    assert query(
        workdir, "SELECT rep, account, call_type, call_date::VARCHAR, status FROM calls"
    ) == [("Priya Shah", "Acme", "sales", "2026-10-02", "ok")]
    assert query(workdir, "SELECT speaker, role FROM utterances ORDER BY idx") == [
        ("Priya Shah", "rep"),
        ("Dana Lee", "customer"),
    ]
    found = query(workdir, "SELECT category, term FROM mentions ORDER BY start_s")
    assert ("competitor", "Gong") in found
    assert ("pricing", "price") in found
    # A first sales call with an account: its customer is a prospect, and the threat is about
    # their current vendor (docs/topics.md), not a churn signal.
    assert "churn_signal" not in {category for category, _ in found}


def test_same_file_twice_is_skipped_unless_forced(workdir):
    run("ingest", workdir / "meeting.vtt")
    second = run("ingest", workdir / "meeting.vtt")
    assert "already ingested" in second.output and second.exit_code == 0
    forced = run("ingest", workdir / "meeting.vtt", "--force")
    assert "1 ingested" in forced.output
    assert query(workdir, "SELECT count(*) FROM calls") == [(1,)]
    assert query(workdir, "SELECT count(*) FROM mentions WHERE category = 'competitor'") == [(1,)]


def test_bad_files_fail_alone_and_the_exit_code_says_so(workdir):
    (workdir / "empty.mp3").write_bytes(b"")
    (workdir / "notes.wav").write_text("just text pretending to be audio")
    (workdir / "slides.pdf").write_bytes(b"%PDF-1.4")
    result = run(
        "ingest",
        workdir / "empty.mp3",
        workdir / "notes.wav",
        workdir / "slides.pdf",
        workdir / "meeting.vtt",
    )
    assert result.exit_code == 1
    assert "empty.mp3: empty file" in result.output
    assert "notes.wav: not a readable audio" in result.output
    assert "slides.pdf: unsupported file type '.pdf'" in result.output
    assert query(workdir, "SELECT status, count(*) FROM calls GROUP BY ALL ORDER BY 1") == [
        ("failed", 3),
        ("ok", 1),
    ]
    assert query(workdir, "SELECT count(*) FROM utterances") == [(2,)]


def test_a_failed_file_is_retried_on_the_next_run(workdir):
    bad = workdir / "later.vtt"
    bad.write_text("WEBVTT\n\nnot a cue\n")
    assert run("ingest", bad).exit_code == 1
    bad.write_text(VTT)  # fixed in place: new content, new hash
    assert run("ingest", bad).exit_code == 0
    assert query(workdir, "SELECT status FROM calls") == [("ok",)]  # the failure is superseded


def test_folder_with_manifest(workdir):
    folder = workdir / "batch"
    folder.mkdir()
    (folder / "one.vtt").write_text(VTT)
    (folder / "two.vtt").write_text(VTT.replace("Gong", "Chorus"))
    (folder / "ignored.vtt").write_text(VTT)
    (folder / "manifest.csv").write_text(
        "file,call_id,rep,account,call_type,date,title\n"
        "one.vtt,call-1,Priya Shah,Acme,sales,2026-10-01,Discovery\n"
        "two.vtt,,Priya Shah,Globex,cs,2026-10-08,QBR\n"
    )
    assert run("ingest", folder).exit_code == 0
    assert query(workdir, "SELECT call_id, account, call_type FROM calls ORDER BY call_date") == [
        ("call-1", "Acme", "sales"),
        (query(workdir, "SELECT call_id FROM calls WHERE account='Globex'")[0][0], "Globex", "cs"),
    ]


def test_calls_and_mentions_commands(workdir):
    run("ingest", workdir / "meeting.vtt", "--rep", "Priya Shah")
    calls = run("calls", "--rep", "Priya Shah")
    assert "meeting-" in calls.output
    mentions = run("mentions", "--category", "competitor")
    assert "Gong" in mentions.output and "We tried Gong" in mentions.output


def test_retag_applies_edited_trackers_without_reingesting(workdir):
    run("ingest", workdir / "meeting.vtt", "--rep", "Priya Shah")
    user = workdir / "mine.yaml"
    user.write_text("trackers:\n  - {name: Support, category: support, phrases: [support]}\n")
    result = run("retag", "--trackers", user)
    assert result.exit_code == 0 and "re-tagged 1 calls" in result.output
    assert query(workdir, "SELECT count(*) FROM mentions WHERE category = 'support'") == [(1,)]


def test_bad_metadata_is_one_line(workdir):
    result = CliRunner().invoke(cli, ["ingest", str(workdir / "meeting.vtt"), "--date", "2.10.26"])
    assert result.exit_code != 0
    assert "date '2.10.26' is not an ISO date" in result.output


def test_bad_tracker_file(workdir):
    user = workdir / "broken.yaml"
    user.write_text("trackers:\n  - {name: X, category: pricing}\n")
    result = CliRunner().invoke(cli, ["trackers", "--trackers", str(user)])
    assert result.exit_code != 0
    assert "'phrases' must be a non-empty list" in result.output


def test_a_call_id_in_use_by_another_recording_is_not_overwritten(workdir):
    other = workdir / "other.vtt"
    other.write_text(VTT.replace("Gong", "Chorus"))
    assert run("ingest", workdir / "meeting.vtt", "--call-id", "acme-1").exit_code == 0
    clash = run("ingest", other, "--call-id", "acme-1")
    assert clash.exit_code == 1
    assert "call_id 'acme-1' already belongs to" in clash.output
    assert query(workdir, "SELECT term FROM mentions WHERE category = 'competitor'") == [("Gong",)]


def test_json_transcript_carries_its_own_metadata(workdir):
    path = workdir / "call.json"
    path.write_text(
        '{"call_id": "acme-7", "rep": "Priya Shah", "account": "Acme", "call_type": "cs",'
        ' "date": "2026-10-02", "utterances": [{"speaker": "Priya Shah", "start": 0, "end": 2,'
        ' "text": "Hi Dana."}, {"speaker": "Dana", "start": 2, "end": 5,'
        ' "text": "We will cancel the contract."}]}'
    )
    assert run("ingest", path, "--account", "Acme Corp").exit_code == 0
    assert query(workdir, "SELECT call_id, rep, account, call_type FROM calls") == [
        ("acme-7", "Priya Shah", "Acme Corp", "cs")  # flags win over the file's own metadata
    ]
    assert query(workdir, "SELECT role FROM utterances ORDER BY idx") == [("rep",), ("customer",)]


def test_workers_store_what_one_process_stores(workdir, tmp_path):
    folder = workdir / "batch"
    folder.mkdir()
    for name, rival in (("one", "Gong"), ("two", "Chorus"), ("three", "Clari")):
        (folder / f"{name}.vtt").write_text(VTT.replace("Gong", rival))
    (folder / "copy_of_one.vtt").write_text(VTT)  # same content as one.vtt
    (folder / "broken.srt").write_text("1\nnot a timestamp\n")
    together = run("ingest", folder, "--workers", "2", "--db", workdir / "workers.duckdb")
    assert together.exit_code == 1
    assert "broken.srt: malformed SRT" in together.output
    assert "3 ingested, 1 skipped, 1 failed" in together.output  # the copy waits, then is known
    alone = run("ingest", folder, "--db", workdir / "calls.duckdb")

    def stored(db):
        with duckdb.connect(str(db), read_only=True) as connection:
            return connection.execute(
                "SELECT c.call_id, c.status, m.category, m.term, m.method FROM calls c "
                "LEFT JOIN mentions m USING (call_id) ORDER BY ALL"
            ).fetchall()

    assert "3 ingested, 1 skipped, 1 failed" in alone.output
    assert stored(workdir / "workers.duckdb") == stored(workdir / "calls.duckdb")


def test_every_mention_is_stored_with_its_calibrated_probability(workdir):
    assert run("ingest", workdir / "meeting.vtt", "--rep", "Priya Shah").exit_code == 0
    rows = query(workdir, "SELECT category, score, probability FROM mentions")
    assert rows and all(0.0 < probability <= 1.0 for _, _, probability in rows)


def test_a_teams_threshold_keeps_only_moments_that_sure_enough(workdir):
    assert run("users", "team", "East", "Priya Shah").exit_code == 0
    result = run("thresholds", "pricing", "0.99", "--team", "East")
    assert result.exit_code == 0, result.output
    shown = run("thresholds", "--team", "East").output
    assert "0.99" in shown and "team East" in shown
    assert run("ingest", workdir / "meeting.vtt", "--rep", "Priya Shah").exit_code == 0
    categories = {c for (c,) in query(workdir, "SELECT category FROM mentions")}
    assert "competitor" in categories and "pricing" not in categories
    # cleared, the default applies again to stored calls after a retag
    assert run("thresholds", "pricing", "default", "--team", "East").exit_code == 0
    assert run("retag").exit_code == 0
    assert "pricing" in {c for (c,) in query(workdir, "SELECT category FROM mentions")}


def test_a_threshold_must_be_a_probability(workdir):
    result = CliRunner().invoke(cli, ["thresholds", "pricing", "2"])
    assert result.exit_code != 0 and "between 0 and 1" in result.output
