"""One call: who, when, the recording from a chosen moment, the conversation with its moments."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from analyzer.calibration import KINDS
from analyzer.pipeline import redacted_audio_path, redaction
from analyzer.store import CallFilter
from analyzer.ui.common import (
    CATEGORY_LABELS,
    ROLE_LABELS,
    SURE_COLUMN,
    call_warnings,
    fmt_date,
    for_display,
    queries,
    require_calls,
    run,
)

BADGE_COLORS = {
    "competitor": "red",
    "pricing": "green",
    "demo": "blue",
    "pain_point": "orange",
    "churn_signal": "violet",
}
AUDIO_FORMATS = {
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".webm": "audio/webm",
}
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~:])")


def escape(text: str) -> str:
    """Transcript text shown as Markdown literally ('$60' must not start a formula)."""
    return _MARKDOWN.sub(r"\\\1", text)


def highlight(text: str, terms: list[tuple[str, str]]) -> str:
    """Escape `text` and mark each matched term with its topic's colour."""
    marked = escape(text)
    for term, category in terms:
        pattern = re.compile(re.escape(escape(term)), re.IGNORECASE)
        color = BADGE_COLORS.get(category, "gray")
        marked = pattern.sub(lambda found, c=color: f":{c}-background[{found.group(0)}]", marked, 1)
    return marked


def badge(term: str, category: str) -> str:
    topic = CATEGORY_LABELS.get(category, category)
    label = escape(f"{topic}: {term}" if term else topic)
    return f":{BADGE_COLORS.get(category, 'gray')}-badge[{label}]"


def marked_text(mention) -> str:
    """What to highlight in the turn: the matched words, or the sentence a smart tracker chose
    (a reply's snippet quotes the question too, so nothing is highlighted for it)."""
    if mention.found_by == KINDS["reply"]:
        return ""
    return mention.term if mention.term else mention.snippet


def speaker_note(call: dict) -> str:
    """How this call's speakers and roles were decided, and what to do when they were guessed."""
    roles_from = call.get("roles_from")
    if roles_from == "channels":
        return "Speakers from the recording's channels: one side per channel."
    if roles_from == "names":
        return "Speakers named in the transcript; the rep matched by name."
    if call["source_kind"] != "audio":
        return "The transcript does not say which speaker is the rep."
    if roles_from == "voice profile":
        return f"Speakers separated by voice; {call['rep']} recognised by their voice profile."
    if roles_from == "guessed":
        return (
            ":orange[**Roles guessed.**] Speakers were separated by voice, but no voice profile of "
            f"{call['rep'] or 'the rep'} matched, so the rep was guessed from who introduced "
            "themself or spoke first. Enroll the rep (`analyzer reps enroll NAME clip.wav`) or "
            "ingest one of their stereo calls, and this call is relabelled."
        )
    return "Speakers were not separated in this recording (one voice, or separation was off)."


def seconds(value: float) -> str:
    minutes, rest = divmod(int(value), 60)
    return f"{minutes}:{rest:02d}"


options = require_calls()
LISTED = 500  # newest calls to pick from; older ones open from the other pages' links
calls = run("calls", CallFilter(), limit=LISTED)
call_id = st.query_params.get("call")
if call_id not in set(calls["call_id"]):
    asked = run("call", call_id) if call_id else None  # an older call, opened by a link
    calls = pd.concat([pd.DataFrame([asked]), calls]) if asked else calls
    call_id = call_id if asked else None
labels = {
    row.call_id: f"{row.call_date:%Y-%m-%d} · {row.account} · {row.title or row.call_id}"
    for row in calls.itertuples()
}
ids = list(labels)
picked = st.selectbox(
    "Call",
    ids,
    index=ids.index(call_id) if call_id else 0,
    format_func=labels.get,
    key=f"pick_{call_id}",
)
if picked != call_id:
    st.query_params.update({"call": picked, "t": "0"})
    call_id = picked
start = int(float(st.query_params.get("t", 0) or 0))

