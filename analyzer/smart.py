"""Smart trackers: topics said in any words, learned from a few hundred example sentences.

Examples live in `models/examples/<writer>/<category>.yaml` (format in GUIDE.md there), one
folder per person who wrote them. Each category gets a head over MiniLM sentence embeddings: an
RBF support-vector machine trained on its positives against every writer's negatives and every
other category's positives (except categories it overlaps with: a churn signal may also be a
pain point). The head is judged and calibrated by cross-validation across writers - trained on
all writers but one, scored on the one left out - so its threshold and its reported precision
and recall are those on sentences written by someone else. (With fewer than three writers of
positives, 5-fold cross-validation stands in.) A logistic fit of the held-out decision values
turns them into probabilities; the threshold is the probability that maximises held-out F1.

`analyzer train` rebuilds `models/smart_trackers.json` (what each head is and how good it
is) and `models/smart_trackers.npz` (its support vectors). A new category needs only examples.

A turn is scored sentence by sentence (a long turn is as on-topic as its most on-topic
sentence), so a mention points at the sentence that carries the topic.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from analyzer import calibration
from analyzer.calibration import Calibration
from analyzer.config import models_dir
from analyzer.errors import TrackerError
from analyzer.records import CallContext, Mention, Utterance
from analyzer.tagging import said_by_allows, span_times
from analyzer.trackers import SAID_BY

logger = logging.getLogger(__name__)

SMART_ENV_VAR = "ANALYZER_SMART_TRACKERS"  # another trained file, e.g. with your categories
NONE = "none"  # a `category: none` file holds ordinary talk: negatives for every category
FOLDS = 5
MIN_WRITERS = 3  # writers of positives needed to cross-validate across writers
SVM_C = 4.0  # chosen by leave-one-writer-out F1 over C in {1, 4, 16} (bench/results.md)
MIN_WORDS = 4  # shorter pieces are back-channels and fillers ("yeah, totally"): never scored
MAX_WORDS = 40  # longer unpunctuated stretches are scored in overlapping windows
WINDOW_WORDS, WINDOW_STEP = 30, 20
SNIPPET_CHARS = 240
_SENTENCE = re.compile(r"\S.*?(?:[.!?…]+(?=\s|$)|$)")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Examples:
    """One examples file: one writer's sentences for one category."""

    category: str
    writer: str
    said_by: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    description: str = ""
    overlaps: tuple[str, ...] = ()  # categories whose positives may also be this one


@dataclass(frozen=True, eq=False)
class SmartTracker:
    category: str
    said_by: str
    threshold: float  # on the calibrated probability
    cv_precision: float
    cv_recall: float
    cv_f1: float
    cross_validation: str  # how the figures above were obtained
    encoder: str  # whose vectors the head reads: "" MiniLM as shipped, else a tuned adapter
    positives: int
    negatives: int
    writers: int
    gamma: float
    intercept: float
    platt_slope: float
    platt_intercept: float
    support: np.ndarray = field(repr=False)  # (n, 384) support vectors
    dual: np.ndarray = field(repr=False)  # (n,) their signed weights

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        # |x - s|^2 = |x|^2 + |s|^2 - 2 x.s, and every vector is unit length
        distances = np.maximum(2.0 - 2.0 * (vectors @ self.support.T), 0.0)
        return np.exp(-self.gamma * distances) @ self.dual + self.intercept

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        return _sigmoid(self.platt_slope * self.decision(vectors) + self.platt_intercept)

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("support", "dual")}


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
    return Path(os.environ.get(SMART_ENV_VAR) or models_dir() / "smart_trackers.json")


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-values))


# --- examples and training ------------------------------------------------------------------


def load_examples(*folders: Path) -> list[Examples]:
    """Every `<category>.yaml` under the folders; a file's folder names its writer."""
    found = []
    for folder in map(Path, folders):
        for path in sorted(folder.rglob("*.yaml")):
            writer = str(path.parent.relative_to(folder)) if path.parent != folder else folder.name
            found.append(_read_examples(path, writer))
    if not found:
        raise TrackerError(f"no <category>.yaml example files in {', '.join(map(str, folders))}")
    return found


