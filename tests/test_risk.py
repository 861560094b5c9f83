"""Account churn risk and per-call warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.risk import account_risks, call_warnings, load_config, ranked, score_frames
from analyzer.store import Queries, Store

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def corpus_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("risk") / "corpus.duckdb"
    gold = sorted(str(p) for p in (ROOT / "sample_calls" / "gold").glob("*.json"))
    assert CliRunner().invoke(cli, ["ingest", *gold, "--db", str(db)]).exit_code == 0
    return db


def test_churning_accounts_rank_above_healthy_ones(corpus_db):
    risks = ranked(Queries(Store(corpus_db)))
    order = [risk.account for risk in risks]
    churning = {"Globex Manufacturing", "Umbrella Retail"}
    assert set(order[:2]) == churning
    healthy = {"Initech Software", "Wayne Media", "Acme Logistics", "Hooli Cloud"}
    worst_churning = min(r.score for r in risks if r.account in churning)
    assert all(r.score < worst_churning for r in risks if r.account in healthy)


def test_every_score_is_explained_by_moments(corpus_db):
    globex = ranked(Queries(Store(corpus_db)))[0]
    assert globex.account == "Globex Manufacturing" and globex.score > 50
    moments = [e for e in globex.evidence if e.kind == "churn_signal"]
    assert moments and all(e.quote and e.call_id and e.second is not None for e in moments)
    assert globex.evidence[0].points == max(e.points for e in globex.evidence)


def frames(*mentions, call_type="cs", dates=("2026-10-01",), as_of=None):
    """accounts, totals and listed for account_risks, as if from the database."""
    calls = pd.DataFrame(
        {"call_id": f"c{i}", "account": "Acme", "call_type": call_type, "call_date": d}
        for i, d in enumerate(dates)
    )
    found = pd.DataFrame(
        [{"call_id": c, "category": cat, "term": term, "role": role, "snippet": "q", "start_s": 1}
         for c, cat, term, role in mentions],
        columns=["call_id", "category", "term", "role", "snippet", "start_s"],
    )  # fmt: skip
    tones = pd.DataFrame(columns=["call_id", "tone", "worst_text", "worst_start_s"])
    return score_frames(calls, found, tones, load_config(), as_of)


def test_recent_signals_weigh_more_than_old_ones():
    as_of = dt.date(2026, 12, 1)
    recent = account_risks(*frames(("c0", "churn_signal", "cancel", "customer"),
                                   dates=("2026-11-30",), as_of=as_of), as_of=as_of)  # fmt: skip
    old = account_risks(*frames(("c0", "churn_signal", "cancel", "customer"),
                                dates=("2026-09-01",), as_of=as_of), as_of=as_of)  # fmt: skip
    churn = [e.points for e in recent[0].evidence if e.kind == "churn_signal"]
    stale = [e.points for e in old[0].evidence if e.kind == "churn_signal"]
    assert churn[0] > 4 * stale[0]


def test_sales_calls_and_crm_names_do_not_raise_risk():
    risk = account_risks(*frames(("c0", "churn_signal", "cancel", "customer"), call_type="sales"))
    assert risk[0].score == 0
    crm = account_risks(*frames(("c0", "competitor", "Salesforce", "customer")))
    assert crm[0].score == 0
    rival = account_risks(*frames(("c0", "competitor", "Gong", "customer")))
    assert rival[0].score > 0


def test_silence_beyond_the_usual_cadence():
    dates = ("2026-09-01", "2026-09-15", "2026-09-29")
    late, soon = dt.date(2026, 11, 20), dt.date(2026, 10, 5)
    quiet = account_risks(*frames(dates=dates, as_of=late), as_of=late)
    (evidence,) = quiet[0].evidence
    assert evidence.kind == "silence" and "usually every 14" in evidence.detail
    assert account_risks(*frames(dates=dates, as_of=soon), as_of=soon)[0].score == 0


def turns(*spec):
    return pd.DataFrame(
        [{"idx": i, "role": r, "start_s": s, "end_s": s + 4, "text": t} for i, (r, s, t) in
         enumerate(spec)]
    )  # fmt: skip


def moments(*spec):
    return pd.DataFrame(
        [{"category": c, "term": t, "role": r, "start_s": s} for c, t, r, s in spec],
        columns=["category", "term", "role", "start_s"],
    )


def kinds(found):
    return {w.kind for w in found}


def test_pricing_not_discussed_in_a_later_sales_call():
    call = {"call_id": "x", "call_type": "sales"}
    talk = turns(("rep", 0, "Let's look at the dashboard."))
    assert "pricing_not_discussed" in kinds(call_warnings(call, talk, moments(), 1))
    assert "pricing_not_discussed" not in kinds(call_warnings(call, talk, moments(), 0))
    priced = moments(("pricing", "price", "customer", 3))
    assert "pricing_not_discussed" not in kinds(call_warnings(call, talk, priced, 2))


def test_competitor_mentioned_with_no_response():
    call = {"call_id": "x", "call_type": "cs"}
    gong = moments(("competitor", "Gong", "customer", 10))
    ignored = turns(("customer", 10, "Gong pitched us."), ("rep", 15, "Okay. Anyway, the roadmap."))
    answered = turns(("customer", 10, "Gong pitched us."), ("rep", 15, "What did they offer you?"))
    assert "competitor_no_response" in kinds(call_warnings(call, ignored, gong, 0))
    assert "competitor_no_response" not in kinds(call_warnings(call, answered, gong, 0))


def test_churn_signal_with_no_next_step():
    call = {"call_id": "x", "call_type": "cs"}
    churn = moments(("churn_signal", "cancel", "customer", 5))
    hangs = turns(("customer", 5, "We might cancel."), ("rep", 9, "Sorry to hear that. Bye."))
    booked = turns(("customer", 5, "We might cancel."), ("rep", 9, "Let's book a session Tuesday."))
    assert "churn_no_next_step" in kinds(call_warnings(call, hangs, churn, 0))
    assert "churn_no_next_step" not in kinds(call_warnings(call, booked, churn, 0))


def test_accounts_command(corpus_db):
    result = CliRunner().invoke(cli, ["accounts", "--db", str(corpus_db), "--top", "1"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "│" in line]
    assert "Globex Manufacturing" in lines[0]
    text = " ".join(result.output.replace("│", " ").split()).lower()  # unfold wrapped cells
    assert "churn signal (globex-04" in text  # the latest call's churn talk, quoted
    assert "not renewing" in text or "notice period" in text


def test_moments_beyond_the_listed_ones_still_count_and_summarize():
    from analyzer.risk import MAX_EVIDENCE

    churn = [("c0", "churn_signal", "cancel", "customer")] * (MAX_EVIDENCE + 10)
    risk = account_risks(*frames(*churn, ("c0", "pain_point", "slow", "customer")))[0]
    assert len(risk.evidence) == MAX_EVIDENCE  # the weightiest listed, the pain point not
    assert dict((k, n) for k, n, _ in risk.totals) == {"churn_signal": 60, "pain_point": 1}
    assert "60 × churn signals" in risk.summary(kinds=2)
    assert "1 × pain points" in risk.summary(kinds=2)


def test_the_database_scores_as_the_frames_do_and_explains_the_riskiest(corpus_db):
    """Risk on the database reads per-call counts and tones; scored from every mention and
    utterance instead (score_frames), each account gets the same score and totals. Asking for
    the evidence of the riskiest only changes no score."""
    store = Store(corpus_db)
    everyone = ranked(Queries(store))
    calls = store.frame("SELECT call_id, account, call_type, call_date FROM calls")
    mentions = store.frame(
        "SELECT call_id, category, term, speaker_role AS role, snippet, start_s, probability "
        "FROM mentions"
    )
    tones = store.frame(
        """SELECT call_id, avg(tone) AS tone, arg_min(text, [tone, idx]) AS worst_text,
                  arg_min(start_s, [tone, idx]) AS worst_start_s
           FROM utterances WHERE role IN ('customer', 'unknown') GROUP BY call_id"""
    )
    from_frames = account_risks(*score_frames(calls, mentions, tones, load_config()))
    assert [(r.account, r.score, sorted(r.totals)) for r in from_frames] == [
        (r.account, r.score, sorted(r.totals)) for r in everyone
    ]
    top = ranked(Queries(store), explained=2)
    assert [(r.account, r.score, r.totals) for r in top] == [
        (r.account, r.score, r.totals) for r in everyone
    ]
    assert top[:2] == everyone[:2]  # the same evidence, quotes included
    assert all(e.kind in ("sentiment", "silence") for r in top[2:] for e in r.evidence)


def test_account_summaries_score_as_the_calls_do_after_every_write(corpus_db, tmp_path):
    """Unfiltered, risk reads the per-account summaries the store keeps; a filter that still
    covers every call computes it from the calls. Both give the same risks, evidence included,
    and stay the same after a call is added, moved to another account, relabelled or masked."""
    import shutil

    from analyzer.records import CallMeta, CallRecord, Mention, Transcript, Utterance
    from analyzer.redact import redact_text, redact_utterance
    from analyzer.store import CallFilter

    store = Store(shutil.copy(corpus_db, tmp_path / "copy.duckdb"))
    every_call = CallFilter(date_from=dt.date(1900, 1, 1))

    def both_ways():
        summarized = ranked(Queries(store))
        assert summarized == ranked(Queries(store), every_call)
        return {r.account: r for r in summarized}

    before = both_ways()
    said = "We will cancel at renewal, my email is dana at initech dot com."
    turns = (Utterance("Priya", "rep", 0.0, 2.0, "Hi Dana."),
             Utterance("Dana", "customer", 2.0, 6.0, said))  # fmt: skip
    churn = (Mention(1, "churn_signal", "Churn signals", "cancel", 2.5, 3.0, said),)

    def save(account: str) -> None:
        meta = CallMeta(rep="Priya", account=account, call_type="cs",
                        call_date=dt.date(2026, 11, 18))  # fmt: skip
        store.save_call(CallRecord("moved", "/x/moved.json", "f00", meta,
                                   Transcript(turns, 6.0, "json"), churn))  # fmt: skip

    save("Initech Software")
    added = both_ways()
    assert added["Initech Software"].points > before["Initech Software"].points
    save("Wayne Media")  # the same call, filed under another account
    moved = both_ways()
    assert moved["Initech Software"] == before["Initech Software"]
    assert moved["Wayne Media"].points > before["Wayne Media"].points
    store.relabel_speakers("moved", {"Dana": ("Dana", "rep")}, "manual", churn, None)
    assert both_ways()["Wayne Media"].points < moved["Wayne Media"].points  # the rep said it
    assert store.rewrite_call_text("moved", redact_utterance, redact_text) == 1
    both_ways()


def test_tone_falling_to_the_latest_call():
    calls = pd.DataFrame(
        {"call_id": f"c{i}", "account": "Acme", "call_type": "cs", "call_date": d}
        for i, d in enumerate(("2026-09-01", "2026-09-15", "2026-09-29"))
    )
    tones = pd.DataFrame({"call_id": ["c0", "c1", "c2"], "tone": [0.6, 0.4, -0.3],
                          "worst_text": ["Fine.", "Okay.", "This is a mess."],
                          "worst_start_s": [3.0, 8.0, 31.0]})  # fmt: skip
    mentions = pd.DataFrame(columns=["call_id", "category", "term", "role", "snippet", "start_s"])
    (risk,) = account_risks(*score_frames(calls, mentions, tones, load_config()))
    fell, negative = sorted((e for e in risk.evidence if e.kind == "sentiment"),
                            key=lambda e: e.detail)  # fmt: skip
    assert fell.detail == "Customer tone fell from +0.50 to -0.30" and fell.points == 25
    assert negative.detail == "Negative customer tone (-0.30)" and negative.points == 6
    assert (fell.call_id, fell.quote, fell.second) == ("c2", "This is a mess.", 31.0)
