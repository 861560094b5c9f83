"""Precision, recall and F1 of tracked categories against gold labels, per utterance.

Two kinds of gold file:
- labeled utterances, JSON Lines (`*.jsonl`), scored by tagging their text (no ASR, no database):
    {"id": "u1", "role": "customer", "text": "...", "labels": ["pricing"], "competitors": []}
  with an optional "call" naming the conversation a turn belongs to: the turns of one call are
  tagged together, in file order, so a reply can take the topic of the question it answers.
- a labeled call (`*.json`, as `sample_calls/gold/`): `call_id` plus utterances with `start`,
  `end`, `role`, `labels`, `competitors`; scored against the mentions stored for that call_id,
  each stored mention counting for the gold utterance whose side and time span hold it. So a
  call ingested from audio is scored with its ASR errors, and the same gold file ingested as a
  transcript scores the tagging alone.
`labels` are categories; `competitors` the canonical names said, scored as a separate
"competitor names" row (each name in each utterance counts once).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import InputError
from analyzer.records import ROLES, CallContext, Mention, Utterance

NAMES_ROW = "competitor names"


# A stored mention belongs to a gold utterance when it starts within this margin of it.
TIME_MARGIN_S = 0.5


@dataclass(frozen=True)
class GoldUtterance:
    id: str
    role: str
    text: str
    labels: frozenset[str]
    competitors: frozenset[str] = frozenset()
    start_s: float = 0.0
    end_s: float = 0.0
    call: str = ""


@dataclass(frozen=True)
class GoldCall:
    call_id: str
    path: Path
    utterances: tuple[GoldUtterance, ...]
    call_type: str | None = None
    title: str | None = None
    account: str | None = None
    date: str | None = None


def gold_contexts(calls: Sequence[GoldCall], trackers) -> dict[str, CallContext]:
    """Each labeled call's context, as ingest would judge it from the calls before it."""
    contexts = {}
    for call in calls:
        earlier = any(
            other.account == call.account
            and other.call_id != call.call_id
            and other.call_type == "cs"
            and (other.date or "") <= (call.date or "")
            for other in calls
        )
        contexts[call.call_id] = trackers.call_context(call.call_type, call.title, earlier)
    return contexts


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
                    call=str(item.get("call", "")),
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


def evaluate_tagger(
    tagger,
    gold: Sequence[GoldUtterance],
    categories: Iterable[str] | None = None,
    contexts: dict[str, CallContext] | None = None,
) -> list[Score]:
    """Tag the gold texts (tagging alone, no ASR), one call at a time (with its context, when
    `contexts` knows it), and score the result."""
    found = tag_gold(tagger, gold, contexts)
    labels = [{m.category for m in mentions} for mentions in found]
    names = [{m.term for m in mentions if m.category == "competitor"} for mentions in found]
    if categories is None:
        categories = sorted({c for g in gold for c in g.labels} | set(tagger.categories))
    return score(gold, labels, names, categories)


def tag_gold(
    tagger, gold: Sequence[GoldUtterance], contexts: dict[str, CallContext] | None = None
) -> list[list[Mention]]:
    """The mentions the tagger finds in each gold utterance; the turns of a call are tagged
    together, in order, so a reply can take the topic of the question it answers."""
    found: list[list[Mention]] = [[] for _ in gold]
    calls: dict[str, list[int]] = {}
    for position, utterance in enumerate(gold):
        calls.setdefault(utterance.call or utterance.id, []).append(position)
    for call, positions in calls.items():
        # A gold turn has no speaker name; the role stands in for it.
        turns = [Utterance(gold[i].role, gold[i].role, 0.0, 1.0, gold[i].text) for i in positions]
        for mention in tagger.tag(turns, (contexts or {}).get(call)):
            found[positions[mention.utterance_idx]].append(mention)
    return found


def read_gold_call(path: Path) -> GoldCall:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        utterances = tuple(
            GoldUtterance(
                id=f"{data['call_id']}#{index}",
                role=item.get("role", "unknown"),
                text=item["text"],
                labels=frozenset(item.get("labels", ())),
                competitors=frozenset(item.get("competitors", ())),
                start_s=float(item["start"]),
                end_s=float(item["end"]),
            )
            for index, item in enumerate(data["utterances"])
        )
        return GoldCall(
            str(data["call_id"]),
            path,
            utterances,
            data.get("call_type"),
            data.get("title"),
            data.get("account"),
            data.get("date"),
        )
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"{path}: not a labeled call ({error!r})") from error


def read_any_gold(path: Path) -> list[GoldUtterance] | GoldCall:
    return read_gold(path) if path.suffix.lower() == ".jsonl" else read_gold_call(path)


def _owner(call: GoldCall, role: str, start_s: float) -> int | None:
    """Index of the gold utterance a mention at `start_s` said by `role` belongs to."""
    best, best_distance = None, None
    for index, utterance in enumerate(call.utterances):
        if role != "unknown" and utterance.role != role:
            continue
        if not utterance.start_s - TIME_MARGIN_S <= start_s <= utterance.end_s + TIME_MARGIN_S:
            continue
        inside = utterance.start_s <= start_s <= utterance.end_s
        distance = (0 if inside else 1, abs(start_s - (utterance.start_s + utterance.end_s) / 2))
        if best_distance is None or distance < best_distance:
            best, best_distance = index, distance
    return best


def evaluate_stored(
    store, calls: Sequence[GoldCall], categories: Iterable[str], tagger, trackers=None
) -> list[Score]:
    """Tag the transcript stored for each gold call (the ASR output, for a call ingested from
    audio), in its context as stored (judged by `trackers`, when given), and score each mention
    against the gold utterance whose side and time hold it."""
    missing = [call.call_id for call in calls if store.find_call(call.call_id) is None]
    if missing:
        raise InputError(f"not in {store.path}: {', '.join(missing)} (ingest those calls first)")
    gold: list[GoldUtterance] = []
    labels: list[set[str]] = []
    names: list[set[str]] = []
    for call in calls:
        offset = len(gold)
        gold.extend(call.utterances)
        labels.extend(set() for _ in call.utterances)
        names.extend(set() for _ in call.utterances)
        utterances = store.utterances(call.call_id)
        context = trackers.call_context(*store.context_inputs(call.call_id)) if trackers else None
        for mention in tagger.tag(utterances, context):
            role = utterances[mention.utterance_idx].role
            owner = _owner(call, role, mention.start_s)
            if owner is None:  # tagged where nothing was said: a false positive of its own
                gold.append(GoldUtterance("stray", role, "", frozenset()))
                labels.append({mention.category})
                names.append({mention.term} if mention.category == "competitor" else set())
                continue
            labels[offset + owner].add(mention.category)
            if mention.category == "competitor":
                names[offset + owner].add(mention.term)
    return score(gold, labels, names, categories)