def _read_examples(path: Path, writer: str) -> Examples:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = str(data["category"]).strip()
        positives = data.get("positives") or () if category == NONE else data["positives"]
        examples = Examples(
            category=category,
            writer=writer,
            said_by=str(data.get("said_by", "anyone")).lower(),
            positives=_texts(positives),
            negatives=_texts(data.get("negatives") or ()),
            description=str(data.get("description", "")),
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
    if examples.category == NONE:
        if len(examples.negatives) < FOLDS:
            raise TrackerError(f"{path}: needs at least {FOLDS} negatives")
    elif len(examples.positives) < FOLDS or len(examples.negatives) < FOLDS:
        raise TrackerError(f"{path}: needs at least {FOLDS} positives and {FOLDS} negatives")
    return examples


def _texts(items) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(text).strip() for text in items))


def training_set(
    category: str, everything: Sequence[Examples]
) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, 0/1 labels and writers for one category's head."""
    overlaps = {c for ex in everything if ex.category == category for c in ex.overlaps}
    positive = {t for ex in everything if ex.category == category for t in ex.positives}
    texts, labels, writers, seen = [], [], [], set()
    for ex in everything:
        same = ex.category == category
        candidates = [
            (t, 1 if same else 0) for t in ex.positives if same or ex.category not in overlaps
        ]
        candidates += [(t, 0) for t in ex.negatives]
        for text, label in candidates:
            if (label == 0 and text in positive) or text in seen:
                continue  # a sentence may be two topics at once; count each sentence once
            seen.add(text)
            texts.append(text)
            labels.append(label)
            writers.append(ex.writer)
    return texts, np.array(labels), writers


def train(
    examples: Sequence[Examples],
    embedder,
    tuned_without: Callable[[str], object] | None = None,
) -> list[SmartTracker]:
    """One head per category, calibrated and judged on writers it was not trained on.

    With `tuned_without(writer)` (an embedder whose encoder was tuned without that writer's
    examples), each held-out writer is scored through such an encoder too, so the figures say
    how tuning does on sentences it never saw."""
    texts = list(dict.fromkeys(t for ex in examples for t in ex.positives + ex.negatives))
    vectors = dict(zip(texts, embedder.embed(texts), strict=True))
    folds = _fold_vectors(examples, texts, tuned_without) if tuned_without else {}
    trackers = []
    for category in dict.fromkeys(ex.category for ex in examples if ex.category != NONE):
        mine = [ex for ex in examples if ex.category == category]
        items, labels, writers = training_set(category, examples)
        matrix = np.stack([vectors[text] for text in items])
        by_fold = {w: np.stack([found[text] for text in items]) for w, found in folds.items()}
        held_out, method = _held_out_decisions(matrix, labels, writers, by_fold)
        authors = {w for w, label in zip(writers, labels, strict=True) if label}
        if by_fold:
            method += ", encoder tuned without the writer scored"
        elif authors & embedder.tuned_on:
            method += ", encoder tuned on these examples (optimistic)"
        platt = _fit_platt(held_out, labels)
        threshold, precision, recall, f1 = best_threshold(
            _sigmoid(platt[0] * held_out + platt[1]), labels
        )
        model = _svm().fit(matrix, labels)
        trackers.append(
            SmartTracker(
                category=category,
                said_by=mine[-1].said_by,
                threshold=threshold,
                cv_precision=precision,
                cv_recall=recall,
                cv_f1=f1,
                cross_validation=method,
                encoder=embedder.encoder,
                positives=int(labels.sum()),
                negatives=int(len(labels) - labels.sum()),
                writers=len(authors),
                gamma=float(model._gamma),
                intercept=float(model.intercept_[0]),
                platt_slope=platt[0],
                platt_intercept=platt[1],
                support=model.support_vectors_.astype(np.float32),
                dual=model.dual_coef_[0].astype(np.float32),
            )
        )
        logger.info("%s: threshold %.2f, %s F1 %.2f", category, threshold, method, f1)
    return trackers


def _fold_vectors(
    examples: Sequence[Examples], texts: list[str], tuned_without: Callable[[str], object]
) -> dict[str, dict[str, np.ndarray]]:
    """Every text's vector under an encoder tuned without each writer of positives."""
    authors = sorted({ex.writer for ex in examples if ex.category != NONE})
    if len(authors) < MIN_WRITERS:
        return {}
    folds = {}
    for writer in authors:
        folds[writer] = dict(zip(texts, tuned_without(writer).embed(texts), strict=True))
    return folds