call = run("call", call_id)
st.title(call["title"] or call_id)
kind = {"sales": "Sales call", "cs": "Customer success call"}.get(call["call_type"], "Call")
st.markdown(
    f"**{fmt_date(call['call_date'])}** · {kind} · rep **{escape(call['rep'] or '—')}** · "
    f"account **{escape(call['account'] or '—')}** · {seconds(call['duration_s'] or 0)}"
)

source = Path(call["source_path"] or "")
_, beeped = redaction(queries().store)
if beeped:  # only the copy with identifiers beeped may be played
    source = redacted_audio_path(queries().store, call_id)
if call["source_kind"] == "audio" and source.is_file():
    st.audio(
        str(source), format=AUDIO_FORMATS.get(source.suffix.lower(), "audio/wav"), start_time=start
    )
    note = "Identifiers are beeped in this recording. " if beeped else ""
    if note or start:
        st.caption(note + (f"Starting at {seconds(start)}." if start else ""))
elif call["source_kind"] == "audio" and beeped:
    st.warning(
        "PII redaction covers audio, and this call has no beeped copy (its recording was gone "
        "when redaction was turned on), so it is not played."
    )
elif call["source_kind"] == "audio":
    st.warning(f"The recording is no longer at {source}.")
else:
    st.caption(f"Imported from a {call['source_kind'].upper()} transcript: no audio.")

utterances = run("call_utterances", call_id)
mentions = for_display(run("call_mentions", call_id))
for warning in call_warnings(call, utterances, mentions):
    st.warning(
        warning.message + (f" (at {seconds(warning.second)})" if warning.second else ""),
        icon=":material/flag:",
    )
metrics = run("call_metrics", call_id)
if not metrics.empty:
    with st.expander("Conversation metrics"):
        st.dataframe(metrics.drop(columns=["call_id"]), hide_index=True)
conversation, found = st.columns([3, 2], gap="large")
with conversation:
    st.subheader("Conversation")
    st.caption(speaker_note(call))
    for row in utterances.itertuples():
        here = mentions[mentions["utterance_idx"] == row.idx]
        terms = [(marked_text(m), m.category) for m in here.itertuples() if marked_text(m)]
        badges = [badge(m.term, m.category) for m in here.itertuples()]
        now = row.start_s - 0.5 <= start <= row.end_s + 0.5 and start > 0
        avatar = {"rep": ":material/support_agent:", "customer": ":material/person:"}.get(
            row.role, ":material/record_voice_over:"
        )
        with st.chat_message(row.role if row.role != "unknown" else "user", avatar=avatar):
            name = row.speaker if row.speaker not in ("rep", "customer", "unknown") else ""
            role = ROLE_LABELS.get(row.role, row.role)
            marker = " · :red[▶ this moment]" if now else ""
            who = f"**{escape(name)}** · {role}" if name else f"**{role}**"
            st.markdown(f"{who} · {seconds(row.start_s)}{marker}")
            st.markdown(highlight(row.text, terms))
            if badges:
                st.markdown(" ".join(badges))
with found:
    st.subheader("Tracked moments")
    if mentions.empty:
        st.caption("Nothing tracked in this call.")
    else:
        shown = mentions.assign(at=mentions["start_s"].map(seconds))
        st.dataframe(
            shown,
            hide_index=True,
            column_order=["at", "topic", "sure", "term", "found_by", "snippet"],
            column_config={
                "at": "At",
                "topic": "Topic",
                "term": "Term",
                "found_by": "Found by",
                "sure": SURE_COLUMN,
                "snippet": st.column_config.TextColumn("Quote"),
            },
        )
        moment = st.selectbox(
            "Play from",
            range(len(mentions)),
            index=None,
            placeholder="Pick a moment",
            format_func=lambda i: (
                f"{shown.iloc[i]['at']} · {shown.iloc[i]['topic']} {shown.iloc[i]['term']}".strip()
            ),
        )
        if moment is not None:
            st.query_params["t"] = str(int(mentions.iloc[moment]["start_s"]))
            st.rerun()
