"""Team trends: how often each rep's calls touch each topic, week by week, with the quotes."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from analyzer.ui.common import (
    CATEGORY_LABELS,
    csv_button,
    moments_table,
    require_calls,
    run,
    sidebar_filters,
)

st.title("Team trends")
options = require_calls()
where = sidebar_filters(options)

overview = run("overview", where)
topics = run("rep_topics", where)
columns = st.columns(4)
columns[0].metric("Calls", int(overview["calls"]))
columns[1].metric("Reps", int(overview["reps"]))
columns[2].metric("Hours of talk", f"{overview['hours']:.1f}")
columns[3].metric("Tracked moments", int(overview["mentions"]))

st.subheader("Topics by rep")
if topics.empty:
    st.caption("No tracked moments in these calls.")
else:
    measure = st.segmented_control(
        "Show", ["Mentions per call", "% of calls"], default="Mentions per call", key="measure"
    )
    field = "pct_calls" if measure == "% of calls" else "per_call"
    topics = topics.assign(topic=topics["category"].map(lambda c: CATEGORY_LABELS.get(c, c)))
    base = alt.Chart(topics, height=45 * topics["rep"].nunique() + 30).encode(
        x=alt.X("topic:N", title=None, axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("rep:N", title=None),
    )
    cell = alt.selection_point(fields=["rep", "category"], name="cell")
    heatmap = base.mark_rect().add_params(cell).encode(
        color=alt.Color(f"{field}:Q", title=measure, scale=alt.Scale(scheme="blues")),
        tooltip=[
            "rep",
            "topic",
            "mentions",
            "calls_with_mention",
            "calls",
            "per_call",
            "pct_calls",
        ],
    ) + base.mark_text(fontSize=13).encode(text=f"{field}:Q")
    clicked = st.altair_chart(heatmap, width="stretch", on_select="rerun", key="heatmap")
    picked = (clicked or {}).get("selection", {}).get("cell") or []
    if picked and picked != st.session_state.get("heatmap_seen"):
        # A click on a cell shows that rep's moments on that topic below.
        st.session_state["heatmap_seen"] = picked
        st.session_state["drill_rep"] = picked[0].get("rep", "All reps")
        st.session_state["drill_topic"] = picked[0].get("category", "All topics")
    st.caption("Click a cell to list its moments below.")
    csv_button(topics, "topics_by_rep", key="topics_csv")

st.subheader("Topics by week")
weekly = run("weekly_topics", where)
if not weekly.empty:
    weekly = weekly.assign(topic=weekly["category"].map(lambda c: CATEGORY_LABELS.get(c, c)))
    trend = (
        alt.Chart(weekly)
        .mark_line(point=True)
        .encode(
            x=alt.X("week:T", title="Week of"),
            y=alt.Y("per_call:Q", title="Mentions per call"),
            color=alt.Color("topic:N", title=None),
            tooltip=["week:T", "topic", "mentions", "calls", "per_call"],
        )
    )
    st.altair_chart(trend, width="stretch")

st.subheader("Coaching metrics")
st.caption(
    "Per rep, averaged over their calls with separated speakers, beside the team median. "
    "Gong's research: reps who talk about 43 % of the time do best; above 65 % is a warning."
)
coaching = run("rep_metrics", where)
if coaching.empty:
    st.caption("No calls with separated speakers in this selection.")
else:
    median = coaching.drop(columns=["rep"]).median(numeric_only=True).round(1)
    table = pd.concat([coaching, pd.DataFrame([{"rep": "Team median", **median}])])
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "rep": "Rep",
            "calls": "Calls",
            "talk_ratio_pct": st.column_config.NumberColumn("Talk %", format="%d%%"),
            "longest_monologue_s": st.column_config.NumberColumn(
                "Longest monologue", format="%d s"
            ),
            "longest_customer_story_s": st.column_config.NumberColumn(
                "Longest customer story", format="%d s"
            ),
            "rep_questions_per_hour": "Rep questions / h",
            "customer_questions_per_hour": "Customer questions / h",
            "switches_per_minute": "Interactivity (switches / min)",
            "patience_s": st.column_config.NumberColumn("Patience", format="%.2f s"),
            "words_per_minute": "Words / min",
            "fillers_per_minute": "Fillers / min",
        },
    )
    csv_button(table, "coaching_metrics", key="coaching_csv")

st.subheader("Moments")
left, right = st.columns(2)
rep = left.selectbox("Rep", ["All reps", *options["reps"]], key="drill_rep")
category = right.selectbox(
    "Topic",
    ["All topics", *options["categories"]],
    key="drill_topic",
    format_func=lambda c: CATEGORY_LABELS.get(c, c),
)
moments = run(
    "moments",
    where,
    rep=None if rep == "All reps" else rep,
    category=None if category == "All topics" else category,
)
moments_table(moments, key="team_moments")