def retrain(
    *extra_folders: Path, out: Path | None = None, tune_encoder: bool = False
) -> list[SmartTracker]:
    """Train from models/examples/ plus `extra_folders` and save to `out` (or the default).

    Without `tune_encoder`, the heads read the encoder the trackers in force read; with it, the
    encoder is tuned on the same examples first (analyzer/tuning.py: minutes) and saved beside
    `out` (models/smart_encoder/ for the default file), each fold through its own tuning."""
    from analyzer import tuning
    from analyzer.embeddings import load_embedder

    examples = load_examples(default_examples_dir(), *extra_folders)
    out = Path(out or default_model_path())
    if not tune_encoder:
        trackers = train(examples, load_embedder(encoder=encoder_in_force(out)))
    else:
        folder = out.parent / f"{out.stem.removesuffix('_trackers')}_encoder"
        tuning.save(examples, folder)
        load_embedder.cache_clear()  # a cached embedder may hold the adapter just replaced
        encoder = folder.name if folder.parent == models_dir() else str(folder.resolve())
        trackers = train(
            examples,
            load_embedder(encoder=encoder),
            lambda writer: tuning.tuned_embedder(examples, writer),
        )
    save(trackers, out)
    recalibrate(out)
    return trackers


def recalibrate(path: Path | None = None) -> Calibration:
    """Refit how sure each kind of mention is (analyzer/calibration.py) for the trackers at
    `path` and the keyword trackers in force, on the labeled calls in models/labeled/, and
    keep it in the trackers' file."""
    from analyzer.combined import CombinedTagger
    from analyzer.embeddings import load_embedder
    from analyzer.tagging import KeywordTagger
    from analyzer.trackers import load_trackers

    path = Path(path or default_model_path())
    trackers = load(path)
    tagger = SmartTagger(trackers, load_embedder(encoder=trackers[0].encoder)) if trackers else None
    fitted = calibration.fit_labeled(CombinedTagger(KeywordTagger(load_trackers()), tagger))
    save(trackers, path, fitted)
    return fitted


def encoder_in_force(path: Path | None = None) -> str:
    """The encoder the trackers at `path` read, else the default trackers' encoder."""
    for candidate in (path, default_model_path()):
        if candidate and Path(candidate).exists():
            trackers = load(candidate)
            if trackers:
                return trackers[0].encoder
    return ""


def _svm():
    from sklearn.svm import SVC

    return SVC(C=SVM_C, kernel="rbf", gamma="scale", class_weight="balanced")


def _held_out_decisions(
    matrix: np.ndarray,
    labels: np.ndarray,
    writers: list[str],
    by_fold: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, str]:
    """Each example's decision value from a model that never saw it (nor, when there are
    enough writers, anything its writer wrote). `by_fold[writer]`: the examples' vectors to
    use when that writer is held out (from an encoder tuned without them)."""
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold, cross_val_predict

    positive_writers = {w for w, label in zip(writers, labels, strict=True) if label == 1}
    if len(positive_writers) >= MIN_WRITERS:
        # Writers who wrote no positives for this category are kept in every training fold.
        groups = [w if w in positive_writers else "" for w in writers]
        folds = [
            (train, test)
            for train, test in LeaveOneGroupOut().split(matrix, labels, groups)
            if groups[test[0]]
        ]
        held_out = np.full(len(labels), np.nan)
        for train, test in folds:
            vectors = (by_fold or {}).get(groups[test[0]], matrix)
            held_out[test] = (
                _svm().fit(vectors[train], labels[train]).decision_function(vectors[test])
            )
        keep = ~np.isnan(held_out)
        method = f"leave one writer out ({len(positive_writers)} writers)"
        if keep.all():
            return held_out, method
        # Sentences of writers without positives: ordinary 5-fold for them.
        rest = cross_val_predict(
            _svm(),
            matrix,
            labels,
            cv=StratifiedKFold(FOLDS, shuffle=True, random_state=0),
            method="decision_function",
        )
        return np.where(keep, held_out, rest), method
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=0)
    held_out = cross_val_predict(_svm(), matrix, labels, cv=folds, method="decision_function")
    return held_out, f"{FOLDS}-fold"


