"""Smart trackers: topics said in any words, learned from a few dozen example sentences.

Each category is a logistic-regression head over MiniLM sentence embeddings, trained on the
positives and hard negatives in `models/examples/<category>.yaml` (plus the other categories'
negatives). Its decision threshold is the one that maximises F1 on out-of-fold predictions of a
5-fold cross-validation, and that cross-validated precision/recall is saved with it, in
`models/smart_trackers.json`. `analyzer train` rebuilds the file; a new category needs only an
examples file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from analyzer.config import models_dir
from analyzer.errors import TrackerError
from analyzer.records import Mention, Utterance

logger = logging.getLogger(__name__)

FOLDS = 5
MIN_WORDS = 4  # shorter turns are back-channels and fillers ("yeah, totally"): never tagged
SNIPPET_CHARS = 240


@dataclass(frozen=True)
class Examples:
    category: str
    said_by: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


@dataclass(frozen=True)
class SmartTracker:
    category: str
    said_by: str
    weights: tuple[float, ...]
    bias: float
    threshold: float
    cv_precision: float
    cv_recall: float
    cv_f1: float
    examples: int

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(vectors @ np.asarray(self.weights) + self.bias)))


def default_examples_dir() -> Path:
    return models_dir() / "examples"


def default_model_path() -> Path:
    return models_dir() / "smart_trackers.json"


def load_examples(*folders: Path) -> list[Examples]:
    """Example files from each folder; a later folder's category replaces an earlier one's."""
    found: dict[str, Examples] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
                examples = Examples(
                    category=str(data["category"]),
                    said_by=str(data.get("said_by", "anyone")),
                    positives=tuple(str(t) for t in data["positives"]),
                    negatives=tuple(str(t) for t in data.get("negatives", ())),
                )
            except (yaml.YAMLError, KeyError, TypeError) as error:
                raise TrackerError(f"{path}: not an examples file ({error!r})") from error
            if len(examples.positives) < FOLDS or len(examples.negatives) < FOLDS:
                raise TrackerError(f"{path}: needs at least {FOLDS} positives and negatives")
            found[examples.category] = examples
    return list(found.values())


def train(examples: Sequence[Examples], embedder) -> list[SmartTracker]:
    """One head per category, its threshold and quality from cross-validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    shared_negatives = [text for ex in examples for text in ex.negatives]
    trackers = []
    for ex in examples:
        negatives = list(dict.fromkeys(shared_negatives))
        texts = list(ex.positives) + [t for t in negatives if t not in set(ex.positives)]
        labels = np.array([1] * len(ex.positives) + [0] * (len(texts) - len(ex.positives)))
        vectors = embedder.embed(texts)
        model = LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
        held_out = cross_val_predict(model, vectors, labels, cv=folds, method="predict_proba")[:, 1]
        threshold, precision, recall, f1 = _best_threshold(held_out, labels)
        model.fit(vectors, labels)
        trackers.append(
            SmartTracker(
                category=ex.category,
                said_by=ex.said_by,
                weights=tuple(float(w) for w in model.coef_[0]),
                bias=float(model.intercept_[0]),
                threshold=threshold,
                cv_precision=precision,
                cv_recall=recall,
                cv_f1=f1,
                examples=len(texts),
            )
        )
        logger.info("%s: threshold %.2f, cross-validated F1 %.2f", ex.category, threshold, f1)
    return trackers


def _best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    best = (0.5, 0.0, 0.0, -1.0)
    for threshold in np.arange(0.2, 0.95, 0.025):
        predicted = scores >= threshold
        tp = int((predicted & (labels == 1)).sum())
        precision = tp / max(int(predicted.sum()), 1)
        recall = tp / max(int((labels == 1).sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[3]:
            best = (round(float(threshold), 3), round(precision, 3), round(recall, 3), round(f1, 3))
    return best


def save(trackers: Sequence[SmartTracker], path: Path) -> None:
    payload = {"model": "all-MiniLM-L6-v2", "trackers": [asdict(t) for t in trackers]}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def load(path: Path | None = None) -> list[SmartTracker]:
    path = path or default_model_path()
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    return [SmartTracker(**{**t, "weights": tuple(t["weights"])}) for t in data["trackers"]]


class SmartTagger:
    """Tag utterances with the smart trackers (`method = semantic`)."""

    def __init__(self, trackers: Sequence[SmartTracker], embedder):
        self.trackers = list(trackers)
        self.embedder = embedder

    def tag(self, utterances: Sequence[Utterance]) -> list[Mention]:
        if not self.trackers:
            return []
        candidates = [i for i, u in enumerate(utterances) if len(u.text.split()) >= MIN_WORDS]
        vectors = self.embedder.embed([utterances[i].text for i in candidates])
        mentions = []
        for tracker in self.trackers:
            probabilities = tracker.probabilities(vectors)
            for row, index in enumerate(candidates):
                utterance = utterances[index]
                if probabilities[row] < tracker.threshold:
                    continue
                if tracker.said_by != "anyone" and utterance.role not in (
                    tracker.said_by,
                    "unknown",
                ):
                    continue
                mentions.append(
                    Mention(
                        utterance_idx=index,
                        category=tracker.category,
                        tracker=f"{tracker.category} (smart)",
                        term=tracker.category,
                        start_s=utterance.start_s,
                        end_s=utterance.end_s,
                        snippet=utterance.text[:SNIPPET_CHARS],
                        score=round(float(probabilities[row]), 3),
                        method="semantic",
                    )
                )
        return mentions


class CombinedTagger:
    """Keyword trackers first; a smart tracker adds a category only where no keyword found it,
    so one utterance never carries two mentions of one (non-competitor) category."""

    def __init__(self, keyword, smart: SmartTagger | None):
        self.keyword = keyword
        self.smart = smart
        self.trackers = keyword.trackers

    def tag(self, utterances: Sequence[Utterance]) -> list[Mention]:
        found = self.keyword.tag(utterances)
        if self.smart is None:
            return found
        seen = {(m.utterance_idx, m.category) for m in found}
        extra = [m for m in self.smart.tag(utterances) if (m.utterance_idx, m.category) not in seen]
        return sorted(found + extra, key=lambda m: (m.utterance_idx, m.start_s))
