"""A batch of bad inputs among good ones: every bad file gets one line naming it and the reason,
nothing crashes, and the good files in the same batch are stored.

The corpus is built here, byte for byte, so that it needs nothing outside the repository."""

from __future__ import annotations

import re
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.sources import encode
from analyzer.store import Store
from analyzer.synth import write_wav

DATA = Path(__file__).parent / "data"
INJECTION = "Robert'); DROP TABLE calls;--"


def raw_wav(path: Path, samples: np.ndarray, rate: int, channels: int) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, call_audio):
    """{file name: what must be said about it} plus the good files' names."""
    folder = tmp_path_factory.mktemp("bad_corpus")
    speech = call_audio[0].mean(axis=1)
    good_mp3 = encode(folder / "good_call.mp3", speech)
    shutil.copy(DATA / "meeting.vtt", folder / "good_meeting.vtt")

    truncated = good_mp3.read_bytes()
    (folder / "truncated.mp3").write_bytes(truncated[:1500])  # the first 0.1 s of frames
    rng = np.random.default_rng(0)
    (folder / "corrupt.ogg").write_bytes(b"OggS" + rng.bytes(4000))
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("meeting notes, not audio\n" * 40)
    write_wav(folder / "silence.wav", np.zeros(16_000 * 5, dtype=np.float32))
    write_wav(folder / "blip.wav", speech[: int(0.2 * 16_000)])
    # 384 kHz: the first 4 s of speech, upsampled.
    fast = np.interp(np.arange(0, 4 * 16_000, 16_000 / 384_000), np.arange(len(speech)), speech)
    raw_wav(folder / "huge_rate.wav", fast, 384_000, 1)
    eight = np.zeros((16_000 * 4, 8))
    eight[:, 3] = speech[: 16_000 * 4]
    raw_wav(folder / "eight_channels.wav", eight.reshape(-1), 16_000, 8)
    (folder / "latin1.vtt").write_bytes(
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Zoë>Café pricing\n".encode("latin-1")
    )
    (folder / "broken.vtt").write_text("WEBVTT\n\n00:00:01.000 --> banana\n<v A>Hello\n")
    (folder / "broken.srt").write_text("1\n00:00:01,000 -> nonsense\nHello\n")
    (folder / "broken.json").write_text('{"utterances": [{"speaker": "A", "start": "soon"')
    (folder / "slides.pptx").write_bytes(b"PK\x03\x04 not a call")
    expected = {
        "truncated.mp3": r"not a readable audio|too short|no speech",
        "corrupt.ogg": r"not a readable audio",
        "empty.wav": r"empty file",
        "notes.wav": r"not a readable audio",
        "silence.wav": r"silence only",
        "blip.wav": r"too short",
        "latin1.vtt": r"not UTF-8",
        "broken.vtt": r"malformed VTT|no spoken text",
        "broken.srt": r"malformed SRT|no spoken text",
        "broken.json": r"malformed JSON",
        "slides.pptx": r"unsupported file type",
        "missing.wav": r"file not found",
    }
    return folder, expected, {"good_call.mp3", "good_meeting.vtt", "huge_rate.wav",
                              "eight_channels.wav"}  # fmt: skip


@pytest.mark.slow
def test_a_batch_of_bad_files_stores_the_good_ones(tmp_path, corpus):
    folder, expected, good = corpus
    db = tmp_path / "batch.duckdb"
    files = [folder / name for name in sorted(expected)] + [folder / name for name in sorted(good)]
    result = CliRunner().invoke(
        cli, ["ingest", *map(str, files), "--db", str(db), "--rep", INJECTION, "--account",
              "<script>alert(1)</script>"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output  # some files failed, and it says so
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.splitlines()
    for name, reason in expected.items():
        line = next((line for line in lines if name in line and "error" in line), None)
        assert line is not None, f"no error line for {name}:\n{result.output}"
        assert re.search(reason, line), result.output
    store = Store(db)
    stored = {Path(row["source_path"]).name: row for row in store._read("SELECT * FROM calls")}
    for name in good:
        assert stored[name]["status"] == "ok", stored[name]
        assert stored[name]["rep"] == INJECTION  # kept as text, never run as SQL
    assert store.table_counts()["calls"] == len(stored)
    assert f"{len(good)} ingested" in result.output
    # The 8-channel file is mixed down, not rejected; the 384 kHz file is resampled.
    assert stored["eight_channels.wav"]["duration_s"] == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        ("name,rep\ngood_meeting.vtt,x\n", "no 'file' column"),
        ("file,rep\nnot_here.vtt,Priya\n", "not_here.vtt"),
    ],
)
def test_a_bad_manifest_is_one_line(tmp_path, manifest, reason):
    shutil.copy(DATA / "meeting.vtt", tmp_path / "good_meeting.vtt")
    (tmp_path / "manifest.csv").write_text(manifest)
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--db", str(tmp_path / "m.duckdb")])
    assert result.exit_code != 0
    assert reason in result.output
    assert "Traceback" not in result.output