def _fit_platt(decisions: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    fit = LogisticRegression(C=100.0).fit(decisions.reshape(-1, 1), labels)
    return float(fit.coef_[0][0]), float(fit.intercept_[0])


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) at the threshold that maximises F1."""
    best = (0.5, 0.0, 0.0, -1.0)
    positives = max(int((labels == 1).sum()), 1)
    for threshold in np.arange(0.1, 0.951, 0.025):
        predicted = scores >= threshold
        true_positives = int((predicted & (labels == 1)).sum())
        precision = true_positives / max(int(predicted.sum()), 1)
        recall = true_positives / positives
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if f1 > best[3]:
            best = (round(float(threshold), 3), round(precision, 3), round(recall, 3), round(f1, 3))
    return best


def save(trackers: Sequence[SmartTracker], path: Path, fitted: Calibration | None = None) -> None:
    """`path` (JSON: what each head is and how good, and how sure each kind of mention is)
    and `path` with .npz (support vectors)."""
    payload = {
        "model": "all-MiniLM-L6-v2",
        "trackers": [t.summary() for t in trackers],
        "calibration": calibration.to_json(fitted) if fitted else {},
    }
    arrays = {}
    for tracker in trackers:
        arrays[f"{tracker.category}.support"] = tracker.support.astype(np.float16)
        arrays[f"{tracker.category}.dual"] = tracker.dual
    with path.with_suffix(".npz").open("wb") as handle:
        np.savez_compressed(handle, **arrays)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def load_calibration(path: Path | None = None) -> Calibration:
    """How sure each kind of mention is, as fitted with the trackers at `path` (none fitted:
    every mention keeps its raw score)."""
    path = Path(path or default_model_path())
    if not path.exists():
        return Calibration({})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return calibration.from_json(data.get("calibration"))
    except (OSError, ValueError) as error:
        raise TrackerError(f"{path}: not a smart trackers file; run `analyzer train`") from error


def load(path: Path | None = None) -> list[SmartTracker]:
    """The trained heads, or [] when none were trained."""
    path = Path(path or default_model_path())
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
            return [
                SmartTracker(
                    **t,
                    support=arrays[f"{t['category']}.support"].astype(np.float32),
                    dual=arrays[f"{t['category']}.dual"].astype(np.float32),
                )
                for t in data["trackers"]
            ]
    except (OSError, ValueError, KeyError, TypeError) as error:
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

    def __init__(
        self,
        trackers: Sequence[SmartTracker],
        embedder,
        fitted: Calibration | None = None,
    ):
        for tracker in trackers:
            if tracker.encoder != embedder.encoder:
                raise TrackerError(
                    f"the {tracker.category} tracker reads encoder '{tracker.encoder}', "
                    f"not '{embedder.encoder}': retrain them together (analyzer train)"
                )
        self.trackers = list(trackers)
        self.embedder = embedder
        self.calibration = fitted or Calibration({})  # how sure each kind of mention is
        self._thresholds = np.array([t.threshold for t in self.trackers], dtype=np.float32)

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
        return pieces, self._probabilities(vectors)

    def _probabilities(self, vectors: np.ndarray) -> np.ndarray:
        # One BLAS thread: the products are small, and an idle BLAS pool busy-waits on the
        # cores the embedding model needs next (the semantic pass ran 2.7x slower with it).
        with threadpool_limits(limits=1, user_api="blas"):
            return np.stack([t.probabilities(vectors) for t in self.trackers], axis=1)

    def tag(
        self,
        utterances: Sequence[Utterance],
        context: CallContext | None = None,
        *,
        veto: Callable[[Sentence, SmartTracker, float], bool] | None = None,
    ) -> list[Mention]:
        """One mention per utterance and category over the threshold, said by a side the
        tracker allows, at the sentence that scored highest (`method = semantic`). `veto`
        (sentence, tracker, probability) -> True drops a sentence. `context` is accepted for
        a tagger's common signature; the call-level rules live in `combined`."""
        best: dict[tuple[int, str], tuple[Sentence, float]] = {}
        for sentence, tracker, probability in self.hits(utterances):
            key = (sentence.utterance_idx, tracker.category)
            role = utterances[sentence.utterance_idx].role
            if not said_by_allows(tracker.said_by, role):
                continue
            if veto and veto(sentence, tracker, probability):
                continue
            if key not in best or probability > best[key][1]:
                best[key] = (sentence, probability)
        return [
            _mention(utterances[index], category, sentence, probability)
            for (index, category), (sentence, probability) in best.items()
        ]

    def probabilities(self, tracker: SmartTracker, texts: Sequence[str]) -> np.ndarray:
        """One head's probabilities for arbitrary texts."""
        with threadpool_limits(limits=1, user_api="blas"):
            return tracker.probabilities(self.embedder.embed(list(texts)))

    def hits(self, utterances: Sequence[Utterance]) -> list[tuple[Sentence, SmartTracker, float]]:
        """(sentence, tracker, probability) for every sentence over a tracker's threshold,
        before checking who said it."""
        pieces, probabilities = self.score(utterances)
        found = []
        for row, column in zip(*np.nonzero(probabilities >= self._thresholds), strict=True):
            found.append((pieces[row], self.trackers[column], float(probabilities[row, column])))
        return found


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
