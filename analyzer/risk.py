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
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    evidence: tuple[Evidence, ...]  # biggest contribution first, at most MAX_EVIDENCE moments
    totals: tuple[tuple[str, int, float], ...] = ()  # (kind, items, points), every item counted

    def summary(self, kinds: int = 2) -> str:
        """The kinds of evidence that weigh most, e.g. "4 churn signals (32 pts) · tone (11)"."""
        parts = []
        for kind, count, points in sorted(self.totals, key=lambda t: -t[2])[:kinds]:
            label = KIND_LABELS.get(kind, kind)
            first = next((e for e in self.evidence if e.kind == kind), None)  # may be unlisted
            what = first.detail if count == 1 and first else f"{count} × {label}"
            parts.append(f"{what} ({points:.0f} pts)")
        return " · ".join(parts)


# Moments beyond these, per account, count in the score and the totals but are not listed.
MAX_EVIDENCE = 50

# Moments are scored where their rows are, in SQL: `risky` is a relation of mention rows with
# their call (call_id, account, call_type, call_date, category, term, role, snippet, start_s).
# Churn signals, competitors (not the CRMs customers integrate with) and pain points said by
# the customer in calls that are not sales calls, each with its points decayed by age.
MOMENTS = """, moments AS (
    SELECT account, category AS kind, term, snippet, start_s, call_id,
           call_date::DATE AS call_date,
           round(CASE category WHEN 'churn_signal' THEN ?::DOUBLE
                               WHEN 'competitor' THEN ?::DOUBLE ELSE ?::DOUBLE END
                 * pow(0.5, greatest(date_diff('day', call_date::DATE, ?::DATE), 0) / ?::DOUBLE),
                 2) AS points
    FROM risky
    WHERE call_type IS DISTINCT FROM 'sales' AND role IS DISTINCT FROM 'rep'
      AND category IN ('churn_signal', 'competitor', 'pain_point')
      AND NOT (category = 'competitor'
               AND coalesce(list_contains(?::VARCHAR[], term::VARCHAR), false))
      AND account IS NOT NULL AND call_date IS NOT NULL
)"""
# Per (account, kind): how many moments and their points; and each account's weightiest ones.
TOTALS = """ SELECT account, kind, count(*) AS items, round(sum(points), 2) AS points
    FROM moments GROUP BY ALL ORDER BY ALL"""
LISTED = f""" SELECT * FROM moments QUALIFY row_number() OVER (
    PARTITION BY account ORDER BY points DESC, call_date DESC, start_s, call_id
) <= {MAX_EVIDENCE}"""


def moment_params(config: RiskConfig, as_of: dt.date) -> list:
    """The parameters of MOMENTS, in order."""
    return [config.churn_signal, config.competitor_in_cs_call, config.pain_point_in_cs_call,
            as_of, config.half_life_days, sorted(config.crm)]  # fmt: skip


def as_of_date(calls: pd.DataFrame) -> dt.date | None:
    """The day risk is judged on by default: the latest call's."""
    dates = calls.dropna(subset=["account", "call_date"])["call_date"]
    return pd.to_datetime(dates).max().date() if len(dates) else None


