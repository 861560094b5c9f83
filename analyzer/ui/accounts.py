"""Accounts: which customers show churn signals and competitor talk, with the quotes."""

from __future__ import annotations

import altair as alt
import streamlit as st

from analyzer.ui.common import (
    CATEGORY_LABELS,
    csv_button,
    fmt_date,
    moments_table,
    require_calls,
    run,
    sidebar_filters,
)

st.title("Accounts")
options = require_calls()
where = sidebar_filters(options, categories=False)

st.subheader("Accounts by churn signals")
st.caption(
    "Churn signals said by the customer (latest call first), competitor talk in CS calls and "
    "pain points. Open an account for the quotes behind its numbers."
)
signals = run("account_signals", where)
st.dataframe(
    signals,
    hide_index=True,
    column_config={
        "account": "Account",
        "calls": "Calls",
        "last_call": st.column_config.DateColumn("Last call"),
        "churn_signals": st.column_config.ProgressColumn(
            "Churn signals",
            format="%d",
            min_value=0,
            max_value=max(int(signals["churn_signals"].max()), 1) if not signals.empty else 1,
        ),
        "churn_in_last_call": "…in last call",
        "competitor_in_cs": "Competitors in CS calls",
        "pain_points": "Pain points",
    },
)
csv_button(signals, "accounts", key="accounts_csv")

for row in signals.itertuples():
    if not (row.churn_signals or row.competitor_in_cs):
        continue
    label = (
        f"{row.account}: {row.churn_signals} churn signals, {row.competitor_in_cs} competitor "
        f"mentions in CS calls (last call {fmt_date(row.last_call)})"
    )
    with st.expander(label):
        evidence = run("moments", where, account=row.account)
        evidence = evidence[
            ((evidence["category"] == "churn_signal") & (evidence["role"] != "rep"))
            | (evidence["category"] == "competitor")
        ]
        moments_table(evidence.reset_index(drop=True), key=f"evidence_{row.Index}")

st.subheader("Topics per account")
topics = run("account_topics", where)
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
trend = run("competitor_trend", where)
if trend.empty:
    st.caption("No competitor mentions in these calls.")
else:
    chart = (
        alt.Chart(trend)
        .mark_bar()
        .encode(
            x=alt.X("week:T", title="Week of"),
            y=alt.Y("sum(mentions):Q", title="Mentions"),
            color=alt.Color("competitor:N", title="Competitor"),
            tooltip=["account", "competitor", "week:T", "mentions"],
        )
    )
    account = st.selectbox("Account", ["All accounts", *sorted(trend["account"].unique())])
    if account != "All accounts":
        chart = chart.transform_filter(alt.datum.account == account)
    st.altair_chart(chart, width="stretch")
