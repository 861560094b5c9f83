"""Ingest speed and WER: `analyzer ingest` end to end vs plain faster-whisper, side by side.

    python -m bench.ingest_speed [AUDIO] [--script SCRIPT.txt] [--rounds 3] [--minutes 30]

Defaults to the shared 156 s reference call when `../shared` is beside the checkout, else to the
bundled sample discovery call (no script, so no WER). Both contenders get the same file, the same
model weights (loaded once each), and alternate rounds; the medians are compared. Plain runs in a
process of its own, as a user's would: the allocator setting ours makes for ASR
(analyzer/transcribe.py) is process-wide and would slow plain down too.

- plain: `WhisperModel(path).transcribe(file)` with faster-whisper's defaults
  (compute type as stored, beam 5, sequential, no word timestamps), on the mono mix;
- ours: `Ingestor.ingest(file)`: decode, stereo sides, batched int8 ASR with word timestamps and
  the vocabulary prompt, tagging and the DuckDB commit.

What is not ASR is each `ours` run's time less that of its own call to faster-whisper (both
sides), so decoding counts as not ASR and no second run's noise enters the figure.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import jiwer
from faster_whisper import WhisperModel

from analyzer import pipeline
from analyzer.pipeline import IngestOptions, Ingestor
from analyzer.sources import load_audio, make_meta
from analyzer.store import Store
from analyzer.trackers import load_trackers
from analyzer.transcribe import load_model, resolve_model
from bench.memory import long_call

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "reference_call"
NUMBER_WORDS = {
    "60": "sixty", "50": "fifty", "15": "fifteen", "4": "four", "2": "two", "$60": "sixty dollars",
    "15%": "fifteen percent",
}  # fmt: skip


def normalize(text: str) -> str:
    words = [NUMBER_WORDS.get(word, word) for word in text.split()]
    text = " ".join(words).lower().replace("o'clock", "oclock")
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text).split())


@lru_cache(maxsize=1)
def plain_model() -> WhisperModel:
    return WhisperModel(resolve_model(None))


def plain_load() -> float:
    """Seconds to load plain's model (in plain's process)."""
    started = time.perf_counter()
    plain_model()
    return time.perf_counter() - started


def plain(path: Path) -> tuple[float, str]:
    """Seconds and text of one plain run (in plain's process)."""
    started = time.perf_counter()
    segments, _ = plain_model().transcribe(str(path))
    text = " ".join(segment.text.strip() for segment in segments)
    return time.perf_counter() - started, text


def ours(ingestor: Ingestor, path: Path) -> str:
    outcome = ingestor.ingest(path, make_meta(rep="Mark", account="Bench"))
    assert outcome.status == "ok", outcome.detail
    utterances = ingestor.store.utterances(outcome.call_id)
    return " ".join(u.text for u in sorted(utterances, key=lambda u: u.start_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_audio = REFERENCE / "call_piper2_stereo16k.flac"
    if not default_audio.exists():
        default_audio = ROOT / "sample_calls" / "2026-09-03_acme-01.ogg"
    parser.add_argument("audio", nargs="?", type=Path, default=default_audio)
    parser.add_argument("--script", type=Path, default=REFERENCE / "script.txt")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--minutes", type=float, help="Repeat the file (and its script) to about this long."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        script = args.script.read_text() if args.script.exists() else None
        if args.minutes:
            longer = Path(folder) / f"{args.audio.stem}_x.flac"
            repeats = long_call(args.audio, args.minutes, longer)
            args.audio, script = longer, script and " ".join([script] * repeats)
        compare(args.audio, script, args.rounds)


@contextlib.contextmanager
def asr_timed(times: list[float]) -> Iterator[None]:
    """Time the ASR inside `ours` (the pipeline's call to faster-whisper, both sides), so what
    is not ASR comes from the same run rather than from the difference of two runs."""
    real = pipeline.transcribe

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            times.append(time.perf_counter() - started)

    pipeline.transcribe = timed
    try:
        yield
    finally:
        pipeline.transcribe = real


def compare(audio: Path, script: str | None, rounds: int) -> None:
    duration = load_audio(audio).duration_s
    spawn = multiprocessing.get_context("spawn")
    with (
        ProcessPoolExecutor(1, mp_context=spawn) as plain_process,
        tempfile.TemporaryDirectory() as folder,
    ):
        plain_loaded = plain_process.submit(plain_load).result()
        started = time.perf_counter()
        load_model(None)
        ingestor = Ingestor(
            Store(Path(folder) / "bench.duckdb"), load_trackers(), IngestOptions(force=True)
        )
        ingestor.store.migrate()
        our_load = time.perf_counter() - started
        times = {"plain": [], "ours": [], "asr": []}
        texts = {}
        for _ in range(rounds):
            seconds, texts["plain"] = plain_process.submit(plain, audio).result()
            times["plain"].append(seconds)
            started = time.perf_counter()
            with asr_timed(times["asr"]):
                texts["ours"] = ours(ingestor, audio)
            times["ours"].append(time.perf_counter() - started)

    reference = normalize(script) if script else None
    print(f"file: {audio.name} ({duration:.1f} s), rounds: {rounds}")
    print(f"model load: plain {plain_loaded:.2f} s, ours (ASR + spaCy + trackers) {our_load:.2f} s")
    print(f"{'':6} {'median s':>9} {'RTF':>7} {'WER':>7}")
    for name in ("plain", "ours"):
        median = statistics.median(times[name])
        wer = f"{jiwer.wer(reference, normalize(texts[name])):.1%}" if reference else "n/a"
        print(f"{name:6} {median:9.2f} {median / duration:7.3f} {wer:>7}")
    ratio = statistics.median(times["ours"]) / statistics.median(times["plain"])
    print(f"ours / plain time: {ratio:.2f} (target <= 0.6)")
    shares = [(whole - asr) / asr for whole, asr in zip(times["ours"], times["asr"], strict=True)]
    share = statistics.median(shares)
    asr = statistics.median(times["asr"])
    print(f"ours without ASR (decode, speakers, tagging, metrics, store), same runs: "
          f"{share * asr:.2f} s = {share:.1%} of ASR's {asr:.2f} s (target <= 10%)")  # fmt: skip


if __name__ == "__main__":
    main()
