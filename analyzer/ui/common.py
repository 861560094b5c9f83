"""What every page shares: the store, cached queries, the filter sidebar, links to a call."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analyzer.calibration import KINDS, kind_of
from analyzer.config import default_db_path
from analyzer.records import Mention
from analyzer.risk import AccountRisk, ranked
from analyzer.risk import call_warnings as warnings_for_call
from analyzer.store import CallFilter, Queries, Scope, Store
from analyzer.ui.jobs import JobRunner
from analyzer.ui.login import signed_in

CATEGORY_LABELS = {
    "competitor": "Competitors",
    "pricing": "Pricing",
    "demo": "Demos",
    "pain_point": "Pain points",
    "churn_signal": "Churn signals",
}
ROLE_LABELS = {"rep": "Rep", "customer": "Customer", "unknown": "Speaker"}


@st.cache_resource
def get_queries(db_path: str) -> Queries:
    """Once per app process: an older database file is upgraded before the first query."""
    store = Store(db_path)
    if store.path.exists():
        store.migrate()
    return Queries(store)


def queries() -> Queries:
    """Queries over the calls the signed-in user may see."""
    return get_queries(str(default_db_path())).scoped(signed_in()[1])


def require(allowed: bool) -> None:
    """Stop a page its user's role may not open (navigation already hides it)."""
    if not allowed:
        st.error("Your role cannot open this page.")
        st.stop()


@st.cache_resource
def runner(db_path: str) -> JobRunner:
    """The app's one background ingest worker (shared by Upload and Trackers)."""
    return JobRunner(get_queries(db_path).store)


def data_version() -> int:
    """Changes whenever a call is written, so cached results refresh without a restart."""
    return queries().store.stamp()


@st.cache_data(ttl=300, show_spinner=False)
def cached(name: str, version: int, db_path: str, scope: Scope, *args, **kwargs) -> pd.DataFrame:
    """Run `Queries.<name>` once per data version, scope and arguments."""
    return getattr(get_queries(db_path).scoped(scope), name)(*args, **kwargs)


def run(name: str, *args, **kwargs):
    """`Queries.<name>(*args)` over the signed-in user's calls, cached."""
    return cached(name, data_version(), str(default_db_path()), signed_in()[1], *args, **kwargs)


@st.cache_data(ttl=300, show_spinner=False)
def _cached_risks(version: int, db_path: str, scope: Scope, where: CallFilter, explained: int):
    return ranked(get_queries(db_path).scoped(scope), where, explained)


def call_warnings(call: dict, utterances: pd.DataFrame, mentions: pd.DataFrame):
    """Deal warnings for a call shown on the Call page."""
    calls = run("calls", CallFilter(accounts=(call["account"],))) if call["account"] else None
    earlier = 0
    if calls is not None and not calls.empty:
        sales = calls[(calls["call_type"] == "sales") & (calls["call_date"] < call["call_date"])]
        earlier = len(sales)
    roles = utterances.set_index("idx")["role"] if not utterances.empty else pd.Series(dtype=str)
    said = (
        mentions.assign(role=mentions["utterance_idx"].map(roles))
        if not mentions.empty
        else mentions
    )
    return warnings_for_call(
        call, utterances, said.assign(role=said.get("role", "unknown")), earlier
    )


def risks(where: CallFilter, explained: int) -> list[AccountRisk]:
    """Accounts by churn risk, recomputed when the data changes; the `explained` riskiest
    with their evidence (every account's score and totals count every moment)."""
    return _cached_risks(data_version(), str(default_db_path()), signed_in()[1], where, explained)


def require_calls() -> dict:
    """Stop the page with a how-to when the database holds no calls; else the filter options."""
    options = run("options")
    user, scope = signed_in()
    if not options["dates"] and scope.reps is not None:
        st.info(
            f"No calls for you yet ({user.label}): a rep sees their own calls, a manager "
            "those of their team's reps."
        )
        st.stop()
    if not options["dates"]:
        st.info(
            f"No calls in `{queries().store.path}` yet. Upload recordings on the **Upload** page, "
            'or from a terminal:\n\n```\nanalyzer ingest call.wav --rep "Priya Shah" '
            '--account "Acme" --call-type sales\nanalyzer demo   # the bundled sample calls\n```'
        )
        st.stop()
    return options


def _param_list(name: str) -> list[str]:
    value = st.query_params.get_all(name)
    return [item for item in value if item]


