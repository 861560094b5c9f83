"""Query latency at scale: the app's main queries on a generated database, side by side with
the same questions asked of pandas and of SQLite, in one run.

    python -m bench.scale [--calls 100000] [--repeat 20] [--keep DIR]

The database has `--calls` calls with 50 utterances and 100 mentions each (100k calls: 5M
utterances, 10M mentions), 200 reps, 5,000 accounts and two years of dates. Utterance text is
drawn from the sample corpus' transcripts, so full-text search has real words to find. DuckDB
is asked through `analyzer.store.Queries`, exactly as the app asks it (a fresh read-only
connection per query); SQLite gets the same tables, indexes and an FTS5 index; pandas holds the
tables in memory. Each query runs `--repeat` times after one warm-up; p50 and p95 are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from analyzer.risk import EXPLAINED, account_risks, load_config, ranked, score_frames
from analyzer.store import CallFilter, Queries, Store, summarize_range

ROOT = Path(__file__).resolve().parents[1]
UTTERANCES_PER_CALL = 50
MENTIONS_PER_CALL = 100
REPS = 200
ACCOUNTS = 5_000
CHUNK_CALLS = 10_000
CATEGORIES = np.array(["competitor", "pricing", "demo", "pain_point", "churn_signal"])
TERMS = {
    "competitor": ["Gong", "Chorus", "Salesforce", "Outreach", "Clari"],
    "pricing": ["price", "per seat", "discount", "budget", "quote"],
    "demo": ["demo", "walkthrough", "trial", "show you", "sandbox"],
    "pain_point": ["frustrating", "manual", "slow", "broken", "takes forever"],
    "churn_signal": ["cancel", "not renewing", "switching", "notice period", "cheaper option"],
}
METRIC_COLUMNS = ("talk_s", "talk_ratio", "longest_stretch_s", "questions", "questions_per_hour",
                  "words", "words_per_minute", "fillers", "fillers_per_minute",
                  "speaker_switches_per_minute", "patience_s")  # fmt: skip
SEARCHES = ["notice period", "per seat", "salesforce sync", "renewal", "security review"]


def corpus_texts() -> np.ndarray:
    texts = [
        u["text"]
        for path in sorted((ROOT / "sample_calls" / "gold").glob("*.json"))
        for u in json.loads(path.read_text(encoding="utf-8"))["utterances"]
    ]
    return np.array(texts, dtype=object)


def generate(calls: int, seed: int = 7) -> Iterator[dict[str, pa.Table]]:
    """The tables in chunks of CHUNK_CALLS calls, in the store's column order."""
    rng = np.random.default_rng(seed)
    texts = corpus_texts()
    reps = np.array([f"Rep {i:03d}" for i in range(REPS)], dtype=object)
    accounts = np.array([f"Account {i:04d}" for i in range(ACCOUNTS)], dtype=object)
    first_day = dt.date(2025, 1, 1)
    for start in range(0, calls, CHUNK_CALLS):
        n = min(CHUNK_CALLS, calls - start)
        ids = np.array([f"call-{i:06d}" for i in range(start, start + n)], dtype=object)
        days = rng.integers(0, 730, n)
        call_table = pa.table(
            {
                "call_id": ids,
                "source_path": np.full(n, None, dtype=object),
                "content_sha256": ids,
                "title": np.full(n, "Generated call", dtype=object),
                "call_type": np.where(rng.random(n) < 0.5, "sales", "cs").astype(object),
                "rep": reps[rng.integers(0, REPS, n)],
                "account": accounts[rng.integers(0, ACCOUNTS, n)],
                "call_date": pa.array([first_day + dt.timedelta(days=int(d)) for d in days]),
                "duration_s": np.full(n, 1800.0),
                "language": np.full(n, "en", dtype=object),
                "asr_model": np.full(n, "tiny.en", dtype=object),
                "status": np.full(n, "ok", dtype=object),
                "error": np.full(n, None, dtype=object),
                "ingested_at": pa.array([dt.datetime(2026, 11, 1)] * n),
                "source_kind": np.full(n, "json", dtype=object),
                "channels": np.full(n, 2, dtype=np.int32),
                "roles_from": np.full(n, "names", dtype=object),
            }
        )
        u_calls = np.repeat(ids, UTTERANCES_PER_CALL)
        u_idx = np.tile(np.arange(UTTERANCES_PER_CALL, dtype=np.int32), n)
        starts = u_idx * 36.0
        utterances = pa.table(
            {
                "call_id": u_calls,
                "idx": u_idx,
                "speaker": np.where(u_idx % 2 == 0, "rep", "customer").astype(object),
                "role": np.where(u_idx % 2 == 0, "rep", "customer").astype(object),
                "start_s": starts,
                "end_s": starts + 30.0,
                "text": texts[rng.integers(0, len(texts), n * UTTERANCES_PER_CALL)],
                "uid": np.char.add(np.char.add(u_calls.astype(str), "#"), u_idx.astype(str)),
                "tone": rng.normal(0.1, 0.4, n * UTTERANCES_PER_CALL).clip(-1, 1),
            }
        )
        m_calls = np.repeat(ids, MENTIONS_PER_CALL)
        m_utt = rng.integers(0, UTTERANCES_PER_CALL, n * MENTIONS_PER_CALL).astype(np.int32)
        categories = CATEGORIES[rng.integers(0, len(CATEGORIES), len(m_calls))]
        terms = np.array([TERMS[c][i] for c, i in zip(categories, rng.integers(0, 5, len(m_calls)),
                                                      strict=True)], dtype=object)  # fmt: skip
        snippets = utterances.column("text").to_numpy(zero_copy_only=False)
        snippet = snippets[np.repeat(np.arange(n), MENTIONS_PER_CALL) * UTTERANCES_PER_CALL + m_utt]
        mentions = pa.table(
            {
                "call_id": m_calls,
                "utterance_idx": m_utt,
                "category": categories.astype(object),
                "tracker": categories.astype(object),
                "term": terms,
                "start_s": m_utt * 36.0,
                "end_s": m_utt * 36.0 + 2.0,
                "snippet": snippet,
                "score": np.ones(len(m_calls)),
                "method": np.full(len(m_calls), "keyword", dtype=object),
                "speaker_role": np.where(m_utt % 2 == 0, "rep", "customer").astype(object),
            }
        )
        metrics = pa.table(
            {"call_id": np.repeat(ids, 2),
             "role": np.tile(np.array(["rep", "customer"], dtype=object), n)}
            | {name: rng.random(2 * n) * 60 for name in METRIC_COLUMNS}
        )  # fmt: skip
        yield {
            "calls": call_table,
            "utterances": utterances,
            "mentions": mentions,
            "call_metrics": metrics,
        }


