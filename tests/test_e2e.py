"""End to end with the real Whisper tiny.en model on speech synthesized by Piper."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.sources import encode

pytestmark = pytest.mark.slow


def ingest(tmp_path, path, *flags):
    db = tmp_path / "e2e.duckdb"
    result = CliRunner().invoke(
        cli, ["ingest", str(path), "--db", str(db), *flags], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return duckdb.connect(str(db), read_only=True)


def test_stereo_call_end_to_end(tmp_path, stereo_call, call_audio):
    with ingest(
        tmp_path,
        stereo_call,
        "--rep",
        "Mark Jones",
        "--account",
        "Acme",
        "--call-type",
        "cs",  # an existing customer: "we will cancel our contract" is about us
        "--date",
        "2026-10-02",
    ) as db:
        (call,) = db.execute("SELECT status, duration_s, asr_model, channels FROM calls").fetchall()
        assert call[0] == "ok" and call[2] == "tiny.en" and call[3] == 2
        assert abs(call[1] - len(call_audio[0]) / 16_000) < 0.1

        utterances = db.execute(
            "SELECT speaker, role, start_s, end_s, text FROM utterances ORDER BY idx"
        ).fetchall()
        # Six turns, alternating sides, in time order, each side named.
        assert [u[1] for u in utterances] == ["rep", "customer"] * 3
        assert {u[0] for u in utterances if u[1] == "rep"} == {"Mark Jones"}
        starts = [u[2] for u in utterances]
        assert starts == sorted(starts)
        for (_, start, end, _), stored in zip(call_audio[1], utterances, strict=True):
            assert abs(stored[2] - start) < 1.0 and stored[3] <= end + 1.0

        mentions = db.execute(
            "SELECT category, term, role, m.start_s, score FROM mentions m "
            "JOIN utterances u ON u.call_id = m.call_id "
            "AND u.idx = m.utterance_idx"
        ).fetchall()
        by_category = {}
        for category, term, role, start, _ in mentions:
            by_category.setdefault(category, []).append((term, role, start))
        # tiny.en writes "Salesforce" as "sales first" here; the tracker still finds it.
        salesforce = [m for m in mentions if m[1] == "Salesforce"]
        assert salesforce and salesforce[0][2] == "customer"
        assert ("cancel", "customer") in [(t, r) for t, r, _ in by_category["churn_signal"]]
        assert any(role == "rep" for _, role, _ in by_category["pricing"])
        assert by_category["demo"]
        # Mention times fall inside the turn that said them.
        churn_time = next(t for term, _, t in by_category["churn_signal"] if term == "cancel")
        assert call_audio[1][3][1] - 0.5 <= churn_time <= call_audio[1][3][2] + 0.5


def test_stereo_mp3_with_identical_channels_is_transcribed_once(tmp_path, call_audio):
    mixed = call_audio[0].sum(axis=1)
    path = encode(tmp_path / "export.mp3", np.stack([mixed, mixed], axis=1))
    with ingest(tmp_path, path) as db:
        assert db.execute("SELECT channels, roles_from FROM calls").fetchall() == [(1, "guessed")]
        # Separated by voice: the rep opened the call, so the guess gives the turns' true roles.
        roles = [r[0] for r in db.execute("SELECT role FROM utterances ORDER BY idx").fetchall()]
        assert roles == [role for role, *_ in call_audio[1]]
        text = " ".join(r[0] for r in db.execute("SELECT text FROM utterances").fetchall())
        assert text.lower().count("cancel our contract") == 1


def test_telephone_quality_stereo(tmp_path, call_audio):
    path = encode(tmp_path / "phone.wav", call_audio[0][::2], rate=8000, codec="pcm_mulaw")
    with ingest(tmp_path, path) as db:
        roles = [r[0] for r in db.execute("SELECT role FROM utterances ORDER BY idx").fetchall()]
        assert roles == ["rep", "customer"] * 3
        categories = {r[0] for r in db.execute("SELECT category FROM mentions").fetchall()}
        assert {"pricing", "churn_signal", "demo"} <= categories
