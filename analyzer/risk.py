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
from pathlib import Path

import pandas as pd
import yaml

from analyzer.config import models_dir
from analyzer.metrics import is_question
from analyzer.trackers import load_trackers


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
    data["crm"] = frozenset(t.term for t in load_trackers().trackers if t.integration)
    data["next_step_phrases"] = tuple(p.lower() for p in data.get("next_step_phrases", ()))
    return RiskConfig(**data)


KIND_LABELS = {"churn_signal": "churn signals", "competitor": "competitor mentions",
               "pain_point": "pain points", "sentiment": "tone", "silence": "silence"}  # fmt: skip


@dataclass(frozen=True, slots=True)  # slots: thousands are made per ranking
class Evidence:
    kind: str  # churn_signal, competitor, pain_point, sentiment, silence
    points: float
    detail: str
    call_id: str | None = None
    call_date: dt.date | None = None
    second: float | None = None
    quote: str | None = None
    sure: float | None = None  # the moment's calibrated probability (tone, silence: none)


@dataclass(frozen=True, slots=True)
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
# The riskiest accounts the Accounts page explains (the others by filtering for them).
EXPLAINED = 25

# The rows that can carry risk: churn signals, competitors and pain points said by the customer
# in calls that are not sales calls.
RISKY_ROWS = """call_type IS DISTINCT FROM 'sales' AND role IS DISTINCT FROM 'rep'
      AND category IN ('churn_signal', 'competitor', 'pain_point')
      AND account IS NOT NULL AND call_date IS NOT NULL"""
# Moments are scored where their rows are, in SQL: `risky` is a relation of such rows, mentions
# or mention counts (per call, or per account and day), with their call (call_id, account,
# call_type, call_date, category, term, role, n = how many mentions the row stands for, w =
# their summed probability; mention rows add snippet and start_s). Competitors that are CRMs
# customers integrate with are left out; each moment's points are weighed by its probability
# (how sure the tagger is) and decay with age.
MOMENTS = """, moments AS (
    SELECT r.* EXCLUDE (category, call_date), r.category AS kind,
           r.call_date::DATE AS call_date,
           CASE r.category WHEN 'churn_signal' THEN ?::DOUBLE
                           WHEN 'competitor' THEN ?::DOUBLE ELSE ?::DOUBLE END
           * pow(0.5, greatest(date_diff('day', r.call_date::DATE, ?::DATE), 0) / ?::DOUBLE)
           * r.w AS points
    FROM risky r
    WHERE NOT (category = 'competitor'
               AND coalesce(list_contains(?::VARCHAR[], term::VARCHAR), false))
)"""
# Per (account, kind): how many moments and their points; and each account's weightiest ones.
TOTALS = """ SELECT account, kind, sum(n)::INTEGER AS items, round(sum(points), 2) AS points
    FROM moments GROUP BY ALL ORDER BY ALL"""
LISTED = f""" SELECT account, kind, term, snippet, start_s, call_id, call_date,
           round(points, 2) AS points, w AS sure
    FROM moments QUALIFY row_number() OVER (
        PARTITION BY account ORDER BY points DESC, call_date DESC, start_s, call_id
    ) <= {MAX_EVIDENCE}"""
# Per account, from `picked` (its calls) and `tones` (call_id, tone, worst_text, worst_start_s:
# each call's customer-side mean tone and most negative line): how many calls and the latest;
# the customer's tone in the latest customer-success call that has one, with that call's most
# negative line, and their mean tone in the ones before; the last CS call's date and the usual
# gap between CS calls (median, in days).
ACCOUNTS = """, cs AS (
    SELECT p.call_id, p.account, p.call_date::DATE AS day, t.tone, t.worst_text, t.worst_start_s
    FROM picked p LEFT JOIN tones t USING (call_id)
    WHERE p.call_type IS DISTINCT FROM 'sales'
      AND p.account IS NOT NULL AND p.call_date IS NOT NULL
), toned AS (
    SELECT *, row_number() OVER (PARTITION BY account ORDER BY day DESC, call_id DESC) AS recent,
           count(*) OVER (PARTITION BY account) AS n, sum(tone) OVER (PARTITION BY account) AS total
    FROM cs WHERE tone IS NOT NULL
), latest_tone AS (
    SELECT account, call_id AS tone_call_id, day AS tone_day, tone,
           worst_text AS tone_quote, worst_start_s AS tone_second,
           CASE WHEN n > 1 THEN (total - tone) / (n - 1) END AS tone_before
    FROM toned WHERE recent = 1
), gaps AS (
    SELECT account, day,
           date_diff('day', lag(day) OVER (PARTITION BY account ORDER BY day), day) AS gap
    FROM (SELECT DISTINCT account, day FROM cs)
), cadence AS (
    SELECT account, max(day) AS cs_last_day, median(gap) AS cadence_days FROM gaps GROUP BY ALL
), every AS (
    SELECT account, count(*) AS calls, max(call_date::DATE) AS last_call FROM picked
    WHERE account IS NOT NULL AND call_date IS NOT NULL GROUP BY ALL
)
SELECT e.account, e.calls, e.last_call, c.cs_last_day, c.cadence_days,
       t.tone_call_id, t.tone_day, t.tone, t.tone_before, t.tone_quote, t.tone_second
FROM every e LEFT JOIN cadence c USING (account) LEFT JOIN latest_tone t USING (account)
ORDER BY e.account"""