TABLES = ("calls", "utterances", "mentions", "call_metrics")


def build(folder: Path, calls: int) -> tuple[Path, Path, dict[str, pd.DataFrame], dict]:
    """DuckDB (our store), SQLite and pandas copies of the same generated data; build times."""
    duck, lite = folder / "scale.duckdb", folder / "scale.sqlite"
    store = Store(duck)
    store.migrate()
    sqlite = sqlite3.connect(lite)
    sqlite.executescript(SQLITE_SCHEMA)
    frames: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    timings = {"duckdb insert": 0.0, "sqlite insert": 0.0}
    for chunk in generate(calls):
        started = time.perf_counter()
        with duckdb.connect(str(duck)) as connection:
            for name in TABLES:
                connection.register("chunk", chunk[name])
                connection.execute(f"INSERT INTO {name} BY NAME SELECT * FROM chunk")
                connection.unregister("chunk")
            ids = chunk["calls"]["call_id"]  # the summaries the store writes with every call
            summarize_range(connection, ids[0].as_py(), ids[-1].as_py())
        timings["duckdb insert"] += time.perf_counter() - started
        started = time.perf_counter()
        for name in TABLES:
            frame = chunk[name].to_pandas()
            frames[name].append(frame)
            columns = ", ".join(frame.columns)
            marks = ", ".join("?" * len(frame.columns))
            plain = frame.astype({c: str for c in ("call_date", "ingested_at") if c in frame})
            rows = plain.astype(object).where(plain.notna(), None).itertuples(index=False)
            sqlite.executemany(f"INSERT INTO {name} ({columns}) VALUES ({marks})", rows)
        sqlite.commit()
        timings["sqlite insert"] += time.perf_counter() - started
    started = time.perf_counter()
    store.refresh_search_index()
    timings["duckdb full-text index"] = time.perf_counter() - started
    started = time.perf_counter()
    sqlite.executescript(SQLITE_INDEXES)
    timings["sqlite indexes and FTS5"] = time.perf_counter() - started
    sqlite.close()
    tables = {name: pd.concat(parts, ignore_index=True) for name, parts in frames.items()}
    tables["calls"]["call_date"] = pd.to_datetime(tables["calls"]["call_date"])
    return duck, lite, tables, timings


