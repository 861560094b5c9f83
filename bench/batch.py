"""Batch throughput: `analyzer ingest FOLDER --workers N` for several N, side by side.

    python -m bench.batch [--workers 1 2 3] [--calls 24]

Each run ingests the bundled sample calls (their manifest, the first `--calls` of them) into a
fresh database, in a process of its own. Reported per N: wall time, calls and audio hours per
hour, speed-up over one worker, and how busy the cores were: the CPU seconds of the whole
process tree (`wait4` counts every worker it reaped) over wall time x cores. 100 % means both
cores computed the whole time.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

import duckdb

from analyzer.config import worker_threads
from bench.memory import measured

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_calls"


def sample_folder(calls: int, out: Path) -> None:
    """The first `calls` sample recordings and a manifest listing them, in `out`."""
    with (SAMPLES / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:calls]
    out.mkdir()
    for row in rows:
        shutil.copy(SAMPLES / row["file"], out / row["file"])
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def ingest(folder: Path, db: Path, workers: int) -> tuple[float, float, int]:
    """(wall s, CPU s of the process tree, peak RSS of its largest process) of one batch."""
    command = [sys.executable, "-m", "analyzer.cli", "ingest", str(folder), "--db", str(db),
               "--workers", str(workers)]  # fmt: skip
    log = db.with_suffix(".log")
    code, wall, usage = measured(command, log)
    assert code == 0, f"ingest --workers {workers} exited with {code}: {log.read_text()[-2000:]}"
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--calls", type=int, default=24)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "calls"
        sample_folder(args.calls, folder)
        print(f"{args.calls} sample calls, {cores} cores; each N in a fresh database", flush=True)
        print("| workers | threads each | wall s | calls/hour | audio h/hour | speed-up "
              "| cores busy | largest process |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        first = None
        for workers in args.workers:
            db = Path(scratch) / f"batch{workers}.duckdb"
            wall, cpu, rss = ingest(folder, db, workers)
            with duckdb.connect(str(db), read_only=True) as con:
                calls, audio_s = con.execute(
                    "SELECT count(*), sum(duration_s) FROM calls WHERE status = 'ok'"
                ).fetchone()
            assert calls == args.calls, f"{calls} of {args.calls} calls stored"
            first = first or wall
            threads = worker_threads(workers)
            print(f"| {workers} | {threads} | {wall:.0f} | {calls * 3600 / wall:.0f} | "
                  f"{audio_s / wall:.1f} | {first / wall:.2f}x | {cpu / (wall * cores):.0%} | "
                  f"{rss / 2**30:.2f} GiB |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
