"""Real customer language written by others (`../shared/data/real/`), mapped to our topics.

    python -m bench.real_sets score [--sets banking77 nlupp ...]    # P / R / F1 and false alarms
    python -m bench.real_sets examples                              # rewrite models/examples/real_*

Four public sets of real customer requests (consumer banking, hotels, shops, an assistant), each
mapped to docs/topics.md by its own intent labels. The mapping is ours (below); where an intent
is neither clearly a topic nor clearly not one, its lines are left out of training and scoring.

- banking77 (PolyAI, CC BY 4.0): 10,003 online-banking queries, 77 intents. churn_signal =
  terminate_account; pricing = fees, charges and exchange rates; pain_point = things that failed,
  were declined, are missing or stuck.
- nlupp (NLU++, PolyAI, CC BY 4.0): 3,080 banking and hotel turns from real dialogues, with
  the folder's own mapping (mapped_utterances.jsonl).
- clinc150 (CC BY 3.0): 23,700 assistant queries, 150 intents, the folder's mapping; no churn,
  so it measures false alarms ("cancel my reservation" is not churn).
- hint3 (ODbL): 3,769 queries sent to three live shop and game chatbots, the folder's mapping;
  order cancellations are not churn. Scored only, never trained on (share-alike licence).

Training takes a seeded sample of banking77, nlupp and clinc150 (`examples`) into
`models/examples/real_<set>/`: each set is one writer, so `analyzer train` already reports how
each head does on a set it was not trained on. `score` is cross-source: a set that is among the
examples is scored by heads trained without it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
EXAMPLES = ROOT / "models" / "examples"
BANKING77_TEST = ROOT / "bench" / "data" / "banking77_test.csv"  # held out: bench/data/README.md
CATEGORIES = ("pricing", "demo", "pain_point", "churn_signal")
SEED = 0

BANKING77_TOPICS = {
    "terminate_account": ("churn_signal",),
    **dict.fromkeys(
        (
            "card_payment_fee_charged cash_withdrawal_charge exchange_charge "
            "extra_charge_on_statement top_up_by_bank_transfer_charge top_up_by_card_charge "
            "transfer_fee_charged exchange_rate"
        ).split(),
        ("pricing",),
    ),
    **dict.fromkeys(
        "card_payment_wrong_exchange_rate wrong_exchange_rate_for_cash_withdrawal".split(),
        ("pricing", "pain_point"),
    ),
    **dict.fromkeys(
        (
            "card_not_working contactless_not_working virtual_card_not_working "
            "declined_card_payment declined_cash_withdrawal declined_transfer failed_transfer "
            "top_up_failed pin_blocked card_swallowed compromised_card lost_or_stolen_card "
            "balance_not_updated_after_bank_transfer "
            "balance_not_updated_after_cheque_or_cash_deposit transaction_charged_twice "
            "wrong_amount_of_cash_received transfer_not_received_by_recipient "
            "Refund_not_showing_up card_payment_not_recognised cash_withdrawal_not_recognised "
            "direct_debit_payment_not_recognised unable_to_verify_identity top_up_reverted "
            "reverted_card_payment?"
        ).split(),
        ("pain_point",),
    ),
}
# Neither clearly a topic nor clearly not: a refund of a shop's payment, a card still on its
# way, a payment or transfer still pending, a phone lost, a blocked beneficiary.
BANKING77_UNCLEAR = frozenset(
    "request_refund card_arrival pending_card_payment pending_cash_withdrawal pending_top_up "
    "pending_transfer lost_or_stolen_phone beneficiary_not_allowed".split()
)


@dataclass(frozen=True)
class Request:
    """One real customer line, with the topics it carries under docs/topics.md."""

    text: str
    topics: frozenset[str]
    intent: str
    unclear: bool = False  # left out of training and scoring


def load(name: str) -> list[Request]:
    """Every line of one set, mapped."""
    if name in ("banking77", "banking77_test"):
        path = REAL / "banking77_train" / "train.csv" if name == "banking77" else BANKING77_TEST
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [
            Request(
                row["text"].strip(),
                frozenset(BANKING77_TOPICS.get(row["category"], ())),
                row["category"],
                row["category"] in BANKING77_UNCLEAR,
            )
            for row in rows
        ]
    rows = [json.loads(line) for line in (REAL / name / "mapped_utterances.jsonl").open()]
    return [
        Request(
            row["text"].strip(),
            frozenset(row["topics"]),
            "+".join(row["orig_labels"]),
            # hint3's "out of scope" holds unlabelled real requests, not clean negatives
            unclear="NO_NODES_DETECTED" in row["orig_labels"],
        )
        for row in rows
        if row["text"].strip()
    ]


SETS = ("banking77", "nlupp", "clinc150", "hint3", "banking77_test")
TRAINED = ("banking77", "nlupp", "clinc150")  # hint3 is share-alike: scored, never trained on


# --- training examples ----------------------------------------------------------------------


# Lines taken for training, per set: every churn line (they are rare), up to this many of each
# other topic, and up to NONE_LINES of no topic, drawn across intents so that each is heard.
TOPIC_LINES = 120
NONE_LINES = {"banking77": 500, "nlupp": 400, "clinc150": 800}


def sample(name: str, requests: Sequence[Request]) -> list[Request]:
    """The lines of one set taken as training examples (seeded)."""
    rng = random.Random(SEED)
    usable = [r for r in requests if not r.unclear]
    rng.shuffle(usable)
    picked = [r for r in usable if "churn_signal" in r.topics]
    for category in ("pricing", "demo", "pain_point"):
        picked += [r for r in usable if category in r.topics and r not in picked][:TOPIC_LINES]
    by_intent: dict[str, list[Request]] = {}
    for request in usable:
        if not request.topics:
            by_intent.setdefault(request.intent, []).append(request)
    none, rows = [], [by_intent[intent] for intent in sorted(by_intent)]
    while len(none) < NONE_LINES[name] and any(rows):
        for row in rows:
            if row and len(none) < NONE_LINES[name]:
                none.append(row.pop())
    return picked + none


HARD_NEGATIVES = 60
KEY_WORDS = 12
_WORDS = re.compile(r"[a-z]+")
_STOP = frozenset(
    "i my me you your the a an to of and or is it in on for do can how what why this that be "
    "was have has with im i'm want would like please need there are not no get".split()
)


def hard_negatives(category: str, requests: Sequence[Request]) -> list[str]:
    """Lines of the set without `category` that use its positives' commonest words ("cancel
    my transfer" against "cancel my account"): the negatives that teach the most."""
    counts: dict[str, int] = {}
    for request in requests:
        if category in request.topics:
            for word in set(_WORDS.findall(request.text.lower())) - _STOP:
                counts[word] = counts.get(word, 0) + 1
    keys = set(sorted(counts, key=lambda w: (-counts[w], w))[:KEY_WORDS])
    found = [
        r.text
        for r in requests
        if not r.unclear and category not in r.topics and keys & set(_WORDS.findall(r.text.lower()))
    ]
    random.Random(SEED).shuffle(found)
    return found[:HARD_NEGATIVES]


