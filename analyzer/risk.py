"""Account churn risk with its evidence, and per-call warnings.

Risk points come from moments, each kept as evidence (quote, call, date, second):
- churn signals said by the customer in customer-success calls,
- competitors named in CS calls (CRMs the customer integrates with excluded),
- pain points in CS calls,
- customer tone (VADER) falling from earlier calls to the latest, or negative in the latest,
- silence: no call for much longer than the account's usual gap between calls.
Moment points decay with age (half-life in models/risk.yaml); the score is
100 * (1 - exp(-points / scale)). In sales calls such words concern the prospect's current
vendor, so they do not count.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from analyzer.config import models_dir
from analyzer.metrics import is_question


@dataclass(frozen=True)
class RiskConfig:
    scale: float
    half_life_days: float
    churn_signal: float
    competitor_in_cs_call: float
    pain_point_in_cs_call: float
    sentiment_drop: float
    negative_last_call: float
    sentiment_positive: float
    silence: float
    default_cadence_days: float
    crm: frozenset[str]
    next_step_phrases: tuple[str, ...]
    next_step_window_utterances: int
    competitor_response_window_s: float


def load_config(path: Path | None = None) -> RiskConfig:
    data = yaml.safe_load((path or models_dir() / "risk.yaml").read_text(encoding="utf-8"))
    data["crm"] = frozenset(data.get("crm", ()))
    data["next_step_phrases"] = tuple(p.lower() for p in data.get("next_step_phrases", ()))
    return RiskConfig(**data)


KIND_LABELS = {"churn_signal": "churn signals", "competitor": "competitor mentions",
               "pain_point": "pain points", "sentiment": "tone", "silence": "silence"}  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    kind: str  # churn_signal, competitor, pain_point, sentiment, silence
    points: float
    detail: str
    call_id: str | None = None
    call_date: dt.date | None = None
    second: float | None = None
    quote: str | None = None


@dataclass(frozen=True)
class AccountRisk:
    account: str
    score: int
    points: float
    calls: int
    last_call: dt.date
    evidence: tuple[Evidence, ...]  # biggest contribution first

    def summary(self, kinds: int = 2) -> str:
        """The kinds of evidence that weigh most, e.g. "4 churn signals (32 pts) · tone (11)"."""
        totals: dict[str, list[Evidence]] = {}
        for item in self.evidence:
            totals.setdefault(item.kind, []).append(item)
        ranked = sorted(totals.items(), key=lambda kv: -sum(e.points for e in kv[1]))[:kinds]
        parts = []
        for kind, items in ranked:
            points = sum(e.points for e in items)
            label = KIND_LABELS.get(kind, kind)
            what = items[0].detail if len(items) == 1 else f"{len(items)} × {label}"
            parts.append(f"{what} ({points:.0f} pts)")
        return " · ".join(parts)


@lru_cache(maxsize=1)
def _sentiment():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def tone(text: str) -> float:
    """VADER compound score, -1 (negative) to 1 (positive)."""
    return _sentiment().polarity_scores(text)["compound"]


def _decay(config: RiskConfig, as_of: dt.date, when: dt.date) -> float:
    age = max(0, (as_of - when).days)
    return 0.5 ** (age / config.half_life_days)


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def account_risks(
    calls: pd.DataFrame,
    mentions: pd.DataFrame,
    utterances: pd.DataFrame,
    config: RiskConfig | None = None,
    as_of: dt.date | None = None,
) -> list[AccountRisk]:
    """Risk per account, highest first.

    calls: call_id, account, call_type, call_date; mentions: call_id, category, term, role,
    snippet, start_s; utterances (customer side): call_id, text, start_s.
    """
    config = config or load_config()
    if calls.empty:
        return []
    calls = calls.dropna(subset=["account", "call_date"])
    as_of = as_of or max(_date(d) for d in calls["call_date"])
    by_call = calls.set_index("call_id")
    risks = []
    for account, own in calls.groupby("account"):
        own = own.sort_values("call_date")
        evidence: list[Evidence] = []
        evidence += _moment_evidence(
            config, as_of, by_call, mentions[mentions["call_id"].isin(own["call_id"])]
        )
        evidence += _tone_evidence(config, own, utterances)
        evidence += _silence_evidence(config, own, as_of)
        evidence.sort(key=lambda e: -e.points)
        points = sum(e.points for e in evidence)
        risks.append(
            AccountRisk(
                account=account,
                score=round(100 * (1 - math.exp(-points / config.scale))),
                points=round(points, 2),
                calls=len(own),
                last_call=_date(own["call_date"].iloc[-1]),
                evidence=tuple(evidence),
            )
        )
    return sorted(risks, key=lambda r: (-r.score, r.account))


def _moment_evidence(config, as_of, by_call, mentions: pd.DataFrame) -> list[Evidence]:
    found = []
    weights = {
        "churn_signal": config.churn_signal,
        "competitor": config.competitor_in_cs_call,
        "pain_point": config.pain_point_in_cs_call,
    }
    for m in mentions.itertuples():
        call = by_call.loc[m.call_id]
        if call["call_type"] == "sales" or m.category not in weights or m.role == "rep":
            continue
        if m.category == "competitor" and m.term in config.crm:
            continue
        when = _date(call["call_date"])
        points = weights[m.category] * _decay(config, as_of, when)
        label = {
            "churn_signal": "Churn signal",
            "competitor": f"Competitor: {m.term}",
            "pain_point": "Pain point",
        }[m.category]
        found.append(
            Evidence(m.category, round(points, 2), label, m.call_id, when, m.start_s, m.snippet)
        )
    return found


def _tone_evidence(config, own: pd.DataFrame, utterances: pd.DataFrame) -> list[Evidence]:
    own = own[own["call_type"] != "sales"]
    per_call = []
    for call in own.itertuples():
        said = utterances[utterances["call_id"] == call.call_id]
        if said.empty:
            continue
        scores = [tone(text) for text in said["text"]]
        worst = int(pd.Series(scores).idxmin()) if scores else 0
        per_call.append((call, sum(scores) / len(scores), said.iloc[worst], scores[worst]))
    if not per_call:
        return []
    last, last_tone, worst_row, _ = per_call[-1]
    found = []
    if len(per_call) > 1 and last_tone < config.sentiment_positive:
        before = sum(t for _, t, _, _ in per_call[:-1]) / (len(per_call) - 1)
        drop = before - last_tone
        if drop > 0:
            points = config.sentiment_drop * min(1.0, drop / 0.5)
            found.append(
                Evidence(
                    "sentiment",
                    round(points, 2),
                    f"Customer tone fell from {before:+.2f} to {last_tone:+.2f}",
                    last.call_id,
                    _date(last.call_date),
                    worst_row["start_s"],
                    worst_row["text"],
                )
            )
    if last_tone < 0:
        points = config.negative_last_call * min(1.0, -last_tone / 0.5)
        found.append(
            Evidence(
                "sentiment",
                round(points, 2),
                f"Negative customer tone ({last_tone:+.2f})",
                last.call_id,
                _date(last.call_date),
                worst_row["start_s"],
                worst_row["text"],
            )
        )
    return found


def _silence_evidence(config, own: pd.DataFrame, as_of: dt.date) -> list[Evidence]:
    """Only customers (accounts with CS calls) go quiet; a prospect between deals does not."""
    own = own[own["call_type"] != "sales"]
    if own.empty:
        return []
    dates = sorted({_date(d) for d in own["call_date"]})
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    cadence = float(pd.Series(gaps).median()) if gaps else config.default_cadence_days
    quiet = (as_of - dates[-1]).days
    overdue = quiet / max(cadence, 1.0)
    if overdue <= 1.5:
        return []
    points = config.silence * min(2.0, overdue - 1)
    detail = f"No call for {quiet} days (usually every {cadence:.0f})"
    return [Evidence("silence", round(points, 2), detail, None, dates[-1])]


# --- per-call warnings -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallWarning:
    call_id: str
    kind: str
    message: str
    second: float | None = None


def call_warnings(
    call: dict,
    utterances: pd.DataFrame,
    mentions: pd.DataFrame,
    earlier_sales_calls: int,
    config: RiskConfig | None = None,
) -> list[CallWarning]:
    """Deal warnings for one call. `utterances`: idx, role, start_s, end_s, text;
    `mentions`: category, term, role, start_s; `earlier_sales_calls`: the account's sales calls
    before this one (a later-stage call should discuss pricing)."""
    config = config or load_config()
    found: list[CallWarning] = []
    call_id = call["call_id"]
    categories = set(mentions["category"]) if not mentions.empty else set()
    if (
        call.get("call_type") == "sales"
        and earlier_sales_calls >= 1
        and "pricing" not in categories
    ):
        found.append(
            CallWarning(
                call_id,
                "pricing_not_discussed",
                "Pricing not discussed in a later-stage sales call",
            )
        )
    rep_turns = utterances[utterances["role"] == "rep"]
    for m in mentions.itertuples():
        if m.category != "competitor" or m.role == "rep" or m.term in config.crm:
            continue
        after = rep_turns[
            (rep_turns["start_s"] >= m.start_s)
            & (rep_turns["start_s"] <= m.start_s + config.competitor_response_window_s)
        ]
        engaged = any(m.term.lower() in text.lower() or is_question(text) for text in after["text"])
        if not engaged:
            found.append(
                CallWarning(
                    call_id,
                    "competitor_no_response",
                    f"{m.term} mentioned, no response from the rep",
                    m.start_s,
                )
            )
    churn = mentions[(mentions["category"] == "churn_signal") & (mentions["role"] != "rep")]
    if not churn.empty:
        closing = utterances.tail(config.next_step_window_utterances)["text"].str.lower()
        if not any(p in text for text in closing for p in config.next_step_phrases):
            found.append(
                CallWarning(
                    call_id,
                    "churn_no_next_step",
                    "Churn signal with no next step agreed at the end",
                    float(churn["start_s"].iloc[0]),
                )
            )
    return found
