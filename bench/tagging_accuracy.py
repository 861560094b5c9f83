"""Tracker accuracy, keyword vs smart vs combined, on labeled text the trackers never trained on.

    python -m bench.tagging_accuracy [--audio-db demo.duckdb]

Labeled sets (utterance level, P / R / F1 per category):
- dev, looked at while building the trackers and fitting the calibration:
  `models/labeled/labeled_dev.jsonl` (110 turns) and `models/labeled/labeled_calls_a.jsonl`
  (8 calls, 281 turns);
- held out, never looked at turn by turn: `tests/data/labeled_heldout.jsonl` (110 turns),
  `tests/data/labeled_calls_b.jsonl` (8 calls, 286 turns) and the 24 sample calls' gold
  transcripts (755 turns). Every set was written by someone who never saw the examples.
With `--audio-db`, the sample calls are also scored from their ASR transcripts in that database
(`analyzer demo --no-app` builds it). When `../shared` is beside the checkout, the 156 s
reference call is scored from its script and from its stereo audio through the whole ingest.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import replace
from pathlib import Path

from analyzer.combined import CombinedTagger, load_smart_tagger
from analyzer.evaluate import (
    GoldCall,
    GoldUtterance,
    evaluate_stored,
    evaluate_tagger,
    gold_contexts,
    read_gold,
    read_gold_call,
    tag_gold,
)
from analyzer.pipeline import Ingestor
from analyzer.sources import make_meta
from analyzer.store import Store
from analyzer.tagging import KeywordTagger
from analyzer.trackers import Tracker, TrackerSet, load_trackers

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
LABELED = ROOT / "models" / "labeled"  # dev: the calibration is fitted on these
HELD_OUT = ("labeled_heldout", "labeled_calls_b")
REFERENCE = ROOT.parent / "shared" / "data" / "reference_call"
CATEGORIES = ["competitor", "pricing", "demo", "pain_point", "churn_signal"]
ROLE_OF = {"REP": "rep", "CUS": "customer"}


def taggers(gold: list[GoldUtterance] = ()) -> dict[str, object]:
    """Keyword, smart and combined taggers; the keyword list also names the competitors the
    gold labels name (docs/topics.md: the list decides what is a vendor, and the writers of
    the labeled calls sold other products, with other competitors)."""
    keyword = KeywordTagger(with_gold_names(load_trackers(), gold))
    smart = load_smart_tagger()
    return {"keyword": keyword, "smart": smart, "combined": CombinedTagger(keyword, smart)}


def with_gold_names(trackers: TrackerSet, gold: list[GoldUtterance]) -> TrackerSet:
    """`trackers` plus a competitor tracker for each name in the gold labels it lacks."""
    known = {t.term.lower() for t in trackers.trackers if t.is_name}
    names = sorted({name for u in gold for name in u.competitors if name.lower() not in known})
    extra = tuple(
        Tracker(name, "competitor", (name.lower(),), name, is_name=True) for name in names
    )
    return replace(trackers, trackers=trackers.trackers + extra)


def table(title: str, results: dict[str, list]) -> str:
    names = list(results)
    lines = [f"#### {title}", "", "| category | support | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]  # fmt: skip
    for row in results["keyword"]:
        cells = []
        for name in names:
            score = next(s for s in results[name] if s.category == row.category)
            covered = name != "smart" or row.category not in ("competitor", "competitor names")
            cells.append(f"{score.precision:.2f} / {score.recall:.2f} / {score.f1:.2f}"
                         if covered else "–")  # fmt: skip
        lines.append(f"| {row.category} | {row.support} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def sample_gold() -> list[GoldCall]:
    return [
        read_gold_call(path) for path in sorted((ROOT / "sample_calls" / "gold").glob("*.json"))
    ]


def as_turns(calls: list[GoldCall]) -> list[GoldUtterance]:
    """The calls' gold turns, each knowing its call so replies get their context."""
    return [replace(u, call=call.call_id) for call in calls for u in call.utterances]


