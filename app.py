"""Streamlit entry point: `streamlit run app.py` (the database comes from $ANALYZER_DB).

An overview page until the full app lands: what is stored, topics per rep, the latest quotes.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analyzer.config import default_db_path
from analyzer.store import Store

st.set_page_config(page_title="Call analyzer", layout="wide")


@st.cache_resource
def get_store() -> Store:
    return Store(default_db_path())


@st.cache_data(ttl=30)
def load(_store: Store, db_path: str):
    return (
        pd.DataFrame(_store.calls(limit=10_000)),
        pd.DataFrame(_store.topic_counts()),
        pd.DataFrame(_store.mentions(limit=200)),
    )


store = get_store()
st.title("Call analyzer")
calls, topics, mentions = load(store, str(store.path))

if calls.empty:
    st.info(
        f"No calls in `{store.path}` yet. Add some from a terminal:\n\n"
        '```\nanalyzer ingest call.wav --rep "Priya Shah" --account "Acme" --call-type sales\n'
        "analyzer ingest sample_calls/\n```"
    )
    st.stop()

ok = calls[calls["status"] == "ok"]
left, middle, right, last = st.columns(4)
left.metric("Calls", len(ok))
middle.metric("Minutes of talk", f"{ok['duration_s'].fillna(0).sum() / 60:.0f}")
right.metric("Mentions", int(ok["mentions"].sum()))
last.metric("Failed files", int((calls["status"] == "failed").sum()))

st.subheader("Topics per rep: mentions per call")
if not topics.empty:
    topics["per_call"] = (topics["mentions"] / topics["calls"]).round(2)
    heatmap = alt.Chart(topics, height=40 * topics["rep"].nunique() + 40).encode(
        x=alt.X("category:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("rep:N", title=None),
    )
    st.altair_chart(
        heatmap.mark_rect().encode(
            color=alt.Color("per_call:Q", title="mentions / call", scale=alt.Scale(scheme="blues")),
            tooltip=["rep", "category", "mentions", "calls_with_mention", "calls", "per_call"],
        )
        + heatmap.mark_text().encode(text="per_call:Q"),
        width="stretch",
    )

st.subheader("Latest moments")
st.dataframe(
    mentions[["call_date", "rep", "account", "category", "term", "role", "snippet", "start_s"]],
    width="stretch",
    hide_index=True,
)

st.subheader("Calls")
st.dataframe(calls, width="stretch", hide_index=True)
