"""Tracker definitions: read and validate `models/trackers.yaml` and an optional user file.

A user file is merged over the defaults: a tracker with the same name replaces the default one,
new names are added, and `categories` / `fuzzy` settings override key by key.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from analyzer.config import default_trackers_path
from analyzer.errors import TrackerError
from analyzer.records import CallContext

TRACKERS_ENV_VAR = "ANALYZER_TRACKERS"
SAID_BY = ("rep", "customer", "anyone")
NEGATION_MODES = ("keep", "suppress")
DEFAULT_THRESHOLD = 0.5  # a moment is shown when it is at least as likely right as wrong


@dataclass(frozen=True)
class Tracker:
    name: str
    category: str
    phrases: tuple[str, ...]
    term: str
    said_by: str = "anyone"
    is_name: bool = False  # has a canonical term: a proper name, matched fuzzily too
    ambiguous: bool = False
    fuzzy: bool = True
    not_near: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()  # verbs match only acting on these (see tagging._acts_on)
    needs_object: bool = False  # with `objects`: a verb acting on nothing named does not match
    with_competitor: bool = False  # matches only in a sentence that names a competitor
    not_vendors: bool = False  # not when a competitor owns it ("the Chorus demo")
    integration: bool = False  # a system customers connect us to (a CRM), not a rival
    needs_customer: bool = False  # only in calls known to be with an existing customer


@dataclass(frozen=True)
class CategoryRules:
    """How a category's matches are judged beyond their phrases (`categories:` in the YAML)."""

    negation: str = "keep"  # "suppress": negated and hypothetical statements do not count
    denied_by: tuple[str, ...] = ()  # phrases that take the topic back in their turn
    rep_questions: bool = True  # False: a rep's question alone is not the topic
    customers_only: bool = False  # True: only said where the customer is an existing one
    threshold: float = DEFAULT_THRESHOLD  # calibrated probability a mention needs to be kept


@dataclass(frozen=True)
class TrackerSet:
    trackers: tuple[Tracker, ...]
    rules: dict[str, CategoryRules]  # per category; absent: CategoryRules()
    fuzzy_min_similarity: float
    context_lemmas: frozenset[str]
    customer_titles: tuple[str, ...] = ()

    def rules_for(self, category: str) -> CategoryRules:
        return self.rules.get(category) or CategoryRules()

    def call_context(
        self,
        call_type: str | None,
        title: str | None,
        earlier_cs_call: bool,
        thresholds: dict[str, float] | None = None,
    ) -> CallContext:
        """Whether the customer is an existing one: a customer-success call; or a sales call of
        an account that had a CS call already, or titled as one ("Renewal discussion"). With
        the topic thresholds of the call's team."""
        chosen = tuple(sorted((thresholds or {}).items()))
        if call_type is None:
            return CallContext(thresholds=chosen)
        words = (title or "").lower()
        existing = (
            call_type == "cs"
            or earlier_cs_call
            or any(re.search(rf"\b{re.escape(t)}\b", words) for t in self.customer_titles)
        )
        return CallContext(call_type, existing, chosen)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(tracker.category for tracker in self.trackers))

    def names(self) -> list[str]:
        """Canonical names of the proper-name trackers, for the ASR vocabulary prompt."""
        return [tracker.term for tracker in self.trackers if tracker.is_name]


def load_trackers(user_file: str | Path | None = None) -> TrackerSet:
    """The default trackers, with `user_file` (or $ANALYZER_TRACKERS) merged over them."""
    data = _read_yaml(default_trackers_path())
    user_file = user_file or os.environ.get(TRACKERS_ENV_VAR)
    if user_file:
        data = _merge(data, _read_yaml(Path(user_file)))
    return _build(data)


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise TrackerError(f"{path}: tracker file not found") from error
    except yaml.YAMLError as error:
        raise TrackerError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("trackers", []), list):
        raise TrackerError(f"{path}: expected a mapping with a 'trackers' list")
    return data


