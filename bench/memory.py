"""Peak memory (RSS) of `analyzer ingest` on one long call, in a process of its own.

    python -m bench.memory [--minutes 60] [AUDIO]

The call is AUDIO (default: the shared 156 s reference call, else a bundled sample call)
repeated to `--minutes`, written as stereo FLAC. Peak RSS is the kernel's figure for the ingest
process (`wait4`'s ru_maxrss), model loading included. Target: under 1.5 GB for 60 minutes.

The long call is written by a process of its own: a child's ru_maxrss counts what it inherited
from its parent before it started the ingest, and a parent that had held the hour of audio
itself (2.1 GB) would set the figure instead of the ingest.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from analyzer.sources import encode, load_audio

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "reference_call" / "call_piper2_stereo16k.flac"
SAMPLE = ROOT / "sample_calls" / "2026-09-03_acme-01.ogg"


def long_call(source: Path, minutes: float, out: Path) -> int:
    """`source` repeated whole to about `minutes`, as stereo FLAC at `out`; returns how many
    times it was repeated (so a script can be repeated as often)."""
    audio = load_audio(source)
    channels = audio.channels if len(audio.channels) == 2 else audio.channels * 2
    stereo = np.stack(channels, axis=1)
    repeats = max(1, round(minutes * 60 / audio.duration_s))
    encode(out, np.tile(stereo, (repeats, 1)))
    return repeats


def measured(
    command: list[str], log: Path | None = None
) -> tuple[int, float, resource.struct_rusage]:
    """(exit code, wall seconds, resource usage) of `command` run to its end, its output to
    `log` (else nowhere). The usage counts every child it reaped (CPU times summed, ru_maxrss
    the largest process's peak)."""
    started = time.perf_counter()
    with open(log or os.devnull, "wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
    return os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("audio", nargs="?", type=Path,
                        default=REFERENCE if REFERENCE.exists() else SAMPLE)  # fmt: skip
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        call = Path(folder) / "long_call.flac"
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as writer:
            repeats = writer.submit(long_call, args.audio, args.minutes, call).result()
        seconds = repeats * load_audio(args.audio).duration_s
        command = [sys.executable, "-m", "analyzer.cli", "ingest", str(call), "--db",
                   str(Path(folder) / "memory.duckdb"), "--rep", "Mark Jones"]  # fmt: skip
        code, wall, usage = measured(command)
        rss = usage.ru_maxrss * 1024
    assert code == 0, f"ingest exited with {code}"
    print(f"call: {args.audio.name} repeated to {seconds / 60:.0f} min (stereo FLAC)")
    print(f"analyzer ingest: {wall:.0f} s wall (RTF {wall / seconds:.3f}), "
          f"peak RSS {rss / 2**30:.2f} GiB (target < 1.5 GB)")  # fmt: skip


if __name__ == "__main__":
    main()
