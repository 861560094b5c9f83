"""Precision, recall and F1 of tracked categories against gold labels, per utterance.

Gold files are JSON Lines, one utterance a line:
    {"id": "u1", "role": "customer", "text": "...", "labels": ["pricing"], "competitors": []}
`labels` are categories; `competitors` the canonical names said, scored as a separate
"competitor names" row (each name in each utterance counts once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import InputError
from analyzer.records import ROLES, Utterance

NAMES_ROW = "competitor names"


@dataclass(frozen=True)
class GoldUtterance:
    id: str
    role: str
    text: str
    labels: frozenset[str]
    competitors: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Score:
    category: str
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def support(self) -> int:
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
            "support": self.support,
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
        }


def read_gold(path: Path) -> list[GoldUtterance]:
    gold = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read gold file ({error})") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            role = item.get("role", "unknown")
            if role not in ROLES:
                raise ValueError(f"role '{role}' is not one of {ROLES}")
            gold.append(
                GoldUtterance(
                    id=str(item.get("id", number)),
                    role=role,
                    text=item["text"],
                    labels=frozenset(item.get("labels", ())),
                    competitors=frozenset(item.get("competitors", ())),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InputError(f"{path} line {number}: {error}") from error
    return gold


def score(
    gold: Sequence[GoldUtterance],
    predicted_labels: Sequence[Iterable[str]],
    predicted_names: Sequence[Iterable[str]],
    categories: Iterable[str],
) -> list[Score]:
    """One Score per category, then one for competitor names (each name in each utterance)."""
    rows = []
    for category in categories:
        tp = fp = fn = 0
        for truth, found in zip(gold, predicted_labels, strict=True):
            hit, expected = category in set(found), category in truth.labels
            tp += hit and expected
            fp += hit and not expected
            fn += expected and not hit
        rows.append(Score(category, tp, fp, fn))
    tp = fp = fn = 0
    for truth, found in zip(gold, predicted_names, strict=True):
        found = set(found)
        tp += len(found & truth.competitors)
        fp += len(found - truth.competitors)
        fn += len(truth.competitors - found)
    rows.append(Score(NAMES_ROW, tp, fp, fn))
    return rows


def evaluate_tagger(tagger, gold: Sequence[GoldUtterance]) -> list[Score]:
    """Tag the gold texts (tagging alone, no ASR) and score the result."""
    utterances = [Utterance(g.id, g.role, 0.0, 1.0, g.text) for g in gold]
    labels: list[set[str]] = [set() for _ in gold]
    names: list[set[str]] = [set() for _ in gold]
    for mention in tagger.tag(utterances):
        labels[mention.utterance_idx].add(mention.category)
        if mention.category == "competitor":
            names[mention.utterance_idx].add(mention.term)
    categories = sorted({c for g in gold for c in g.labels} | set(tagger.trackers.categories))
    return score(gold, labels, names, categories)