def _merge(base: dict, override: dict) -> dict:
    by_name = {item.get("name"): item for item in base.get("trackers", [])}
    for item in override.get("trackers", []):
        by_name[item.get("name") if isinstance(item, dict) else None] = item
    fuzzy = {**base.get("fuzzy", {}), **override.get("fuzzy", {})}
    categories = {**base.get("categories", {}), **override.get("categories", {})}
    context = {**base.get("context", {}), **override.get("context", {})}
    return {
        "categories": categories,
        "fuzzy": fuzzy,
        "context": context,
        "trackers": list(by_name.values()),
    }


def _build(data: dict) -> TrackerSet:
    trackers = [_tracker(item, number) for number, item in enumerate(data["trackers"], start=1)]
    names = [tracker.name for tracker in trackers]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TrackerError(f"duplicate tracker names: {', '.join(duplicates)}")
    rules = {
        str(category): _rules(category, settings)
        for category, settings in (data.get("categories") or {}).items()
    }
    fuzzy = data.get("fuzzy") or {}
    similarity = float(fuzzy.get("min_similarity", 0.75))
    if not 0.5 <= similarity <= 1.0:
        raise TrackerError(f"fuzzy.min_similarity must be between 0.5 and 1, got {similarity}")
    context = frozenset(str(word).lower() for word in fuzzy.get("context", ()))
    titles = tuple(str(t).lower() for t in (data.get("context") or {}).get("customer_titles", ()))
    return TrackerSet(tuple(trackers), rules, similarity, context, titles)


def _rules(category: str, settings: object) -> CategoryRules:
    settings = settings or {}
    if not isinstance(settings, dict):
        raise TrackerError(f"category '{category}': expected a mapping of settings")
    mode = settings.get("negation", "keep")
    if mode not in NEGATION_MODES:
        raise TrackerError(f"category '{category}': negation must be one of {NEGATION_MODES}")
    return CategoryRules(
        negation=mode,
        denied_by=tuple(str(p).strip().lower() for p in settings.get("denied_by", ()) if p),
        rep_questions=bool(settings.get("rep_questions", True)),
        customers_only=bool(settings.get("customers_only", False)),
        threshold=_threshold(category, settings.get("threshold", DEFAULT_THRESHOLD)),
    )


def _threshold(category: str, value: object) -> float:
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        threshold = -1.0
    if not 0.0 <= threshold <= 1.0:
        raise TrackerError(f"category '{category}': threshold must be between 0 and 1")
    return threshold


def _tracker(item: object, number: int) -> Tracker:
    if not isinstance(item, dict):
        raise TrackerError(f"tracker {number}: expected a mapping, got {type(item).__name__}")
    name = str(item.get("name") or "").strip()
    where = f"tracker {number} ('{name}')" if name else f"tracker {number}"
    if not name:
        raise TrackerError(f"{where}: missing 'name'")
    category = str(item.get("category") or "").strip()
    if not category or not category.replace("_", "").isalnum():
        raise TrackerError(f"{where}: 'category' must be a word like pricing or churn_signal")
    phrases = item.get("phrases")
    if not isinstance(phrases, list) or not phrases:
        raise TrackerError(f"{where}: 'phrases' must be a non-empty list")
    phrases = tuple(str(phrase).strip().lower() for phrase in phrases if str(phrase).strip())
    said_by = str(item.get("said_by", "anyone")).lower()
    if said_by not in SAID_BY:
        raise TrackerError(f"{where}: said_by '{said_by}' is not one of {', '.join(SAID_BY)}")
    term = item.get("term")
    return Tracker(
        name=name,
        category=category,
        phrases=phrases,
        term=str(term) if term else name,
        said_by=said_by,
        is_name=bool(term),
        ambiguous=bool(item.get("ambiguous", False)),
        fuzzy=bool(item.get("fuzzy", True)),
        not_near=tuple(str(word).lower() for word in item.get("not_near", ())),
        objects=tuple(str(word).lower() for word in item.get("objects", ())),
        needs_object=bool(item.get("needs_object", False)),
        with_competitor=bool(item.get("with_competitor", False)),
        not_vendors=bool(item.get("not_vendors", False)),
        integration=bool(item.get("integration", False)),
        needs_customer=bool(item.get("needs_customer", False)),
    )
