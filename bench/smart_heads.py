"""Which classifier for the smart-tracker heads: logistic regression vs RBF SVM, judged as
`analyzer train` judges them - each writer's sentences scored by a model trained without them -
as the best F1 over thresholds of those held-out scores, per category.

    python -m bench.smart_heads
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from analyzer import smart
from analyzer.embeddings import load_embedder

CANDIDATES = {
    **{
        f"logistic regression C={c}": (
            lambda c=c: LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
        )
        for c in (0.5, 2, 8, 32)
    },  # fmt: skip
    **{
        f"RBF SVM C={c}": (lambda c=c: SVC(C=c, gamma="scale", class_weight="balanced"))
        for c in (1, 4, 16)
    },  # fmt: skip
}


def held_out_f1(make, matrix, labels, writers) -> float:
    scores = np.full(len(labels), np.nan)
    authors = sorted({w for w, label in zip(writers, labels, strict=True) if label})
    groups = np.array(writers)
    for writer in authors:
        test = groups == writer
        model = make().fit(matrix[~test], labels[~test])
        scores[test] = model.decision_function(matrix[test])
    keep = ~np.isnan(scores)  # writers of negatives only are always trained on
    ranked = np.sort(np.unique(scores[keep]))
    best = 0.0
    for threshold in ranked[:: max(1, len(ranked) // 200)]:
        predicted = scores[keep] >= threshold
        tp = int((predicted & (labels[keep] == 1)).sum())
        if tp:
            precision, recall = tp / predicted.sum(), tp / (labels[keep] == 1).sum()
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def main() -> None:
    examples = smart.load_examples(smart.default_examples_dir())
    texts = list(dict.fromkeys(t for ex in examples for t in ex.positives + ex.negatives))
    vectors = dict(zip(texts, load_embedder().embed(texts), strict=True))
    categories = [c for c in dict.fromkeys(ex.category for ex in examples) if c != smart.NONE]
    print("held-out-writer F1 | " + " | ".join(categories))
    for name, make in CANDIDATES.items():
        cells = []
        for category in categories:
            items, labels, writers = smart.training_set(category, examples)
            matrix = np.stack([vectors[text] for text in items])
            cells.append(f"{held_out_f1(make, matrix, labels, writers):.3f}")
        print(f"{name} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