def sidebar_filters(options: dict, *, categories: bool = True) -> CallFilter:
    """Filters in the sidebar, mirrored in the URL so a view can be shared as a link."""
    with st.sidebar:
        st.header("Filters")
        first, last = options["dates"]
        first, last = pd.Timestamp(first).date(), pd.Timestamp(last).date()
        span = st.date_input(
            "Call dates", value=(first, last), min_value=first, max_value=last, key="f_dates"
        )
        linked_type = st.query_params.get("type")
        call_type = st.segmented_control(
            "Call type",
            ["sales", "cs"],
            key="f_type",
            format_func={"sales": "Sales", "cs": "Customer success"}.get,
            default=linked_type if linked_type in ("sales", "cs") else None,
        )
        reps = st.multiselect(
            "Reps",
            options["reps"],
            key="f_reps",
            default=[r for r in _param_list("rep") if r in options["reps"]],
        )
        accounts = st.multiselect(
            "Accounts",
            options["accounts"],
            key="f_accounts",
            default=[a for a in _param_list("account") if a in options["accounts"]],
        )
        chosen_categories: list[str] = []
        if categories:
            chosen_categories = st.multiselect(
                "Topics",
                options["categories"],
                key="f_categories",
                format_func=lambda c: CATEGORY_LABELS.get(c, c),
                default=[c for c in _param_list("topic") if c in options["categories"]],
            )
    chosen = {"rep": reps, "account": accounts, "topic": chosen_categories, "type": call_type}
    for key, value in chosen.items():
        if value:
            st.query_params[key] = value
        elif key in st.query_params:
            del st.query_params[key]
    date_from, date_to = (span[0], span[-1]) if isinstance(span, tuple) and span else (None, None)
    return CallFilter(
        date_from=date_from if date_from != first else None,
        date_to=date_to if date_to != last else None,
        call_type=call_type,
        reps=tuple(reps),
        accounts=tuple(accounts),
        categories=tuple(chosen_categories),
    )


def csv_button(frame: pd.DataFrame, name: str, key: str) -> None:
    st.download_button(
        "Download CSV",
        frame.to_csv(index=False).encode(),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=key,
        icon=":material/download:",
    )


def found_by(tracker: str, method: str, score: float, category: str) -> str:
    """How a mention was found, in words: a keyword phrase, a misheard name, a smart tracker,
    a short reply that took the topic of the question it answers, or a hypothetical the call
    showed was meant."""
    mention = Mention(0, category, tracker, "", 0.0, 0.0, "", score, method)
    return KINDS[kind_of(mention)]


def for_display(mentions: pd.DataFrame) -> pd.DataFrame:
    """Mentions with a topic label, how each was found, how sure it is (its calibrated
    probability; the raw score where none was fitted), and no term for smart trackers (their
    `term` is the category itself)."""
    columns = ("tracker", "method", "score", "category")
    return mentions.assign(
        topic=mentions["category"].map(lambda c: CATEGORY_LABELS.get(c, c)),
        found_by=[found_by(*row) for row in zip(*(mentions[c] for c in columns), strict=True)],
        sure=mentions["probability"].fillna(mentions["score"]),
        term=mentions["term"].where(mentions["method"] != "semantic", ""),
    )


SURE_COLUMN = st.column_config.ProgressColumn(
    "Sure",
    help="How likely the moment is what it is tagged as: calibrated on labeled calls "
    "(docs/topics.md). A team's topic thresholds hide moments below theirs.",
    min_value=0.0,
    max_value=1.0,
    format="percent",
)


def moments_table(frame: pd.DataFrame, key: str) -> None:
    """Quotes with call and time; picking a row opens the call at that second."""
    if frame.empty:
        st.caption("No moments match.")
        return
    shown = for_display(frame)
    event = st.dataframe(
        shown,
        key=key,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        column_order=[
            "call_date",
            "rep",
            "account",
            "topic",
            "sure",
            "term",
            "found_by",
            "role",
            "snippet",
            "second",
        ],
        column_config={
            "call_date": st.column_config.DateColumn("Date"),
            "rep": "Rep",
            "account": "Account",
            "topic": "Topic",
            "term": "Term",
            "found_by": "Found by",
            "sure": SURE_COLUMN,
            "role": "Who",
            "snippet": st.column_config.TextColumn("Quote", width="large"),
            "second": st.column_config.NumberColumn("At (s)", format="%d"),
        },
    )
    rows = event.selection.rows if event else []
    if rows:
        picked = frame.iloc[rows[0]]
        open_call(picked["call_id"], int(picked["second"]))
    st.caption("Select a row to open the call at that moment.")
    csv_button(frame, "moments", key=f"{key}_csv")


def open_call(call_id: str, second: int = 0) -> None:
    st.switch_page("analyzer/ui/call.py", query_params={"call": call_id, "t": str(second)})


def fmt_date(value) -> str:
    return pd.Timestamp(value).strftime("%b %d, %Y") if value is not None else "—"
