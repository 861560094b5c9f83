"""Streamlit entry point: `streamlit run app.py` (or `analyzer demo`); the database comes from
$ANALYZER_DB (default ./analyzer.duckdb). Pages live in analyzer/ui/.

With logins configured (`analyzer users add`) everyone signs in first and sees only the calls
their role covers; without, the app is single-user and serves only this computer."""

from __future__ import annotations

import streamlit as st

from analyzer.config import default_db_path
from analyzer.store import Store
from analyzer.ui.login import sign_in

st.set_page_config(page_title="Call analyzer", page_icon=":material/graphic_eq:", layout="wide")
user = sign_in(Store(default_db_path()))

pages = {
    "Coaching": [
        st.Page(
            "analyzer/ui/team.py",
            title="Team trends",
            icon=":material/groups:",
            default=user.role != "cs_lead",
        ),
        st.Page(
            "analyzer/ui/accounts.py",
            title="Accounts",
            icon=":material/domain:",
            default=user.role == "cs_lead",
        ),
    ],
    "Calls": [
        st.Page("analyzer/ui/call.py", title="Call", icon=":material/call:"),
        st.Page("analyzer/ui/search.py", title="Search", icon=":material/search:"),
        st.Page("analyzer/ui/upload.py", title="Upload", icon=":material/upload:"),
    ],
}
if user.can_edit_trackers:
    pages["Settings"] = [
        st.Page("analyzer/ui/trackers.py", title="Trackers", icon=":material/tune:"),
    ]
st.navigation(pages).run()