def reference_call() -> GoldCall:
    turns = json.loads((REFERENCE / "call_piper2_turns.json").read_text())
    labels = json.loads((ROOT / "bench" / "reference_call_labels.json").read_text())["labels"]
    utterances = tuple(
        GoldUtterance(
            f"reference#{index}",
            ROLE_OF[turn["speaker"]],
            turn["text"],
            frozenset(labels.get(str(index), {}).get("labels", ())),
            frozenset(labels.get(str(index), {}).get("competitors", ())),
            start_s=turn["start"],
            end_s=turn["end"],
            call="reference",
        )
        for index, turn in enumerate(turns)
    )
    # a rep's first call with a prospect (README.md there): a sales call, no earlier CS calls
    return GoldCall("reference", REFERENCE / "call_piper2_turns.json", utterances, "sales")


def calibration_table(held_out: dict, sample_turns: list[GoldUtterance], contexts) -> str:
    """How well the probabilities say how often a moment is right, on the held-out text sets:
    per category and band of probability, the mentions, their mean probability and the share
    that were right (the gold utterance carries the category)."""
    bands = ((0.5, 0.7), (0.7, 0.9), (0.9, 1.01))
    counts: dict[tuple[str, tuple], list[tuple[float, bool]]] = {}
    sets = [(gold, None) for gold in held_out.values()] + [(sample_turns, contexts)]
    for gold, known in sets:
        tagger = taggers(gold)["combined"]
        for truth, mentions in zip(gold, tag_gold(tagger, gold, known), strict=True):
            for m in mentions:
                band = next(b for b in bands if b[0] <= m.probability < b[1])
                counts.setdefault((m.category, band), []).append(
                    (m.probability, m.category in truth.labels)
                )
    lines = ["#### calibration on the held-out text sets (combined, every mention kept)", "",
             "| category | probability | mentions | mean probability | right |",
             "|---|---|---|---|---|"]  # fmt: skip
    for category in CATEGORIES:
        for band in bands:
            found = counts.get((category, band), [])
            if found:
                mean = sum(p for p, _ in found) / len(found)
                right = sum(r for _, r in found) / len(found)
                lines.append(f"| {category} | {band[0]:.1f}-{min(band[1], 1):.1f} | "
                             f"{len(found)} | {mean:.2f} | {right:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--audio-db", type=Path, help="the sample calls ingested from audio")
    args = parser.parse_args()
    methods = taggers()
    report = []

    def text_table(title: str, gold: list[GoldUtterance], contexts=None) -> None:
        results = {
            n: evaluate_tagger(t, gold, CATEGORIES, contexts) for n, t in taggers(gold).items()
        }
        report.append(table(f"{title} ({len(gold)} turns, text)", results))

    for split in ("labeled_dev", "labeled_calls_a"):
        text_table(f"dev: {split}", read_gold(LABELED / f"{split}.jsonl"))
    held_out = {split: read_gold(DATA / f"{split}.jsonl") for split in HELD_OUT}
    for split, gold in held_out.items():
        text_table(f"held out: {split}", gold)
    calls = sample_gold()
    trackers = load_trackers()
    contexts = gold_contexts(calls, trackers)
    text_table("held out: sample calls, gold transcripts", as_turns(calls), contexts)
    report.append(calibration_table(held_out, as_turns(calls), contexts))
    if args.audio_db:
        store = Store(args.audio_db)
        results = {
            n: evaluate_stored(store, calls, CATEGORIES, t, trackers) for n, t in methods.items()
        }
        report.append(table("held out: sample calls from audio (tiny.en ASR)", results))
    if REFERENCE.exists():
        call = reference_call()
        text_table("reference call, script", list(call.utterances), gold_contexts([call], trackers))
        with tempfile.TemporaryDirectory() as folder:
            ingestor = Ingestor(Store(Path(folder) / "ref.duckdb"), load_trackers())
            ingestor.store.migrate()
            audio = REFERENCE / "call_piper2_stereo16k.flac"
            ingestor.ingest(audio, make_meta(call_id="reference", rep="Mark", call_type="sales"))
            results = {
                n: evaluate_stored(ingestor.store, [call], CATEGORIES, t, trackers)
                for n, t in methods.items()
            }
        report.append(table("reference call from stereo audio (tiny.en ASR)", results))
    print("\n".join(report))


if __name__ == "__main__":
    main()