def score_moments(
    calls: pd.DataFrame, mentions: pd.DataFrame, config: RiskConfig, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(totals, listed) from frames in memory, by the SQL `Queries.risk_inputs` runs on the
    database. mentions: call_id, category, term, role, snippet, start_s."""
    import duckdb

    with duckdb.connect() as connection:
        connection.register("calls_frame", calls)
        connection.register("mentions_frame", mentions)
        risky = """WITH risky AS (SELECT m.*, c.account, c.call_type, c.call_date
                   FROM mentions_frame m JOIN calls_frame c USING (call_id))"""
        params = moment_params(config, as_of)
        totals, listed = (
            connection.execute(risky + MOMENTS + query, params).df() for query in (TOTALS, LISTED)
        )
    return totals, listed


def account_risks(
    calls: pd.DataFrame,
    totals: pd.DataFrame,
    listed: pd.DataFrame,
    tones: pd.DataFrame,
    config: RiskConfig | None = None,
    as_of: dt.date | None = None,
) -> list[AccountRisk]:
    """Risk per account, highest first; `Queries.risk_inputs` (or `score_moments`) gives the
    frames, scored with the same `config` and `as_of`.

    calls: call_id, account, call_type, call_date; totals: account, kind, items, points;
    listed: each account's weightiest moments (the columns of MOMENTS); tones (customer side of
    each CS call): call_id, tone (mean), worst_text, worst_start_s. Each account then costs a
    few list operations.
    """
    config = config or load_config()
    calls = calls.dropna(subset=["account", "call_date"])
    if calls.empty:
        return []
    calls = calls.assign(call_date=pd.to_datetime(calls["call_date"]).dt.date)
    calls = calls.sort_values(["account", "call_date", "call_id"], kind="stable")
    as_of = as_of or as_of_date(calls)
    kinds_of: dict[str, dict[str, tuple[int, float]]] = {}
    for account, kind, items, points in zip(
        *(totals[c].tolist() for c in ("account", "kind", "items", "points")), strict=True
    ):
        kinds_of.setdefault(account, {})[kind] = (int(items), float(points))
    evidence = _listed_evidence(listed)
    tone_of = {
        row.call_id: (float(row.tone), row.worst_text, row.worst_start_s)
        for row in tones.itertuples(index=False)
        if pd.notna(row.tone)
    }
    risks = []
    for account, ids, types, dates in _calls_by_account(calls):
        cs = [(i, d) for i, t, d in zip(ids, types, dates, strict=True) if t != "sales"]
        found = list(evidence.get(account, ()))
        kinds = dict(kinds_of.get(account, {}))
        for extra in _tone_evidence(config, cs, tone_of) + _silence_evidence(config, cs, as_of):
            found.append(extra)
            count, points = kinds.get(extra.kind, (0, 0.0))
            kinds[extra.kind] = (count + 1, points + extra.points)
        found.sort(key=lambda e: -e.points)
        points = sum(points for _, points in kinds.values())
        risks.append(
            AccountRisk(
                account=account,
                score=round(100 * (1 - math.exp(-points / config.scale))),
                points=round(points, 2),
                calls=len(ids),
                last_call=dates[-1],
                evidence=tuple(found),
                totals=tuple((kind, *total) for kind, total in kinds.items()),
            )
        )
    return sorted(risks, key=lambda r: (-r.score, r.account))


def _calls_by_account(calls: pd.DataFrame):
    """(account, call ids, call types, dates) per account, calls by date; `calls` is sorted."""
    accounts = calls["account"].to_numpy()
    bounds = np.flatnonzero(accounts[1:] != accounts[:-1]) + 1
    columns = [calls[c].tolist() for c in ("call_id", "call_type", "call_date")]
    for first, last in zip(np.r_[0, bounds], np.r_[bounds, len(accounts)], strict=True):
        yield accounts[first], *(column[first:last] for column in columns)


LABELS = {"churn_signal": "Churn signal", "pain_point": "Pain point"}


def _listed_evidence(listed: pd.DataFrame) -> dict[str, list[Evidence]]:
    """Each account's listed moments as evidence, weightiest first (among equals, newest)."""
    listed = listed.sort_values(
        ["points", "call_date", "start_s"], ascending=[False, False, True], kind="stable"
    )
    evidence: dict[str, list[Evidence]] = {}
    columns = ("account", "kind", "term", "points", "call_id", "call_date", "start_s", "snippet")
    for account, kind, term, points, call_id, day, second, quote in zip(
        *(listed[c].tolist() for c in columns), strict=True
    ):
        label = f"Competitor: {term}" if kind == "competitor" else LABELS[kind]
        day = day.date() if isinstance(day, dt.datetime) else day
        evidence.setdefault(account, []).append(
            Evidence(kind, points, label, call_id, day, second, quote)
        )
    return evidence


def _tone_evidence(config, cs_calls: list, tone_of: dict) -> list[Evidence]:
    """Customer tone (VADER, stored per utterance) falling to the latest CS call, or negative
    in it; the quote is that call's most negative line. `cs_calls`: (call_id, date) by date."""
    per_call = [(call_id, day, *tone_of[call_id]) for call_id, day in cs_calls
                if call_id in tone_of]  # fmt: skip
    if not per_call:
        return []
    call_id, day, last_tone, quote, second = per_call[-1]
    found = []
    if len(per_call) > 1 and last_tone < config.sentiment_positive:
        before = sum(t[2] for t in per_call[:-1]) / (len(per_call) - 1)
        drop = before - last_tone
        if drop > 0:
            points = config.sentiment_drop * min(1.0, drop / 0.5)
            detail = f"Customer tone fell from {before:+.2f} to {last_tone:+.2f}"
            found.append(
                Evidence("sentiment", round(points, 2), detail, call_id, day, second, quote)
            )
    if last_tone < 0:
        points = config.negative_last_call * min(1.0, -last_tone / 0.5)
        detail = f"Negative customer tone ({last_tone:+.2f})"
        found.append(Evidence("sentiment", round(points, 2), detail, call_id, day, second, quote))
    return found


def _silence_evidence(config, cs_calls: list, as_of: dt.date) -> list[Evidence]:
    """Only customers (accounts with CS calls) go quiet; a prospect between deals does not."""
    if not cs_calls:
        return []
    dates = sorted({day for _, day in cs_calls})
    gaps = [(b - a).days for a, b in zip(dates, dates[1:], strict=False)]
    cadence = float(statistics.median(gaps)) if gaps else config.default_cadence_days
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
