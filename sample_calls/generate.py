"""Build the sample calls from scripts.yaml: audio via Piper, transcripts as WebVTT, manifest.csv.

Run from the repository root after `pip install -e '.[test]'`:

    python sample_calls/generate.py
"""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from analyzer.synth import encode, synthesize_call

HERE = Path(__file__).parent
REP_NAME_IN_VTT = "{rep}"
CUSTOMER_NAME_IN_VTT = "Customer"


def vtt_time(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"00:{int(minutes):02d}:{rest:06.3f}"


def write_vtt(path: Path, truth, rep: str) -> None:
    lines = ["WEBVTT", ""]
    for role, start, end, text in truth:
        speaker = rep if role == "rep" else CUSTOMER_NAME_IN_VTT
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}", f"<v {speaker}>{text}</v>", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    calls = yaml.safe_load((HERE / "scripts.yaml").read_text(encoding="utf-8"))["calls"]
    rows = []
    for call in calls:
        path = HERE / call["file"]
        stereo, truth = synthesize_call([tuple(turn) for turn in call["turns"]])
        if path.suffix == ".vtt":
            write_vtt(path, truth, call["rep"])
        elif call.get("channels") == "stereo":
            encode(path, stereo)
        else:
            encode(path, stereo.sum(axis=1))
        rows.append(
            {
                "file": call["file"],
                "call_id": "",
                "rep": call["rep"],
                "account": call["account"],
                "call_type": call["call_type"],
                "date": call["date"],
                "title": call["title"],
            }
        )
        print(f"wrote {path.name}")
    with (HERE / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