def moment_params(config: RiskConfig, as_of: dt.date) -> list:
    """The parameters of MOMENTS, in order."""
    return [config.churn_signal, config.competitor_in_cs_call, config.pain_point_in_cs_call,
            as_of, config.half_life_days, sorted(config.crm)]  # fmt: skip


def score_frames(
    calls: pd.DataFrame,
    mentions: pd.DataFrame,
    tones: pd.DataFrame,
    config: RiskConfig,
    as_of: dt.date | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(accounts, totals, listed) for `account_risks` from frames in memory, by the SQL
    `Queries.risk_inputs` runs on the database. calls: call_id, account, call_type, call_date;
    mentions: call_id, category, term, role, snippet, start_s and, optionally, probability;
    tones: call_id, tone, worst_text, worst_start_s."""
    import duckdb

    if "probability" not in mentions:
        mentions = mentions.assign(probability=1.0)

    with duckdb.connect() as connection:
        for name, frame in (("calls_frame", calls), ("mentions_frame", mentions),
                            ("tones", tones)):  # fmt: skip
            connection.register(name, frame)
        picked = "WITH picked AS (SELECT * FROM calls_frame)"
        accounts = connection.execute(picked + ACCOUNTS).df()
        as_of = as_of or latest(accounts)
        risky = f""", risky AS (
            SELECT * FROM (SELECT m.*, 1 AS n, coalesce(m.probability, 1) AS w,
                                  p.account, p.call_type, p.call_date
                           FROM mentions_frame m JOIN picked p USING (call_id))
            WHERE {RISKY_ROWS})"""
        params = moment_params(config, as_of or dt.date.today())
        totals, listed = (
            connection.execute(picked + risky + MOMENTS + query, params).df()
            for query in (TOTALS, LISTED)
        )
    return accounts, totals, listed


def latest(accounts: pd.DataFrame) -> dt.date | None:
    """The day risk is judged on by default: the latest call's."""
    days = pd.to_datetime(accounts["last_call"]).dropna() if len(accounts) else ()
    return days.max().date() if len(days) else None


def account_risks(
    accounts: pd.DataFrame,
    totals: pd.DataFrame,
    listed: pd.DataFrame | None = None,
    config: RiskConfig | None = None,
    as_of: dt.date | None = None,
) -> list[AccountRisk]:
    """Risk per account, highest first, from the frames `Queries.risk_inputs` (or
    `score_frames`) gives, scored with the same `config` and `as_of`.

    accounts: the columns of ACCOUNTS; totals: account, kind, items, points; listed: the
    weightiest moments of the accounts to explain (the columns of LISTED). An account's evidence
    holds its listed moments and its tone and silence evidence; its score counts every moment.
    """
    if accounts.empty:
        return []
    config = config or load_config()
    as_of = as_of or latest(accounts)
    kinds_of: dict[str, dict[str, tuple[str, int, float]]] = {}  # account: {kind: total}
    for account, kind, items, points in zip(
        *(totals[c].tolist() for c in ("account", "kind", "items", "points")), strict=True
    ):
        kinds_of.setdefault(account, {})[kind] = (kind, int(items), float(points))
    evidence = _listed_evidence(listed) if listed is not None and len(listed) else {}
    risks = []
    extras = _tone_evidence(config, accounts)  # {row: evidence}, for the rows that have some
    for row, silence in _silence_evidence(config, accounts, as_of).items():
        extras.setdefault(row, []).extend(silence)
    columns = accounts["account"].tolist(), accounts["calls"].tolist()
    for row, (account, calls, last_call) in enumerate(
        zip(*columns, _dates(accounts["last_call"]), strict=True)
    ):
        kinds = kinds_of.get(account, {})
        found = evidence.get(account, [])
        if row in extras:
            kinds, found = dict(kinds), found + extras[row]
            for extra in extras[row]:
                _, count, points = kinds.get(extra.kind, (extra.kind, 0, 0.0))
                kinds[extra.kind] = (extra.kind, count + 1, points + extra.points)
            found.sort(key=lambda e: -e.points)
        points = sum(total[2] for total in kinds.values())
        risks.append(
            AccountRisk(
                account=account,
                score=round(100 * (1 - math.exp(-points / config.scale))),
                points=round(points, 2),
                calls=int(calls),
                last_call=last_call,
                evidence=tuple(found),
                totals=tuple(kinds.values()),
            )
        )
    return sorted(risks, key=lambda r: (-r.score, r.account))


def ranked(queries, where=None, explained: int | None = None) -> list[AccountRisk]:
    """Every account of `queries` (analyzer.store.Queries) by risk, highest first, the
    `explained` riskiest with their evidence (None: all of them)."""
    from analyzer.store import CallFilter

    where = where or CallFilter()
    config = load_config()  # read once, not by each step below
    if explained is None:
        return account_risks(*queries.risk_inputs(where, config), config=config)
    with queries.store.reading():  # one connection for both reads
        accounts, totals, _ = queries.risk_inputs(where, config, evidence_for=())
        as_of = latest(accounts)
        first = account_risks(accounts, totals, config=config, as_of=as_of)
        if not first:
            return []
        names = [r.account for r in first[:explained]]
        shown = accounts[accounts["account"].isin(names)]
        listed = queries.risk_evidence(where, shown, as_of, config) if as_of else None
    totals = totals[totals["account"].isin(names)]
    explained_ones = {
        r.account: r for r in account_risks(shown, totals, listed, config=config, as_of=as_of)
    }
    return [explained_ones.get(r.account, r) for r in first]


def _dates(column: pd.Series) -> list[dt.date | None]:
    return _values(pd.to_datetime(column).dt.date)


def _values(column: pd.Series) -> list:
    """Plain values, None for missing."""
    return column.astype(object).where(column.notna(), None).tolist()


LABELS = {"churn_signal": "Churn signal", "pain_point": "Pain point"}


def _listed_evidence(listed: pd.DataFrame) -> dict[str, list[Evidence]]:
    """Each account's listed moments as evidence, weightiest first (among equals, newest)."""
    listed = listed.sort_values(  # as LISTED ranks them
        ["points", "call_date", "start_s", "call_id"], ascending=[False, False, True, True]
    )
    evidence: dict[str, list[Evidence]] = {}
    columns = [listed[c].tolist() for c in ("account", "kind", "term", "points", "call_id")]
    for account, kind, term, points, call_id, day, second, quote, sure in zip(
        *columns, _dates(listed["call_date"]), listed["start_s"].tolist(),
        listed["snippet"].tolist(), listed["sure"].tolist(), strict=True,
    ):  # fmt: skip
        label = f"Competitor: {term}" if kind == "competitor" else LABELS[kind]
        evidence.setdefault(account, []).append(
            Evidence(kind, points, label, call_id, day, second, quote, sure)
        )
    return evidence


def _tone_evidence(config, accounts: pd.DataFrame) -> dict[int, list[Evidence]]:
    """By row of `accounts`, customer tone (VADER, stored per utterance) falling to the latest
    CS call, or negative in it, quoting that call's most negative line."""
    found: dict[int, list[Evidence]] = {}
    columns = (_values(accounts["tone"]), _values(accounts["tone_before"]),
               _values(accounts["tone_call_id"]), _dates(accounts["tone_day"]),
               _values(accounts["tone_second"]), _values(accounts["tone_quote"]))  # fmt: skip
    for row, (tone, before, *moment) in enumerate(zip(*columns, strict=True)):
        if tone is None:
            continue
        said = []
        if before is not None and before > tone and tone < config.sentiment_positive:
            points = round(config.sentiment_drop * min(1.0, (before - tone) / 0.5), 2)
            detail = f"Customer tone fell from {before:+.2f} to {tone:+.2f}"
            said.append(Evidence("sentiment", points, detail, *moment))
        if tone < 0:
            points = round(config.negative_last_call * min(1.0, -tone / 0.5), 2)
            detail = f"Negative customer tone ({tone:+.2f})"
            said.append(Evidence("sentiment", points, detail, *moment))
        if said:
            found[row] = said
    return found


def _silence_evidence(config, accounts: pd.DataFrame, as_of: dt.date) -> dict[int, list[Evidence]]:
    """By row of `accounts`, no CS call for much longer than the account's usual gap between
    them. Only customers (accounts with CS calls) go quiet; a prospect between deals does not."""
    found = {}
    columns = _dates(accounts["cs_last_day"]), _values(accounts["cadence_days"])
    for row, (last, cadence) in enumerate(zip(*columns, strict=True)):
        if last is None:
            continue
        cadence = config.default_cadence_days if cadence is None else float(cadence)
        quiet = (as_of - last).days
        overdue = quiet / max(cadence, 1.0)
        if overdue > 1.5:
            points = round(config.silence * min(2.0, overdue - 1), 2)
            detail = f"No call for {quiet} days (usually every {cadence:.0f})"
            found[row] = [Evidence("silence", points, detail, None, last)]
    return found


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
