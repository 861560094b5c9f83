"""Every benchmark in one run, each in a process of its own:

    python -m bench [--quick] [--only NAME ...]

Prints each benchmark's output as it goes, then rewrites the "Latest run" section at the top of
bench/results.md with the machine, the versions, the date, each command and what it printed
(with the process's peak RSS). The analysis below that section is written by hand and kept.
`--quick` runs smaller sizes (a smoke test, minutes instead of half an hour).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.md"
START, END = "<!-- python -m bench: start -->", "<!-- python -m bench: end -->"
# name: (module and arguments, the same with --quick)
BENCHES = {
    "ingest-3min": (["bench.ingest_speed", "--rounds", "3"],
                    ["bench.ingest_speed", "--rounds", "1"]),
    "ingest-30min": (["bench.ingest_speed", "--rounds", "1", "--minutes", "30"],
                     ["bench.ingest_speed", "--rounds", "1", "--minutes", "6"]),
    "memory-60min": (["bench.memory", "--minutes", "60"], ["bench.memory", "--minutes", "10"]),
    "tagging": (["bench.tagging_speed"], ["bench.tagging_speed", "--rounds", "1"]),
    "scale": (["bench.scale", "--calls", "100000"], ["bench.scale", "--calls", "5000"]),
    "batch": (["bench.batch"], ["bench.batch", "--calls", "4", "--workers", "1", "2"]),
}  # fmt: skip
PACKAGES = ("faster-whisper", "ctranslate2", "duckdb", "torch", "transformers", "spacy",
            "streamlit", "pandas", "numpy", "resemblyzer")  # fmt: skip


def machine() -> list[str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())  # fmt: skip
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return [
        f"Date: {dt.datetime.now():%Y-%m-%d %H:%M}. Machine: {cpu}, {os.cpu_count()} cores, "
        f"{memory:.0f} GiB, {platform.system()} {platform.release()}.",
        f"Python {platform.python_version()}; " + ", ".join(versions) + ".",
    ]


def run(module_args: list[str]) -> tuple[str, float, int, int]:
    """(output, wall s, peak RSS bytes, exit code) of `python -m MODULE ARGS`, echoed live."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", *module_args], cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    lines = []
    for line in process.stdout:  # drained as it comes, so the child never blocks on a pipe
        print(line, end="", flush=True)
        if "[ctranslate2]" not in line:  # its float16 -> float32 notice, every process
            lines.append(line)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return "".join(lines), time.perf_counter() - started, usage.ru_maxrss * 1024, process.returncode


def write_results(header: list[str], sections: dict[str, list[str]]) -> None:
    """Replace the latest-run block; with `--only`, only the sections of the benchmarks run
    (each says when it ran), keeping the others."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    before, found, after = text, {}, ""
    if START in text and END in text:
        before, rest = text.split(START, 1)
        block, after = rest.split(END, 1)
        for part in block.split("\n### ")[1:]:
            found[part.split(":", 1)[0]] = ("### " + part).rstrip("\n").split("\n") + [""]
    else:
        title, _, after = text.partition("\n")
        before = f"{title}\n\n"
    found.update(sections)
    ordered = [line for name in BENCHES if name in found for line in found[name]]
    block = "\n".join([START, "## Latest run (`python -m bench`)", "", *header, "", *ordered,
                       END])  # fmt: skip
    RESULTS.write_text(before + block + after, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller sizes: a smoke test.")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="Just these.")
    args = parser.parse_args()
    sections, failed = {}, 0
    for name in args.only or BENCHES:
        module_args = BENCHES[name][1 if args.quick else 0]
        command = "python -m " + " ".join(module_args)
        print(f"\n=== {name}: {command}", flush=True)
        output, wall, rss, code = run(module_args)
        failed += code != 0
        state = "" if code == 0 else f", FAILED (exit {code})"
        sections[name] = [f"### {name}: `{command}`", "",
                          f"Run {dt.datetime.now():%Y-%m-%d %H:%M}: {wall:.0f} s wall, "
                          f"peak RSS {rss / 2**30:.2f} GiB{state}.", "",
                          "```text", output.rstrip(), "```", ""]  # fmt: skip
    write_results(machine() + (["(`--quick`: smaller sizes.)"] if args.quick else []), sections)
    print(f"\nwrote {RESULTS}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
