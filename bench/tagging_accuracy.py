"""Tracker accuracy: labeled utterances (tagging alone) and the reference call from audio.

    python -m bench.tagging_accuracy

1. `tests/data/labeled_dev.jsonl` and `labeled_heldout.jsonl`: 220 call utterances written and
   labeled independently of the tracker lists; the lists were tuned on the dev half only.
2. The shared 156 s reference call (when `../shared` is beside the checkout), scored per turn
   against `bench/reference_call_labels.json`: once from its script text (tagging alone) and once
   from the stereo audio through the whole ingest (ASR errors included). A mention counts for the
   turn whose side and time span contain it.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from analyzer.evaluate import GoldUtterance, evaluate_tagger, read_gold, score
from analyzer.pipeline import IngestOptions, Ingestor
from analyzer.sources import make_meta
from analyzer.store import Store
from analyzer.tagging import KeywordTagger
from analyzer.trackers import load_trackers

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "data" / "reference_call"
CATEGORIES = ["competitor", "pricing", "demo", "pain_point", "churn_signal"]
ROLE_OF = {"REP": "rep", "CUS": "customer"}


def table(title: str, scores) -> str:
    lines = [f"#### {title}", "", "| category | precision | recall | F1 | support |",
             "|---|---|---|---|---|"]  # fmt: skip
    for row in scores:
        lines.append(f"| {row.category} | {row.precision:.2f} | {row.recall:.2f} | "
                     f"{row.f1:.2f} | {row.support} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def reference_gold() -> list[GoldUtterance]:
    turns = json.loads((REFERENCE / "call_piper2_turns.json").read_text())
    labels = json.loads((ROOT / "bench" / "reference_call_labels.json").read_text())["labels"]
    return [
        GoldUtterance(
            str(index),
            ROLE_OF[turn["speaker"]],
            turn["text"],
            frozenset(labels.get(str(index), {}).get("labels", ())),
            frozenset(labels.get(str(index), {}).get("competitors", ())),
        )
        for index, turn in enumerate(turns)
    ]


def from_audio(tagger: KeywordTagger, gold: list[GoldUtterance]):
    turns = json.loads((REFERENCE / "call_piper2_turns.json").read_text())
    with tempfile.TemporaryDirectory() as folder:
        ingestor = Ingestor(Store(Path(folder) / "acc.duckdb"), tagger.trackers, IngestOptions())
        ingestor.tagger = tagger
        ingestor.store.migrate()
        outcome = ingestor.ingest(REFERENCE / "call_piper2_stereo16k.flac", make_meta(rep="Mark"))
        mentions = ingestor.store.mentions(call_id=outcome.call_id, limit=10_000)
    labels = [set() for _ in gold]
    names = [set() for _ in gold]
    for mention in mentions:
        for index, turn in enumerate(turns):
            same_side = ROLE_OF[turn["speaker"]] == mention["role"]
            if same_side and turn["start"] - 0.5 <= mention["start_s"] <= turn["end"] + 0.5:
                labels[index].add(mention["category"])
                if mention["category"] == "competitor":
                    names[index].add(mention["term"])
                break
    return score(gold, labels, names, CATEGORIES)


def main() -> None:
    tagger = KeywordTagger(load_trackers())
    report = []
    for split in ("labeled_dev", "labeled_heldout"):
        gold = read_gold(ROOT / "tests" / "data" / f"{split}.jsonl")
        report.append(table(f"{split} ({len(gold)} utterances, tagging alone)",
                            evaluate_tagger(tagger, gold)))  # fmt: skip
    if REFERENCE.exists():
        gold = reference_gold()
        report.append(table(f"reference call, script text ({len(gold)} turns)",
                            evaluate_tagger(tagger, gold)))  # fmt: skip
        report.append(table("reference call, from stereo audio (tiny.en)",
                            from_audio(tagger, gold)))  # fmt: skip
    print("\n".join(report))


if __name__ == "__main__":
    main()