SQLITE_SCHEMA = """
CREATE TABLE calls (call_id TEXT PRIMARY KEY, source_path TEXT, content_sha256 TEXT, title TEXT,
    call_type TEXT, rep TEXT, account TEXT, call_date TEXT, duration_s REAL, language TEXT,
    asr_model TEXT, status TEXT, error TEXT, ingested_at TEXT, source_kind TEXT, channels INT,
    roles_from TEXT);
CREATE TABLE utterances (call_id TEXT, idx INT, speaker TEXT, role TEXT, start_s REAL,
    end_s REAL, text TEXT, uid TEXT, tone REAL);
CREATE TABLE mentions (call_id TEXT, utterance_idx INT, category TEXT, tracker TEXT, term TEXT,
    start_s REAL, end_s REAL, snippet TEXT, score REAL, method TEXT, speaker_role TEXT);
CREATE TABLE call_metrics (call_id TEXT, role TEXT, talk_s REAL, talk_ratio REAL,
    longest_stretch_s REAL, questions REAL, questions_per_hour REAL, words REAL,
    words_per_minute REAL, fillers REAL, fillers_per_minute REAL,
    speaker_switches_per_minute REAL, patience_s REAL);
"""
SQLITE_INDEXES = """
CREATE INDEX utterances_call ON utterances (call_id, idx);
CREATE INDEX mentions_call ON mentions (call_id, utterance_idx);
CREATE INDEX calls_rep ON calls (rep);
CREATE INDEX calls_account ON calls (account);
CREATE VIRTUAL TABLE utterances_fts USING fts5 (text, content='utterances',
    tokenize='porter');
INSERT INTO utterances_fts (rowid, text) SELECT rowid, text FROM utterances;
ANALYZE;
"""

# The same questions for SQLite: per rep and topic, per week and topic, and search.
SQLITE_QUERIES = {
    "rep x topic": """
        WITH rep_calls AS (SELECT rep, count(*) AS calls FROM calls WHERE status = 'ok'
                           GROUP BY rep)
        SELECT c.rep, m.category, count(*) AS mentions,
               count(DISTINCT m.call_id) AS calls_with_mention,
               round(1.0 * count(*) / r.calls, 2) AS per_call
        FROM mentions m JOIN calls c USING (call_id) JOIN rep_calls r ON r.rep = c.rep
        WHERE c.status = 'ok' GROUP BY c.rep, m.category ORDER BY 1, 2""",
    "trend by week": """
        WITH picked AS (SELECT call_id, date(call_date, 'weekday 1', '-7 days') AS week
                        FROM calls WHERE status = 'ok'),
             weeks AS (SELECT week, count(*) AS calls FROM picked GROUP BY week)
        SELECT p.week, m.category, count(*) AS mentions, round(1.0 * count(*) / w.calls, 2)
        FROM mentions m JOIN picked p USING (call_id) JOIN weeks w USING (week)
        GROUP BY p.week, m.category ORDER BY 1, 2""",
    "full-text search": """
        SELECT c.call_date, c.rep, c.account, u.role, u.text, u.call_id, round(u.start_s),
               bm25(utterances_fts) AS score
        FROM utterances_fts JOIN utterances u ON u.rowid = utterances_fts.rowid
        JOIN calls c USING (call_id)
        WHERE utterances_fts MATCH ? ORDER BY score LIMIT 100""",
}


