"""Smart trackers: topics said in any words, learned from a few dozen example sentences.

Each category is a logistic-regression head over MiniLM sentence embeddings, trained from
`models/examples/<category>.yaml`: its positives against its own negatives, every other
category's negatives, and every other category's positives (except categories it overlaps
with, such as a churn signal that is also a pain point). Regularisation and the decision
threshold are chosen by 5-fold cross-validation: the threshold is the one that maximises F1 on
out-of-fold predictions, and that cross-validated precision/recall is saved with the head in
`models/smart_trackers.json`. `analyzer train` rebuilds the file; a new category needs only an
examples file.

A turn is scored sentence by sentence (a long turn is as on-topic as its most on-topic
sentence), so a mention points at the sentence that carries the topic.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from analyzer.config import models_dir
from analyzer.errors import TrackerError
from analyzer.records import Mention, Utterance
from analyzer.tagging import said_by_allows, span_times
from analyzer.trackers import SAID_BY

logger = logging.getLogger(__name__)

FOLDS = 5
REGULARISATION_GRID = (0.5, 2.0, 8.0)  # logistic regression C values tried by cross-validation
MIN_WORDS = 4  # shorter pieces are back-channels and fillers ("yeah, totally"): never scored
MAX_WORDS = 40  # longer unpunctuated stretches are scored in overlapping windows
WINDOW_WORDS, WINDOW_STEP = 30, 20
SNIPPET_CHARS = 240
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+(?=\s|$)|$)")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Examples:
    category: str
    said_by: str
    description: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    overlaps: tuple[str, ...] = ()  # categories whose positives may also be this one


@dataclass(frozen=True)
class SmartTracker:
    category: str
    said_by: str
    weights: tuple[float, ...]
    bias: float
    threshold: float
    regularisation: float
    cv_precision: float
    cv_recall: float
    cv_f1: float
    positives: int
    negatives: int


@dataclass(frozen=True)
class Sentence:
    """A scored piece of an utterance: a sentence, or a window of a very long one."""

    utterance_idx: int
    start_char: int
    end_char: int
    text: str


def default_examples_dir() -> Path:
    return models_dir() / "examples"


def default_model_path() -> Path:
    return models_dir() / "smart_trackers.json"


# --- examples and training ------------------------------------------------------------------


def load_examples(*folders: Path) -> list[Examples]:
    """Example files from each folder; a later folder's category replaces an earlier one's."""
    found: dict[str, Examples] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.yaml")):
            examples = _read_examples(path)
            found[examples.category] = examples
    if not found:
        raise TrackerError(f"no <category>.yaml example files in {', '.join(map(str, folders))}")
    return list(found.values())


def _read_examples(path: Path) -> Examples:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        examples = Examples(
            category=str(data["category"]).strip(),
            said_by=str(data.get("said_by", "anyone")).lower(),
            description=str(data.get("description", "")),
            positives=tuple(dict.fromkeys(str(t).strip() for t in data["positives"])),
            negatives=tuple(dict.fromkeys(str(t).strip() for t in data.get("negatives") or ())),
            overlaps=tuple(str(c) for c in data.get("overlaps") or ()),
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise TrackerError(f"{path}: cannot read examples ({error})") from error
    except (KeyError, TypeError, AttributeError) as error:
        raise TrackerError(
            f"{path}: not an examples file (needs category, positives, negatives)"
        ) from error
    if not examples.category.replace("_", "").isalnum():
        raise TrackerError(f"{path}: category must be a word like pricing or churn_signal")
    if examples.said_by not in SAID_BY:
        raise TrackerError(f"{path}: said_by '{examples.said_by}' is not one of {SAID_BY}")
    if len(examples.positives) < FOLDS or len(examples.negatives) < FOLDS:
        raise TrackerError(f"{path}: needs at least {FOLDS} positives and {FOLDS} negatives")
    return examples


def training_set(
    category: Examples, everything: Sequence[Examples]
) -> tuple[list[str], np.ndarray]:
    """Texts and 0/1 labels for one category's head."""
    positives = list(category.positives)
    taken = set(positives)
    negatives = []
    for other in everything:
        negatives.extend(other.negatives)
        if other.category != category.category and other.category not in category.overlaps:
            negatives.extend(other.positives)
    negatives = [text for text in dict.fromkeys(negatives) if text not in taken]
    return positives + negatives, np.array([1] * len(positives) + [0] * len(negatives))


def train(examples: Sequence[Examples], embedder) -> list[SmartTracker]:
    """One head per category, with its regularisation, threshold and quality from 5-fold CV."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts = list(dict.fromkeys(t for ex in examples for t in ex.positives + ex.negatives))
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    trackers = []
    for category in examples:
        items, labels = training_set(category, examples)
        matrix = np.stack([vectors[text] for text in items])
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
        best = None
        for c in REGULARISATION_GRID:
            model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000)
            held_out = cross_val_predict(model, matrix, labels, cv=folds, method="predict_proba")
            quality = best_threshold(held_out[:, 1], labels)
            if best is None or quality[3] > best[1][3]:
                best = (c, quality)
        c, (threshold, precision, recall, f1) = best
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(matrix, labels)
        trackers.append(
            SmartTracker(
                category=category.category,
                said_by=category.said_by,
                weights=tuple(round(float(w), 6) for w in model.coef_[0]),
                bias=round(float(model.intercept_[0]), 6),
                threshold=threshold,
                regularisation=c,
                cv_precision=precision,
                cv_recall=recall,
                cv_f1=f1,
                positives=int(labels.sum()),
                negatives=int(len(labels) - labels.sum()),
            )
        )
        logger.info("%s: C %.1f, threshold %.2f, CV F1 %.2f", category.category, c, threshold, f1)
    return trackers


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) at the threshold that maximises F1."""
    best = (0.5, 0.0, 0.0, -1.0)
    positives = max(int((labels == 1).sum()), 1)
    for threshold in np.arange(0.2, 0.951, 0.025):
        predicted = scores >= threshold
        true_positives = int((predicted & (labels == 1)).sum())
        precision = true_positives / max(int(predicted.sum()), 1)
        recall = true_positives / positives
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[3]:
            best = (round(float(threshold), 3), round(precision, 3), round(recall, 3), round(f1, 3))
    return best