def write_examples(name: str, requests: Sequence[Request], picked: Sequence[Request]) -> None:
    """`models/examples/real_<name>/`: a file per topic (the picked lines carrying it as
    positives, hard negatives from the whole set) and none.yaml (picked lines of no topic)."""
    folder = EXAMPLES / f"real_{name}"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    said_by = {"pain_point": "customer", "churn_signal": "customer"}
    for category in CATEGORIES:
        positives = [r.text for r in picked if category in r.topics]
        if len(positives) < 5:
            continue
        body = {
            "category": category,
            "said_by": said_by.get(category, "anyone"),
            "description": f"Real {name} customer requests mapped to {category} "
            "(bench/real_sets.py, after docs/topics.md).",
            "positives": positives,
            "negatives": hard_negatives(category, requests),
        }
        _dump(folder / f"{category}.yaml", body)
    _dump(
        folder / "none.yaml",
        {
            "category": "none",
            "description": f"Real {name} customer requests that carry none of the topics.",
            "negatives": [r.text for r in picked if not r.topics],
        },
    )


def _dump(path: Path, body: dict) -> None:
    lines = [f"category: {body['category']}"]
    if "said_by" in body:
        lines.append(f"said_by: {body['said_by']}")
    lines.append(f"description: {json.dumps(body['description'])}")
    for key in ("positives", "negatives"):
        if key in body:
            lines.append(f"{key}:" + ("" if body[key] else " []"))
            lines += [f"  - {json.dumps(text, ensure_ascii=False)}" for text in body[key]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- scoring --------------------------------------------------------------------------------


def tag_requests(tagger, requests: Sequence[Request]) -> list[set[str]]:
    """The topics the tagger finds in each request: each a customer's turn of its own, in a
    customer-service call (they are existing customers of the bank, shop or hotel)."""
    from analyzer.records import CallContext, Utterance

    service = CallContext("cs", existing_customer=True)
    found = []
    for request in requests:
        turn = Utterance("customer", "customer", 0.0, 1.0, request.text)
        found.append({m.category for m in tagger.tag([turn], service)})
    return found


def rates(requests: Sequence[Request], found: Sequence[set[str]], category: str) -> dict:
    scored = [(r, f) for r, f in zip(requests, found, strict=True) if not r.unclear]
    tp = sum(category in r.topics and category in f for r, f in scored)
    fp = sum(category not in r.topics and category in f for r, f in scored)
    positives = sum(category in r.topics for r, _ in scored)
    negatives = len(scored) - positives
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives if positives else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if positives and precision + recall else 0.0
    return {"support": positives, "precision": precision, "recall": recall, "f1": f1,
            "false_alarm_rate": fp / negatives if negatives else 0.0}  # fmt: skip


def report(name: str, requests: Sequence[Request], found: Sequence[set[str]], how: str) -> str:
    lines = [f"#### {name} ({sum(not r.unclear for r in requests)} lines; {how})", "",
             "| category | support | precision | recall | F1 | false alarms |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for category in CATEGORIES:
        row = rates(requests, found, category)
        if row["support"]:
            lines.append(
                f"| {category} | {row['support']} | {row['precision']:.2f} | "
                f"{row['recall']:.2f} | {row['f1']:.2f} | {100 * row['false_alarm_rate']:.2f} % |"
            )
        else:
            lines.append(f"| {category} | 0 | – | – | – | {100 * row['false_alarm_rate']:.2f} % |")
    return "\n".join(lines) + "\n"


def tagger_without(name: str):
    """The combined tagger as shipped, but with its encoder tuned and its heads trained without
    the examples taken from `name` (its split, for banking77_test), so that the set is scored
    by models that never saw it; as shipped when the set is not among the examples."""
    from analyzer import smart, tuning
    from analyzer.combined import CombinedTagger, load_smart_tagger
    from analyzer.smart import SmartTagger
    from analyzer.tagging import KeywordTagger
    from analyzer.trackers import load_trackers

    keyword = KeywordTagger(load_trackers())
    shipped = load_smart_tagger()
    writer = f"real_{name.removesuffix('_test')}"
    if not (EXAMPLES / writer).exists():
        return CombinedTagger(keyword, shipped), "as shipped (never trained on this set)"
    examples = smart.load_examples(EXAMPLES)
    embedder = tuning.tuned_embedder(examples, writer)
    trackers = smart.train([e for e in examples if e.writer != writer], embedder)
    tagger = SmartTagger(trackers, embedder, shipped.calibration)
    return CombinedTagger(keyword, tagger), f"encoder and heads trained without {writer}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("score", "examples"))
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    args = parser.parse_args()
    if not REAL.exists():
        raise SystemExit(f"{REAL} not found: these sets live beside the checkout, in ../shared")
    if args.command == "examples":
        for name in TRAINED:
            requests = load(name)
            picked = sample(name, requests)
            write_examples(name, requests, picked)
            print(f"{name}: {len(picked)} lines -> models/examples/real_{name}/")
        return
    for name in args.sets:
        requests = load(name)
        tagger, how = tagger_without(name)
        print(report(name, requests, tag_requests(tagger, requests), how))


if __name__ == "__main__":
    main()
