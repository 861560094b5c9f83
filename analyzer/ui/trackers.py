"""Trackers: keyword and smart trackers, your own over the defaults, re-tag every call."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from analyzer import smart
from analyzer.config import default_trackers_path, topics_path
from analyzer.errors import TrackerError
from analyzer.trackers import load_trackers
from analyzer.ui.common import CATEGORY_LABELS, queries, require, runner
from analyzer.ui.jobs import (
    team_smart_trackers,
    user_examples_dir,
    user_smart_path,
    user_trackers_path,
)
from analyzer.ui.login import signed_in

EXAMPLES_TEMPLATE = """# A smart tracker learns a topic from sentences said in any words
# (models/examples/GUIDE.md). Give a few dozen of each; hard negatives matter as much.
category: security_review
said_by: anyone
positives:
  - "before we sign our infosec team needs your soc two report"
  - "can you fill out our vendor security questionnaire"
  - "legal wants to see the results of your last pen test"
  - "do you encrypt the recordings at rest and in transit"
  - "our ciso has to sign off on any vendor that stores customer data"
negatives:
  - "let's meet on thursday to go over the roadmap"
  - "we passed our own audit last year, unrelated to this"
  - "i'll loop in my manager on the next call"
  - "can you send over the slides from today"
  - "yeah that sounds good to me"
"""

TEMPLATE = """# Your trackers, merged over the defaults (same name = replace, new name = add).
trackers:
  - name: Security review
    category: security
    phrases: [security review, soc 2, pen test, questionnaire]
"""

st.title("Trackers")
require(signed_in()[0].can_edit_trackers)
store = queries().store
path = user_trackers_path(store)
tracker_set = load_trackers(path if path.exists() else None)
st.caption(f"Defaults: `{default_trackers_path()}` · yours: `{path}`")
with st.expander("What each topic means (docs/topics.md)"):
    st.markdown(topics_path().read_text(encoding="utf-8"))

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
if st.button("Validate and save", type="primary"):
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

st.subheader("Smart trackers")
st.caption(
    "Topics said in any words, learned from example sentences. Precision, recall and F1 are "
    "cross-validated: each writer's examples scored by a model trained without them."
)
heads = smart.load(team_smart_trackers(store))
st.dataframe(
    pd.DataFrame(
        {
            "Topic": CATEGORY_LABELS.get(h.category, h.category),
            "Said by": h.said_by,
            "Writers": h.writers,
            "Examples (+ / −)": f"{h.positives} / {h.negatives}",
            "Threshold": h.threshold,
            "Precision": h.cv_precision,
            "Recall": h.cv_recall,
            "F1": h.cv_f1,
        }
        for h in heads
    ),
    hide_index=True,
)
with st.expander("Teach a topic, or add examples to one"):
    examples_text = st.text_area("Examples (YAML)", value=EXAMPLES_TEMPLATE, height=300)
    if st.button("Validate and train"):
        folder = user_examples_dir(store)
        try:
            data = yaml.safe_load(examples_text)
            category = str(data["category"]) if isinstance(data, dict) else ""
            if not category.replace("_", "").isalnum():
                raise TrackerError("'category' must be a word like security_review")
            with tempfile.TemporaryDirectory() as scratch:
                candidate = Path(scratch) / f"{category}.yaml"
                candidate.write_text(examples_text, encoding="utf-8")
                smart.load_examples(Path(scratch))  # validates
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{category}.yaml").write_text(examples_text, encoding="utf-8")
            with st.spinner("Training every smart tracker (under a minute)…"):
                trained = smart.retrain(folder, out=user_smart_path(store))
        except (TrackerError, yaml.YAMLError, KeyError) as error:
            st.error(f"Not trained: {error}")
        else:
            mine = next(h for h in trained if h.category == category)
            st.success(
                f"Trained {len(trained)} smart trackers; {category}: cross-validated F1 "
                f"{mine.cv_f1:.2f}. Re-tag to apply them to stored calls."
            )

st.subheader("How sure a moment must be")
user = signed_in()[0]
team = user.team if user.role == "manager" else None
st.caption(
    "Every moment carries the probability that it is what it is tagged as, calibrated on "
    "labeled calls; moments below their topic's threshold are not kept. "
    + (f"These are team {team}'s thresholds." if team else "These are the workspace's; a "
       "manager may set their own team's.")
)  # fmt: skip
chosen = store.thresholds(team)
with st.form("thresholds"):
    values = {
        category: st.slider(
            CATEGORY_LABELS.get(category, category),
            min_value=0.0,
            max_value=1.0,
            step=0.05,
            value=float(chosen.get(category, tracker_set.rules_for(category).threshold)),
            key=f"threshold_{category}",
        )
        for category in tracker_set.categories
    }
    if st.form_submit_button("Save thresholds"):
        workspace = store.thresholds() if team else {}
        for category, value in values.items():
            inherited = workspace.get(category, tracker_set.rules_for(category).threshold)
            store.set_threshold(category, None if value == inherited else value, team)
        st.success("Saved. Re-tag to apply them to stored calls.")

st.divider()
if st.button("Re-tag all calls", help="Apply the trackers in force to every stored call."):
    with st.spinner("Re-tagging every stored call…"):
        total = runner(str(store.path)).retag()
    st.cache_data.clear()
    st.success(f"Re-tagged {total} calls.")
