"""Trackers: what is tracked, your own definitions over the defaults, re-tag every call."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from analyzer.config import default_trackers_path
from analyzer.errors import TrackerError
from analyzer.trackers import load_trackers
from analyzer.ui.common import CATEGORY_LABELS, queries, runner
from analyzer.ui.jobs import user_trackers_path

TEMPLATE = """# Your trackers, merged over the defaults (same name = replace, new name = add).
trackers:
  - name: Security review
    category: security
    phrases: [security review, soc 2, pen test, questionnaire]
"""

st.title("Trackers")
store = queries().store
path = user_trackers_path(store)
tracker_set = load_trackers(path if path.exists() else None)
st.caption(f"Defaults: `{default_trackers_path()}` · yours: `{path}`")

table = pd.DataFrame(
    {
        "Tracker": t.name,
        "Topic": CATEGORY_LABELS.get(t.category, t.category),
        "Said by": t.said_by,
        "Phrases": ", ".join(t.phrases),
    }
    for t in tracker_set.trackers
)
st.dataframe(
    table, hide_index=True, column_config={"Phrases": st.column_config.TextColumn(width="large")}
)

st.subheader("Your trackers")
text = st.text_area(
    "YAML",
    value=path.read_text(encoding="utf-8") if path.exists() else TEMPLATE,
    height=260,
    help="Format: see the top of models/trackers.yaml.",
)
save, retag = st.columns(2)
if save.button("Validate and save", type="primary"):
    with tempfile.TemporaryDirectory() as folder:
        candidate = Path(folder) / "trackers.yaml"
        candidate.write_text(text, encoding="utf-8")
        try:
            checked = load_trackers(candidate)
        except TrackerError as error:
            st.error(f"Not saved: {error}")
        else:
            path.write_text(text, encoding="utf-8")
            st.success(
                f"Saved {len(checked.trackers)} trackers. Re-tag to apply them to stored calls."
            )
if retag.button("Re-tag all calls"):
    with st.spinner("Re-tagging every stored call…"):
        total = runner(str(store.path)).retag()
    st.cache_data.clear()
    st.success(f"Re-tagged {total} calls.")