def save(trackers: Sequence[SmartTracker], path: Path) -> None:
    payload = {"model": "all-MiniLM-L6-v2", "trackers": [asdict(t) for t in trackers]}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def load(path: Path | None = None) -> list[SmartTracker]:
    """The trained heads, or [] when none were trained."""
    path = path or default_model_path()
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [SmartTracker(**{**t, "weights": tuple(t["weights"])}) for t in data["trackers"]]
    except (ValueError, KeyError, TypeError) as error:
        raise TrackerError(f"{path}: not a smart trackers file; run `analyzer train`") from error


# --- tagging ----------------------------------------------------------------------------------


def sentences(utterance_idx: int, text: str) -> list[Sentence]:
    """The pieces of a turn to score: its sentences, a short lead-in ("Yeah. So...") joined to
    the next one, and stretches over MAX_WORDS cut into overlapping windows."""
    pieces: list[tuple[int, int]] = []
    pending_start = None
    for match in _SENTENCE.finditer(text):
        start = match.start() if pending_start is None else pending_start
        if len(match.group().split()) < MIN_WORDS and match.end() < len(text.rstrip()):
            pending_start = start
            continue
        pending_start = None
        if len(text[start : match.end()].split()) < MIN_WORDS and pieces:
            pieces[-1] = (pieces[-1][0], match.end())  # a short tail joins the sentence before
        else:
            pieces.append((start, match.end()))
    found = []
    for start, end in pieces:
        words = list(_WORD.finditer(text, start, end))
        if len(words) < MIN_WORDS:
            continue
        if len(words) <= MAX_WORDS:
            found.append(Sentence(utterance_idx, start, end, text[start:end]))
            continue
        for first in range(0, len(words) - WINDOW_STEP, WINDOW_STEP):
            window = words[first : first + WINDOW_WORDS]
            begin, finish = window[0].start(), window[-1].end()
            found.append(Sentence(utterance_idx, begin, finish, text[begin:finish]))
    return found


class SmartTagger:
    """Score utterances with the smart trackers. Build once, call many times."""

    def __init__(self, trackers: Sequence[SmartTracker], embedder):
        self.trackers = list(trackers)
        self.embedder = embedder
        self._weights = np.array([t.weights for t in self.trackers], dtype=np.float32).T
        self._bias = np.array([t.bias for t in self.trackers], dtype=np.float32)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(t.category for t in self.trackers)

    def score(self, utterances: Sequence[Utterance]) -> tuple[list[Sentence], np.ndarray]:
        """Every scored sentence of every utterance, and its probability under each head
        (rows: sentences, columns: `self.trackers`), whoever said it."""
        pieces = [s for index, u in enumerate(utterances) for s in sentences(index, u.text)]
        if not pieces or not self.trackers:
            return pieces, np.zeros((len(pieces), len(self.trackers)), dtype=np.float32)
        vectors = self.embedder.embed([piece.text for piece in pieces])
        return pieces, 1 / (1 + np.exp(-(vectors @ self._weights + self._bias)))

    def tag(
        self,
        utterances: Sequence[Utterance],
        veto: Callable[[Sentence, str], bool] | None = None,
    ) -> list[Mention]:
        """One mention per utterance and category over the threshold, said by a side the
        tracker allows, at the sentence that scored highest (`method = semantic`). `veto`
        (sentence, category) -> True drops a sentence."""
        best: dict[tuple[int, str], tuple[Sentence, float]] = {}
        for sentence, tracker, probability in self.hits(utterances):
            key = (sentence.utterance_idx, tracker.category)
            role = utterances[sentence.utterance_idx].role
            if not said_by_allows(tracker.said_by, role) or (veto and veto(sentence, key[1])):
                continue
            if key not in best or probability > best[key][1]:
                best[key] = (sentence, probability)
        return [
            _mention(utterances[index], category, sentence, probability)
            for (index, category), (sentence, probability) in best.items()
        ]

    def hits(self, utterances: Sequence[Utterance]) -> list[tuple[Sentence, SmartTracker, float]]:
        """(sentence, tracker, probability) for every sentence over a tracker's threshold,
        before checking who said it."""
        pieces, probabilities = self.score(utterances)
        found = []
        for row, column in zip(*np.nonzero(probabilities >= self._thresholds()), strict=True):
            found.append((pieces[row], self.trackers[column], float(probabilities[row, column])))
        return found

    def _thresholds(self) -> np.ndarray:
        return np.array([t.threshold for t in self.trackers], dtype=np.float32)


def _mention(
    utterance: Utterance, category: str, sentence: Sentence, probability: float
) -> Mention:
    start_s, end_s = span_times(utterance, sentence.start_char, sentence.end_char)
    return Mention(
        utterance_idx=sentence.utterance_idx,
        category=category,
        tracker=f"{category} (smart)",
        term=category,
        start_s=start_s,
        end_s=end_s,
        snippet=sentence.text.strip()[:SNIPPET_CHARS],
        score=round(probability, 3),
        method="semantic",
    )