SQLITE_RISK = {
    "calls": "SELECT call_id, account, call_type, call_date, title, rep FROM calls "
    "WHERE status = 'ok'",
    "mentions": """
        SELECT m.call_id, m.category, m.term, m.speaker_role AS role, m.snippet, m.start_s
        FROM mentions m JOIN calls c USING (call_id)
        WHERE c.status = 'ok' AND c.call_type IS NOT 'sales' AND m.speaker_role IS NOT 'rep'
          AND m.category IN ('churn_signal', 'competitor', 'pain_point')""",
    "tones": """
        WITH said AS (
            SELECT u.call_id, u.tone, u.idx, u.text, u.start_s,
                   row_number() OVER (PARTITION BY u.call_id ORDER BY u.tone, u.idx) AS rank,
                   avg(u.tone) OVER (PARTITION BY u.call_id) AS mean
            FROM utterances u JOIN calls c USING (call_id)
            WHERE c.status = 'ok' AND c.call_type IS NOT 'sales'
              AND u.role IN ('customer', 'unknown'))
        SELECT call_id, mean AS tone, text AS worst_text, start_s AS worst_start_s
        FROM said WHERE rank = 1""",
}


def risks_from(calls: pd.DataFrame, mentions: pd.DataFrame, tones: pd.DataFrame):
    """Account risk from frames fetched elsewhere, every account with its evidence; scored
    as the store scores them (the same SQL, run by DuckDB over the frames)."""
    return account_risks(*score_frames(calls, mentions, tones, load_config()))


def sqlite_risk(connection: sqlite3.Connection):
    return risks_from(*(pd.read_sql_query(SQLITE_RISK[name], connection) for name in SQLITE_RISK))


def pandas_risk(t: dict[str, pd.DataFrame]):
    calls = t["calls"][["call_id", "account", "call_type", "call_date", "title", "rep"]]
    cs = calls[calls["call_type"] != "sales"]
    mentions = t["mentions"]
    mentions = mentions[mentions["category"].isin(["churn_signal", "competitor", "pain_point"])]
    mentions = mentions[mentions["call_id"].isin(cs["call_id"])]
    mentions = mentions[mentions["speaker_role"] != "rep"].rename(columns={"speaker_role": "role"})
    said = t["utterances"]
    said = said[said["role"].isin(["customer", "unknown"]) & said["call_id"].isin(cs["call_id"])]
    worst = said.loc[said.groupby("call_id")["tone"].idxmin()]
    tones = pd.DataFrame(
        {"call_id": worst["call_id"].to_numpy(),
         "tone": said.groupby("call_id")["tone"].mean().loc[worst["call_id"]].to_numpy(),
         "worst_text": worst["text"].to_numpy(), "worst_start_s": worst["start_s"].to_numpy()}
    )  # fmt: skip
    columns = ["call_id", "category", "term", "role", "snippet", "start_s"]
    return risks_from(calls, mentions[columns], tones)


def pandas_queries(t: dict[str, pd.DataFrame]) -> dict[str, Callable]:
    calls, mentions = t["calls"], t["mentions"]

    def rep_topics(_):
        hits = mentions[["call_id", "category"]].merge(calls[["call_id", "rep"]], on="call_id")
        grouped = hits.groupby(["rep", "category"]).agg(
            mentions=("call_id", "size"), calls_with_mention=("call_id", "nunique")
        )
        per_rep = calls.groupby("rep").size().rename("calls")
        return grouped.join(per_rep, on="rep").assign(per_call=lambda f: f.mentions / f.calls)

    def weekly(_):
        week = calls.set_index("call_id")["call_date"].dt.to_period("W").rename("week")
        hits = mentions[["call_id", "category"]].join(week, on="call_id")
        per_week = week.value_counts().rename("calls")
        counts = hits.groupby(["week", "category"]).size().rename("mentions").reset_index()
        return counts.join(per_week, on="week")

    def search(text):
        utterances = t["utterances"]
        found = utterances[utterances["text"].str.contains(text, case=False, regex=False)]
        return found.head(100).merge(calls[["call_id", "rep", "account"]], on="call_id")

    return {"rep x topic": rep_topics, "trend by week": weekly,
            "account risk": lambda _: pandas_risk(t), "full-text search": search}  # fmt: skip


