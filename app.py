"""Streamlit entry point: `streamlit run app.py` (or `analyzer demo`); the database comes from
$ANALYZER_DB (default ./analyzer.duckdb). Pages live in analyzer/ui/."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Call analyzer", page_icon=":material/graphic_eq:", layout="wide")

pages = st.navigation(
    {
        "Coaching": [
            st.Page(
                "analyzer/ui/team.py", title="Team trends", icon=":material/groups:", default=True
            ),
            st.Page("analyzer/ui/accounts.py", title="Accounts", icon=":material/domain:"),
        ],
        "Calls": [
            st.Page("analyzer/ui/call.py", title="Call", icon=":material/call:"),
            st.Page("analyzer/ui/search.py", title="Search", icon=":material/search:"),
            st.Page("analyzer/ui/upload.py", title="Upload", icon=":material/upload:"),
        ],
        "Settings": [
            st.Page("analyzer/ui/trackers.py", title="Trackers", icon=":material/tune:"),
        ],
    }
)
pages.run()
