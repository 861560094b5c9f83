"""Upload recordings or transcripts; they are ingested in the background."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from analyzer.errors import InputError
from analyzer.sources import SUPPORTED_EXTENSIONS, make_meta
from analyzer.ui.common import queries, runner
from analyzer.ui.jobs import MAX_UPLOAD_BYTES, accept_upload
from analyzer.ui.login import signed_in

st.title("Upload calls")
user, scope = signed_in()
store = queries().store
jobs = runner(str(store.path))
st.caption(
    f"Audio or video (wav, mp3, m4a, ogg, flac, webm, mp4; up to {MAX_UPLOAD_BYTES // 2**20} MB) "
    "or transcripts (Zoom/Teams/Meet VTT, SRT, JSON). Stereo recordings: rep on the left channel."
)
with st.form("upload", clear_on_submit=True):
    files = st.file_uploader(
        "Recordings or transcripts",
        accept_multiple_files=True,
        type=sorted(ext.lstrip(".") for ext in SUPPORTED_EXTENSIONS),
    )
    left, right = st.columns(2)
    if user.role == "rep":  # a rep's uploads are their own calls
        left.text_input("Rep", value=user.rep, disabled=True)
        rep = user.rep
    elif user.role == "manager":  # and a manager's, their team's (the reps they may see)
        rep = left.selectbox("Rep", scope.reps)
    else:
        rep = left.text_input("Rep", placeholder="Priya Shah")
    account = right.text_input("Account", placeholder="Acme Logistics")
    call_type = left.selectbox(
        "Call type", ["sales", "cs"], format_func={"sales": "Sales", "cs": "Customer success"}.get
    )
    call_date = right.date_input("Call date", value=dt.date.today())
    submitted = st.form_submit_button("Upload and analyze", type="primary")

if submitted:
    if not files:
        st.warning("Choose at least one file.")
    accepted = []
    for upload in files or []:
        try:
            accepted.append(accept_upload(store, upload.name, upload.getvalue()))
        except InputError as error:
            st.error(f"{upload.name}: rejected, {error}")
    if accepted:
        meta = make_meta(rep=rep, account=account, call_type=call_type, date=call_date)
        jobs.submit(accepted, meta, owner=user.username)
        st.toast(f"Analyzing {len(accepted)} file(s)…")


@st.fragment(run_every=1.0)
def progress() -> None:
    mine = jobs.jobs_of(user.username)
    for number, job in enumerate(reversed(mine), start=1):
        done = len(job.outcomes)
        st.progress(
            done / len(job.files),
            text=f"Upload {len(mine) - number + 1}: {done} of {len(job.files)} analyzed",
        )
        for outcome in job.outcomes:
            if outcome.status == "ok":
                st.success(
                    f"{outcome.path.name.split('_', 1)[-1]}: {outcome.utterances} "
                    f"utterances, {outcome.mentions} moments → call `{outcome.call_id}`"
                )
            elif outcome.status == "skipped":
                st.info(f"{outcome.path.name.split('_', 1)[-1]}: {outcome.detail}")
            else:
                st.error(f"{outcome.path.name.split('_', 1)[-1]}: {outcome.detail}")
        if job.error:
            st.error(job.error)


if jobs.jobs_of(user.username):
    st.subheader("Progress")
    progress()
