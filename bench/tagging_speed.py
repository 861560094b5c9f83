"""Tagging throughput in utterances/s on the sample corpus's 755 gold utterances: the keyword
pass, the semantic pass with each way of running MiniLM (PyTorch fp32, and bf16 where the CPU
has it), side by side in one run, and both passes combined as ingest runs them; plus how
closely they agree. (An int8 ONNX copy of MiniLM was measured in an earlier run and passed
over; it cannot carry the tuned adapter either.)

    python -m bench.tagging_speed [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from analyzer.combined import CombinedTagger
from analyzer.embeddings import load_embedder, native_bf16
from analyzer.records import Utterance
from analyzer.smart import SmartTagger, encoder_in_force, sentences
from analyzer.smart import load as load_smart
from analyzer.tagging import KeywordTagger
from analyzer.trackers import load_trackers

ROOT = Path(__file__).resolve().parents[1]


def calls() -> list[list[Utterance]]:
    found = []
    for path in sorted((ROOT / "sample_calls" / "gold").glob("*.json")):
        items = json.loads(path.read_text(encoding="utf-8"))["utterances"]
        found.append([Utterance(i["speaker"], i["role"], i["start"], i["end"], i["text"])
                      for i in items])  # fmt: skip
    return found


def rate(tagger, corpus: list[list[Utterance]], rounds: int) -> float:
    """Best of `rounds` utterances/s, tagging call by call as ingest does."""
    tagger.tag(corpus[0])  # warm up
    count = sum(len(call) for call in corpus)
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        for call in corpus:
            tagger.tag(call)
        best = max(best, count / (time.perf_counter() - started))
    return best


def embedders(in_use) -> dict[str, object]:
    """fp32, and bf16 where the CPU has it; the one ingest uses is not loaded twice."""
    found = {}
    for precision in ("fp32", "bf16") if native_bf16() else ("fp32",):
        same = precision == in_use.precision
        found[f"torch {precision}"] = in_use if same else load_embedder(precision, in_use.encoder)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    corpus = calls()
    count = sum(len(call) for call in corpus)
    pieces = [s.text for call in corpus for i, u in enumerate(call) for s in sentences(i, u.text)]
    print(f"{count} utterances in {len(corpus)} calls, {len(pieces)} sentences scored")
    encoder = encoder_in_force()
    started = time.perf_counter()
    in_use = load_embedder(encoder=encoder)
    print(f"embedding model load (once per process, encoder '{encoder}'): "
          f"{time.perf_counter() - started:.2f} s")  # fmt: skip
    keyword = KeywordTagger(load_trackers())
    rates = {"keyword pass (spaCy parse + matching)": rate(keyword, corpus, rounds)}
    runtimes = embedders(in_use)
    for name, embedder in runtimes.items():
        rates[f"semantic pass, {name}"] = rate(SmartTagger(load_smart(), embedder), corpus, rounds)
    combined = CombinedTagger(keyword, SmartTagger(load_smart(), in_use))
    rates[f"combined, as ingest runs it ({in_use.precision})"] = rate(combined, corpus, rounds)
    for name, value in rates.items():
        print(f"{name:48} {value:7.0f} utterances/s")
    base = rates["semantic pass, torch fp32"]
    for name in runtimes:
        print(f"{name} / torch fp32 throughput: {rates[f'semantic pass, {name}'] / base:.2f}x")
    reference = runtimes["torch fp32"].embed(pieces)
    decisions = {}
    for name, embedder in runtimes.items():
        cosine = (embedder.embed(pieces) * reference).sum(axis=1)
        smart = SmartTagger(load_smart(), embedder)
        decisions[name] = {(i, m.utterance_idx, m.category) for i, call in enumerate(corpus)
                           for m in smart.tag(call)}  # fmt: skip
        same = len(decisions[name] & decisions["torch fp32"])
        either = len(decisions[name] | decisions["torch fp32"])
        print(f"{name} vs fp32: cosine mean {cosine.mean():.4f} min {cosine.min():.4f}; "
              f"semantic mentions in common {same} of {either}")  # fmt: skip


if __name__ == "__main__":
    main()
