"""Tune the sentence encoder to the trackers' topics: LoRA adapters on MiniLM, from the examples.

MiniLM as shipped places sentences by what they are about in general; "what would this run us
per year?" sits as near to any question about a year as to pricing. A few minutes of training
on the examples moves the topics apart. Low-rank adapters (LoRA, through `peft`) on every
linear layer of the encoder learn one multi-label objective: a linear layer over the pooled
vector predicts every category at once, from the labels the heads use (`smart.training_set`:
other categories' positives are negatives unless the categories overlap). The linear layer is
then dropped: the heads stay SVMs, now over the tuned vectors.

The adapter (2.7 MB) is saved in peft's format and merged into the weights when loaded, so
tagging costs what it did. Settings were chosen by held-out-writer F1 on the examples only
(bench/results.md): tuning lifted it by 0.03-0.07 per category over the frozen encoder.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analyzer.embeddings import (
    TUNING_FILE,
    Embedder,
    base_model,
    pool,
    resolve_precision,
    tokenize,
)
from analyzer.smart import NONE, Examples, training_set

logger = logging.getLogger(__name__)

RANK = 16  # LoRA rank; alpha = 2 x rank
EPOCHS = 4
LEARNING_RATE = 5e-4  # the adapters'; the throwaway linear layer learns at 1e-3
BATCH_SIZE = 32
TARGETS = ["query", "key", "value", "dense"]  # every linear layer of each BERT block
SCALE = 10.0  # unit vectors times this feed the linear layer (a temperature)
SEED = 0


def label_matrix(
    examples: Sequence[Examples], leave_out: str | None = None
) -> tuple[list[str], list[str], np.ndarray]:
    """Texts, categories, and labels (texts x categories: 1, 0, or -1 for not a label), from
    every writer but `leave_out`."""
    categories = [c for c in dict.fromkeys(ex.category for ex in examples) if c != NONE]
    rows: dict[str, np.ndarray] = {}
    for column, category in enumerate(categories):
        texts, labels, writers = training_set(category, examples)
        for text, label, writer in zip(texts, labels, writers, strict=True):
            if writer != leave_out:
                rows.setdefault(text, np.full(len(categories), -1.0, np.float32))[column] = label
    return list(rows), categories, np.stack(list(rows.values()))


def tune(examples: Sequence[Examples], leave_out: str | None = None):
    """MiniLM with LoRA adapters trained on every writer's examples but `leave_out`'s (a peft
    model, in eval mode)."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(SEED)
    texts, categories, labels = label_matrix(examples, leave_out)
    base, tokenizer = base_model()
    config = LoraConfig(r=RANK, lora_alpha=2 * RANK, lora_dropout=0.1, target_modules=TARGETS)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # transformers, on peft
        model = get_peft_model(base, config)
    head = torch.nn.Linear(base.config.hidden_size, len(categories))
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": LEARNING_RATE},
            {"params": head.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    targets = torch.from_numpy(labels)
    weight_positive = ((targets == 0).sum(0) / (targets == 1).sum(0).clamp(min=1)).sqrt()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding per batch
    batches = [order[i : i + BATCH_SIZE] for i in range(0, len(order), BATCH_SIZE)]
    shuffle = np.random.default_rng(SEED)
    model.train()
    for epoch in range(EPOCHS):
        total = 0.0
        for index in shuffle.permutation(len(batches)):
            batch = batches[index]
            logits = head(pool(model, tokenize(tokenizer, [texts[i] for i in batch])) * SCALE)
            wanted = targets[batch]
            counted = (wanted >= 0).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits,
                wanted.clamp(min=0),
                weight=counted,
                pos_weight=weight_positive,
                reduction="sum",
            ) / counted.sum().clamp(min=1)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        logger.info("tuning%s: epoch %d, loss %.3f", _without(leave_out), epoch + 1, total)
    return model.eval(), tokenizer


def tuned_embedder(examples: Sequence[Examples], leave_out: str | None = None) -> Embedder:
    """An embedder over MiniLM tuned without `leave_out`'s examples, for cross-validation."""
    model, tokenizer = tune(examples, leave_out)
    writers = frozenset(ex.writer for ex in examples) - {leave_out}
    encoder = f"tuned{_without(leave_out)}"
    return Embedder(model.merge_and_unload(), tokenizer, resolve_precision(), encoder, writers)


def save(examples: Sequence[Examples], folder: Path):
    """Tune on every example and save the adapter in `folder` (peft's files + tuning.json)."""
    model, _ = tune(examples)
    model.save_pretrained(folder)
    (folder / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
    about = {
        "writers": sorted({ex.writer for ex in examples}),
        "categories": sorted({ex.category for ex in examples} - {NONE}),
        "rank": RANK,
        "epochs": EPOCHS,
        "learning_rate": LEARNING_RATE,
    }
    (folder / TUNING_FILE).write_text(json.dumps(about, indent=1) + "\n", encoding="utf-8")


def _without(writer: str | None) -> str:
    return f" without {writer}" if writer else ""
