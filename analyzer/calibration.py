"""How sure a mention is: the probability that such a moment really is its topic.

Raw scores mean different things: 1.0 for a keyword phrase, spelling-and-sound similarity for a
misheard name, a head's probability for a smart tracker (calibrated on example sentences, which
read unlike whole calls). Each mention is given the share of mentions like it that were right on
labeled calls (`models/labeled/`, never the held-out sets): per category and kind of match, a
logistic fit over the logit of the raw score, its slope kept at zero or above, so that a higher
raw score never makes a moment less sure, and pulled toward the raw score itself by a prior
worth RAW_PRIOR_WEIGHT mentions. A kind whose raw score does not vary (a keyword phrase) gets
its share of right mentions, shrunk toward its category's by a prior worth PRIOR_WEIGHT.

`analyzer train` refits it after the heads change and keeps it in the smart trackers' file;
`probability` is what the app shows, what risk weighs each moment by, and what a team's topic
thresholds compare to. A category with no labeled mention keeps its raw score.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from analyzer.config import models_dir
from analyzer.errors import TrackerError
from analyzer.records import Mention

KINDS = {  # how a mention was found, as the app says it
    "phrase": "keyword",
    "name": "misheard name",
    "smart": "smart tracker",
    "reply": "reply",
    "confirmed": "hypothetical, meant",
}
PRIOR_WEIGHT = 4.0  # how many mentions the category's figure counts for in a kind's estimate
RAW_PRIOR_WEIGHT = 20.0  # how many mentions a varying raw score's own word counts for
MIN_SPREAD = 0.25  # raw logits varying less than this: one probability for the kind


def kind_of(mention: Mention) -> str:
    """How a mention was found (a KINDS key)."""
    if mention.tracker.endswith("(reply)"):
        return "reply"
    if "(hypothetical" in mention.tracker:
        return "confirmed"
    if mention.method == "semantic":
        return "smart"
    return "name" if mention.category == "competitor" and mention.score < 1.0 else "phrase"


def _logit(score: float) -> float:
    score = min(max(score, 0.01), 0.99)
    return math.log(score / (1 - score))


@dataclass(frozen=True)
class Fit:
    """p = sigmoid(slope * logit(raw score) + intercept), from `mentions` labeled mentions."""

    slope: float
    intercept: float
    mentions: int

    def __call__(self, score: float) -> float:
        return 1 / (1 + math.exp(-(self.slope * _logit(score) + self.intercept)))


@dataclass(frozen=True)
class Calibration:
    fits: dict[str, Fit]  # "category/kind" or "category"

    def probability(self, mention: Mention) -> float:
        fit = self.fits.get(f"{mention.category}/{kind_of(mention)}") or self.fits.get(
            mention.category
        )
        return round(fit(mention.score) if fit else mention.score, 3)

    def covers(self, category: str) -> bool:
        """Whether the category's probabilities were fitted (else they are raw scores)."""
        return category in self.fits

    def apply(self, mentions: Iterable[Mention]) -> list[Mention]:
        return [replace(m, probability=self.probability(m)) for m in mentions]


def fit(labeled: Sequence[tuple[Mention, bool]]) -> Calibration:
    """A Calibration from mentions a tagger found on labeled calls, each with whether its
    utterance really carries its category."""
    groups: dict[str, list[tuple[float, bool]]] = {}
    for mention, right in labeled:
        for key in (mention.category, f"{mention.category}/{kind_of(mention)}"):
            groups.setdefault(key, []).append((mention.score, right))
    fits = {}
    for key, samples in groups.items():
        category = groups[key.split("/")[0]]
        share = sum(right for _, right in category) / len(category)
        fits[key] = _fit_group(samples, share if "/" in key else 0.5)
    return Calibration(fits)


def _fit_group(samples: list[tuple[float, bool]], prior: float) -> Fit:
    """Intercept-only when the raw scores hardly vary, else a logistic fit with slope >= 0;
    the intercept-only share is shrunk toward `prior` by PRIOR_WEIGHT pseudo-mentions (a kind
    toward its category's share, a category toward even odds)."""
    rights = sum(right for _, right in samples)
    logits = [_logit(score) for score, _ in samples]
    share = (rights + PRIOR_WEIGHT * prior) / (len(samples) + PRIOR_WEIGHT)
    share = min(max(share, 0.01), 0.99)
    flat = Fit(0.0, math.log(share / (1 - share)), len(samples))
    if max(logits) - min(logits) < MIN_SPREAD or len({r for _, r in samples}) < 2:
        return flat
    from sklearn.linear_model import LogisticRegression

    # The raw score's own word as a prior worth RAW_PRIOR_WEIGHT mentions: at each labeled
    # score, pseudo-mentions right as often as the score says. A few labeled mentions then
    # bend the raw scale rather than replace it; many outweigh it.
    pseudo = RAW_PRIOR_WEIGHT / len(samples)
    xs, ys, weights = [], [], []
    for (score, right), x in zip(samples, logits, strict=True):
        xs += [[x], [x], [x]]
        ys += [int(right), 1, 0]
        weights += [1.0, pseudo * score, pseudo * (1 - score)]
    model = LogisticRegression(C=1.0).fit(xs, ys, sample_weight=weights)
    slope = float(model.coef_[0][0])
    if slope <= 0:
        return flat
    return Fit(slope, float(model.intercept_[0]), len(samples))


def labeled_dir() -> Path:
    """Labeled calls the calibration is fitted on (dev sets; the held-out ones stay out)."""
    return models_dir() / "labeled"


def fit_labeled(tagger, folder: Path | None = None) -> Calibration:
    """Tag every labeled call in `folder` (`*.jsonl`, evaluate.read_gold's format) and fit
    the probabilities on whether each mention's utterance carries its topic (for competitors:
    names that competitor)."""
    from analyzer.evaluate import read_gold, tag_gold

    labeled = []
    for path in sorted((folder or labeled_dir()).glob("*.jsonl")):
        gold = read_gold(path)
        for truth, mentions in zip(gold, tag_gold(tagger, gold), strict=True):
            for m in mentions:
                right = m.term in truth.competitors if m.category == "competitor" else None
                labeled.append((m, m.category in truth.labels if right is None else right))
    return fit(labeled)


def to_json(calibration: Calibration) -> dict:
    return {key: asdict(value) for key, value in sorted(calibration.fits.items())}


def from_json(data: dict | None) -> Calibration:
    try:
        return Calibration({key: Fit(**value) for key, value in (data or {}).items()})
    except TypeError as error:
        raise TrackerError(f"not a calibration ({error}); run `analyzer train`") from error
