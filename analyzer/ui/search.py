"""Full-text search across every transcript (DuckDB full-text index, BM25 ranking)."""

from __future__ import annotations

import streamlit as st

from analyzer.ui.common import csv_button, open_call, require_calls, run, sidebar_filters

st.title("Search")
options = require_calls()
where = sidebar_filters(options, categories=False)
query = st.text_input(
    "Words said in a call",
    value=st.query_params.get("q", ""),
    placeholder="e.g. renewal discount, security review, Salesforce sync",
)
if query:
    st.query_params["q"] = query
    results = run("search", query, where)
    st.caption(f"{len(results)} matching utterances" + (" (best first)" if len(results) else ""))
    if not results.empty:
        event = st.dataframe(
            results,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key="search_results",
            column_order=["call_date", "account", "rep", "role", "text", "second"],
            column_config={
                "call_date": st.column_config.DateColumn("Date"),
                "account": "Account",
                "rep": "Rep",
                "role": "Who",
                "text": st.column_config.TextColumn("Said", width="large"),
                "second": st.column_config.NumberColumn("At (s)", format="%d"),
            },
        )
        if event and event.selection.rows:
            hit = results.iloc[event.selection.rows[0]]
            open_call(hit["call_id"], int(hit["second"]))
        st.caption("Select a row to open the call at that moment.")
        csv_button(results, "search", key="search_csv")
