"""Competitor names heard from audio: recall, invented names, WER and ingest time per ASR option.

    python -m bench.names_from_audio [--option NAME=MODEL[:noprompt]] ...

Every option ingests the 24 sample calls (whole pipeline: ASR, speakers, bleed, tagging) into a
database of its own, and, when `../shared` is beside the checkout, the public recordings of
`../shared/data/real/` (none of which names a tracked vendor: every name found there is
invented) and the reference call. Per option:
- name recall and precision per mention, against the sample calls' gold labels (each name in
  each utterance once), keyword trackers alone so that only what ASR heard counts;
- names invented on the public recordings;
- WER against the gold text (sample calls) and the script (reference call);
- wall time of the ingest.
Default options: tiny.en (bundled) with and without the vocabulary prompt. Add others with
`--option "base=/path/to/whisper-base"` (any faster-whisper model directory or name).
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
import time
from pathlib import Path

import jiwer

from analyzer.evaluate import NAMES_ROW, evaluate_stored, read_gold_call
from analyzer.pipeline import IngestOptions, Ingestor
from analyzer.sources import make_meta
from analyzer.store import Store
from analyzer.tagging import KeywordTagger
from analyzer.trackers import load_trackers

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_calls"
SHARED = ROOT.parent / "shared" / "data"
PUBLIC = [
    "real/aws_dual_channel_call/Auto_Repairs_40_stereo_L-agent_R-caller.flac",
    "real/aws_pca_samples/Sample1.mp3",
    "real/aws_pca_samples/Sample2.mp3",
    "real/aws_pca_samples/Auto0_agent_mono_8k.flac",
    "real/google_commercial_mono_call/commercial_mono.wav",
    "real/azure_two_speaker/katiesteve.wav",
    "real/ami_meeting_excerpt/ami_excerpt_4spk/mixture.wav",
    "real/ami_meeting_excerpt/sample_2spk/sample.wav",
]
REFERENCE = SHARED / "reference_call"


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split())


def sample_metas() -> list[tuple[Path, dict]]:
    with (SAMPLES / "manifest.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [(SAMPLES / row.pop("file"), row) for row in rows]


def run_option(name: str, model: str | None, prompt: bool) -> dict:
    trackers = load_trackers()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "names.duckdb")
        store.migrate()
        ingestor = Ingestor(store, trackers, IngestOptions(model=model, smart=False))
        if not prompt:
            ingestor.prompt = None
        start = time.perf_counter()
        for path, row in sample_metas():
            ingestor.ingest(path, make_meta(**row))
        seconds = time.perf_counter() - start
        gold = [read_gold_call(p) for p in sorted((SAMPLES / "gold").glob("*.json"))]
        scores = evaluate_stored(store, gold, ["competitor"], KeywordTagger(trackers), trackers)
        names = next(s for s in scores if s.category == NAMES_ROW)
        truth, heard = [], []
        for call in gold:
            truth.append(words(" ".join(u.text for u in call.utterances)))
            spoken = sorted(store.utterances(call.call_id), key=lambda u: u.start_s)
            heard.append(words(" ".join(u.text for u in spoken)))
        result = {
            "option": name,
            "recall": names.recall,
            "precision": names.precision,
            "found": names.true_positives,
            "of": names.support,
            "invented_in_samples": names.false_positives,
            "wer": jiwer.wer(truth, heard),
            "seconds": seconds,
        }
        if SHARED.exists():
            result.update(_public(ingestor, trackers))
    return result


def _public(ingestor: Ingestor, trackers) -> dict:
    invented = []
    for relative in PUBLIC:
        outcome = ingestor.ingest(SHARED / relative, make_meta(call_type="cs"))
        if outcome.status != "ok":
            continue
        for m in KeywordTagger(trackers).tag(ingestor.store.utterances(outcome.call_id)):
            if m.category == "competitor":
                invented.append(f"{m.term} ({Path(relative).stem}: {m.snippet[:60]})")
    outcome = ingestor.ingest(REFERENCE / "call_piper2_stereo16k.flac", make_meta(rep="Mark"))
    heard = " ".join(u.text for u in ingestor.store.utterances(outcome.call_id))
    script = (REFERENCE / "script.txt").read_text(encoding="utf-8")
    return {"invented_in_public": invented, "reference_wer": jiwer.wer(words(script), words(heard))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--option", action="append", default=[], help="NAME=MODEL[:noprompt]")
    args = parser.parse_args()
    options = [("tiny.en + prompt", None, True), ("tiny.en, no prompt", None, False)]
    for spec in args.option:
        name, _, model = spec.partition("=")
        model, _, flag = model.partition(":")
        options.append((name, model, flag != "noprompt"))
    print("| ASR | names found (recall) | precision | invented: samples / public | WER samples "
          "| WER reference | ingest s |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for name, model, prompt in options:
        r = run_option(name, model, prompt)
        public = r.get("invented_in_public")
        print(
            f"| {name} | {r['found']}/{r['of']} ({r['recall']:.2f}) | {r['precision']:.2f} | "
            f"{r['invented_in_samples']} / {len(public) if public is not None else '-'} | "
            f"{100 * r['wer']:.1f} % | "
            f"{100 * r['reference_wer']:.1f} % | {r['seconds']:.0f} |"
            if "reference_wer" in r
            else f"| {name} | {r['found']}/{r['of']} ({r['recall']:.2f}) | "
            f"{r['precision']:.2f} | {r['invented_in_samples']} / - | {100 * r['wer']:.1f} % "
            f"| - | {r['seconds']:.0f} |",
            flush=True,
        )
        for line in public or ():
            print(f"  invented: {line}")


if __name__ == "__main__":
    main()
