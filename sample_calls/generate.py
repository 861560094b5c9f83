"""Build the sample calls: audio from the scripts, manifest.csv, and gold labels per call.

Inputs: `scripts/<call_id>.yaml` (who says what, with labels), `voices.yaml` (pitch per person,
stereo/mono, phone line, noise per call); the story behind them is in README.md.
Outputs, all in this folder:
- `<date>_<call_id>.ogg` (stereo, Opus) or `.mp3` (mono): Piper speech, rep on the left channel;
- `manifest.csv` in the `analyzer ingest --manifest` format;
- `gold/<call_id>.json`: the call's metadata and every utterance's speaker, role, start/end,
  text, labels and competitor names - also a valid transcript for `analyzer ingest`.

Run from the repository root after `pip install -e '.[test]'` (a few minutes on 2 cores):

    python sample_calls/generate.py [CALL_ID ...]
"""

from __future__ import annotations

import csv
import json
import sys
import zlib
from pathlib import Path

import yaml

from analyzer.sources import encode
from analyzer.synth import PHONE_RATE, add_noise, synthesize_call, telephone

HERE = Path(__file__).resolve().parent
STEREO_BIT_RATE = 24_000  # Opus, speech: clear at a quarter of the size of 96 kbit/s
MONO_BIT_RATE = 24_000
TEMPO = 1.15  # Piper's default pace is brisk for a phone call
LABELS = {"competitor", "pricing", "demo", "pain_point", "churn_signal"}


def load_script(path: Path) -> dict:
    script = yaml.safe_load(path.read_text(encoding="utf-8"))
    for number, turn in enumerate(script["turns"], start=1):
        where = f"{path.name} turn {number}"
        if turn["who"] not in ("rep", "customer"):
            raise ValueError(f"{where}: who must be rep or customer")
        labels = set(turn.get("labels") or ())
        if not labels <= LABELS:
            raise ValueError(f"{where}: unknown labels {sorted(labels - LABELS)}")
        if bool(turn.get("competitors")) != ("competitor" in labels):
            raise ValueError(f"{where}: competitors must be given exactly with 'competitor'")
    return script


def audio_name(script: dict, channels: str) -> str:
    suffix = ".ogg" if channels == "stereo" else ".mp3"
    return f"{script['date']}_{script['call_id']}{suffix}"


def build(script: dict, voices: dict) -> dict:
    """Synthesize one call, write its audio, and return its gold record."""
    call_id = script["call_id"]
    sound = voices["calls"][call_id]
    seed = zlib.crc32(call_id.encode())
    turns = [(t["who"], t["text"], bool(t.get("overlap"))) for t in script["turns"]]
    stereo, truth = synthesize_call(
        turns,
        rep_cents=voices["people"][script["rep"]],
        customer_cents=voices["people"][script["customer"]],
        tempo=TEMPO,
        seed=seed,
    )
    samples = stereo if sound["channels"] == "stereo" else stereo.sum(axis=1)
    rate = 16_000
    if sound.get("phone"):
        samples, rate = telephone(samples), PHONE_RATE  # stored at 8 kHz, as phone systems do
    if sound.get("noise"):
        samples = add_noise(samples, sound["noise"], seed)
    name = audio_name(script, sound["channels"])
    bit_rate = STEREO_BIT_RATE if sound["channels"] == "stereo" else MONO_BIT_RATE
    encode(HERE / name, samples * 0.9, rate=rate, bit_rate=bit_rate)
    speakers = {"rep": script["rep"], "customer": script["customer"]}
    return {
        "call_id": call_id,
        "file": name,
        "rep": script["rep"],
        "account": script["account"],
        "call_type": script["call_type"],
        "date": str(script["date"]),
        "title": script["title"],
        "audio": sound,
        "utterances": [
            {
                "speaker": speakers[role],
                "role": role,
                "start": start,
                "end": end,
                "text": text,
                "labels": sorted(turn.get("labels") or ()),
                "competitors": sorted(turn.get("competitors") or ()),
            }
            for (role, start, end, text), turn in zip(truth, script["turns"], strict=True)
        ],
    }


def write_manifest(golds: list[dict]) -> None:
    columns = ["file", "call_id", "rep", "account", "call_type", "date", "title"]
    with (HERE / "manifest.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sorted(golds, key=lambda g: (g["date"], g["call_id"])))


def main(only: list[str]) -> None:
    voices = yaml.safe_load((HERE / "voices.yaml").read_text(encoding="utf-8"))
    (HERE / "gold").mkdir(exist_ok=True)
    scripts = [load_script(path) for path in sorted((HERE / "scripts").glob("*.yaml"))]
    for script in scripts:
        if only and script["call_id"] not in only:
            continue
        gold = build(script, voices)
        (HERE / "gold" / f"{script['call_id']}.json").write_text(
            json.dumps(gold, indent=1) + "\n", encoding="utf-8"
        )
        duration = gold["utterances"][-1]["end"]
        print(f"{gold['file']}: {len(gold['utterances'])} turns, {duration:.0f} s", flush=True)
    golds = [json.loads(path.read_text()) for path in sorted((HERE / "gold").glob("*.json"))]
    write_manifest(golds)


if __name__ == "__main__":
    main(sys.argv[1:])
