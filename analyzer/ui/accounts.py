"""Accounts: which customers show churn signals and competitor talk, with the quotes."""

from __future__ import annotations

import dataclasses

import altair as alt
import pandas as pd
import streamlit as st

from analyzer.risk import EXPLAINED
from analyzer.ui.common import (
    CATEGORY_LABELS,
    csv_button,
    fmt_date,
    open_call,
    require_calls,
    run,
    sidebar_filters,
)
from analyzer.ui.common import (
    risks as account_risks,
)

st.title("Accounts")
options = require_calls()
where = sidebar_filters(options, categories=False)

st.subheader("Accounts by churn risk")
st.caption(
    "Risk 0-100 from churn signals and competitor talk in customer-success calls, customer tone "
    "across calls, and silence beyond the account's usual cadence; recent moments, and moments "
    "we are surer of, weigh more. "
    "Open an account for the moments behind its score."
)
SHOWN = EXPLAINED  # accounts with their evidence below the table; the rest by filtering
risks = account_risks(where, explained=SHOWN)
table = pd.DataFrame(
    {
        "account": r.account,
        "risk": r.score,
        "calls": r.calls,
        "last_call": r.last_call,
        "top_reason": r.summary(),
    }
    for r in risks
)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "account": "Account",
        "risk": st.column_config.ProgressColumn("Risk", format="%d", min_value=0, max_value=100),
        "calls": "Calls",
        "last_call": st.column_config.DateColumn("Last call"),
        "top_reason": st.column_config.TextColumn("Main reasons", width="large"),
    },
)
csv_button(table, "account_risk", key="accounts_csv")

if len(risks) > SHOWN:
    st.caption(
        f"The moments behind the {SHOWN} riskiest accounts follow; pick accounts in the sidebar "
        "to see others'."
    )
for number, risk in enumerate(risks[:SHOWN]):
    if not risk.evidence:
        continue
    with st.expander(f"{risk.account}: risk {risk.score} (last call {fmt_date(risk.last_call)})"):
        evidence = pd.DataFrame(
            {
                "points": round(e.points, 1),
                "sure": e.sure,
                "why": e.detail,
                "quote": e.quote or "",
                "call_date": e.call_date,
                "call_id": e.call_id or "",
                "second": e.second if e.second is not None else 0,
            }
            for e in risk.evidence
        )
        event = st.dataframe(
            evidence,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=f"evidence_{number}",
            column_order=["points", "sure", "why", "quote", "call_date", "second"],
            column_config={
                "points": st.column_config.NumberColumn(
                    "Points",
                    help="What the moment adds to the risk: its kind's points, "
                    "halved for each month of age, times how sure it is.",
                ),
                "sure": st.column_config.ProgressColumn(
                    "Sure",
                    help="How likely the moment is what it is tagged as (calibrated "
                    "on labeled calls).",
                    min_value=0.0,
                    max_value=1.0,
                    format="percent",
                ),
                "why": "Why",
                "quote": st.column_config.TextColumn("Quote", width="large"),
                "call_date": st.column_config.DateColumn("Call"),
                "second": st.column_config.NumberColumn("At (s)", format="%d"),
            },
        )
        if event and event.selection.rows:
            picked = evidence.iloc[event.selection.rows[0]]
            if picked["call_id"]:
                open_call(picked["call_id"], int(picked["second"]))

st.subheader("Topics per account")
topics = run("account_topics", where)
if not topics.empty and topics["account"].nunique() > SHOWN:
    st.caption(f"The {SHOWN} riskiest accounts; pick accounts in the sidebar to see others.")
    topics = topics[topics["account"].isin([r.account for r in risks[:SHOWN]])]
if not topics.empty:
    topics = topics.assign(topic=topics["category"].map(lambda c: CATEGORY_LABELS.get(c, c)))
    base = alt.Chart(topics, height=32 * topics["account"].nunique() + 30).encode(
        x=alt.X("topic:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("account:N", title=None),
    )
    st.altair_chart(
        base.mark_rect().encode(
            color=alt.Color(
                "per_call:Q", title="Mentions per call", scale=alt.Scale(scheme="oranges")
            ),
            tooltip=["account", "topic", "mentions", "calls", "per_call"],
        )
        + base.mark_text().encode(text="per_call:Q"),
        width="stretch",
    )

st.subheader("Competitors mentioned, by week")
account = st.selectbox("Account", ["All accounts", *(where.accounts or options["accounts"])])
if account != "All accounts":
    where = dataclasses.replace(where, accounts=(account,))
trend = run("competitor_trend", where)
if trend.empty:
    st.caption("No competitor mentions in these calls.")
else:
    st.altair_chart(
        alt.Chart(trend)
        .mark_bar()
        .encode(
            x=alt.X("week:T", title="Week of"),
            y=alt.Y("sum(mentions):Q", title="Mentions"),
            color=alt.Color("competitor:N", title="Competitor"),
            tooltip=["competitor", "week:T", "mentions"],
        ),
        width="stretch",
    )