def timed(
    run: Callable, argument_for: Callable[[int], object], repeat: int, budget_s: float = 30.0
) -> list[float]:
    """Times of `repeat` runs after a warm-up; fewer (at least 3) when they would take longer
    than `budget_s` together."""
    started = time.perf_counter()
    run(argument_for(0))  # warm-up
    first = time.perf_counter() - started
    times = []
    for i in range(max(3, min(repeat, int(budget_s / max(first, 1e-6))))):
        started = time.perf_counter()
        run(argument_for(i))
        times.append(time.perf_counter() - started)
    return times


def p50_p95(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def measure(duck: Path, lite: Path, tables: dict[str, pd.DataFrame], repeat: int) -> list[dict]:
    queries = Queries(Store(duck))
    ids = tables["calls"]["call_id"].to_numpy()
    ours = {
        "rep x topic": lambda _: queries.rep_topics(CallFilter()),
        "trend by week": lambda _: queries.weekly_topics(CallFilter()),
        "account risk": lambda _: ranked(queries, CallFilter(), explained=EXPLAINED),
        "full-text search": lambda text: queries.search(text),
        "one call (Call page)": lambda call_id: (
            queries.call(call_id),
            queries.call_utterances(call_id),
            queries.call_mentions(call_id),
        ),
    }
    sqlite = sqlite3.connect(f"file:{lite}?mode=ro", uri=True, check_same_thread=False)

    def lite_query(name: str) -> Callable:
        sql = SQLITE_QUERIES[name]
        return lambda argument: sqlite.execute(sql, (argument,) if "?" in sql else ()).fetchall()

    def lite_call(call_id: str):
        return [
            sqlite.execute(f"SELECT * FROM {table} WHERE call_id = ?", (call_id,)).fetchall()
            for table in ("calls", "utterances", "mentions")
        ]

    theirs = {"sqlite": {name: lite_query(name) for name in SQLITE_QUERIES}, "pandas":
              pandas_queries(tables)}  # fmt: skip
    theirs["sqlite"]["one call (Call page)"] = lite_call
    theirs["sqlite"]["account risk"] = lambda _: sqlite_risk(sqlite)
    utterances, mentions = tables["utterances"], tables["mentions"]
    theirs["pandas"]["one call (Call page)"] = lambda call_id: (
        utterances[utterances["call_id"] == call_id],
        mentions[mentions["call_id"] == call_id],
    )
    arguments = {
        "full-text search": lambda i: SEARCHES[i % len(SEARCHES)],
        "one call (Call page)": lambda i: ids[(i * 7919) % len(ids)],
    }
    rows = []
    for name, run in ours.items():
        argument_for = arguments.get(name, lambda i: None)
        row = {"query": name}
        for engine, runner in (("duckdb (ours)", run), ("sqlite", theirs["sqlite"][name]),
                               ("pandas", theirs["pandas"][name])):  # fmt: skip
            row[engine] = p50_p95(timed(runner, argument_for, repeat))
        rows.append(row)
        print(format_row(row), flush=True)
    sqlite.close()
    return rows


def format_row(row: dict) -> str:
    cells = [f"{p50 * 1000:8.1f} / {p95 * 1000:8.1f}"
             for key, (p50, p95) in ((k, v) for k, v in row.items() if k != "query")]  # fmt: skip
    return f"{row['query']:22} " + "  ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep the files.")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        folder = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        duck, lite, tables, timings = build(folder, args.calls)
        sizes = {name: len(frame) for name, frame in tables.items()}
        print(f"generated in {time.perf_counter() - started:.0f} s: {sizes}")
        for name, seconds in timings.items():
            print(f"  {name}: {seconds:.1f} s")
        print(f"duckdb file {duck.stat().st_size / 2**30:.2f} GiB, "
              f"sqlite file {lite.stat().st_size / 2**30:.2f} GiB")  # fmt: skip
        print(f"{'query':22} {'duckdb (ours) p50 / p95 ms':>21}  {'sqlite':>19}  {'pandas':>19}")
        measure(duck, lite, tables, args.repeat)


if __name__ == "__main__":
    main()
