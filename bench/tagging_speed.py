"""Tagging throughput in utterances/s: the keyword pass and the semantic pass (ONNX and PyTorch
runtimes side by side), on the sample corpus's 755 gold utterances.

    python -m bench.tagging_speed
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from analyzer.embeddings import load_embedder
from analyzer.records import Utterance
from analyzer.smart import SmartTagger
from analyzer.smart import load as load_smart
from analyzer.tagging import KeywordTagger
from analyzer.trackers import load_trackers

ROOT = Path(__file__).resolve().parents[1]


def utterances() -> list[Utterance]:
    found = []
    for path in sorted((ROOT / "sample_calls" / "gold").glob("*.json")):
        for item in json.loads(path.read_text())["utterances"]:
            found.append(Utterance(item["speaker"], item["role"], item["start"], item["end"],
                                   item["text"]))  # fmt: skip
    return found


def rate(tagger, texts, rounds: int = 3) -> float:
    tagger.tag(texts[:32])  # warm up
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        tagger.tag(texts)
        best = max(best, len(texts) / (time.perf_counter() - started))
    return best


def main() -> None:
    texts = utterances()
    print(f"{len(texts)} utterances")
    print(
        f"keyword pass (spaCy + matching):   {rate(KeywordTagger(load_trackers()), texts):7.0f} /s"
    )
    for runtime in ("onnx", "torch"):
        tagger = SmartTagger(load_smart(), load_embedder(runtime))
        print(f"semantic pass, {runtime:5} runtime:     {rate(tagger, texts):7.0f} /s")


if __name__ == "__main__":
    main()
