from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from analyzer.records import CallMeta, CallRecord, Mention, Transcript, Utterance, Word
from analyzer.store import SCHEMA_VERSION, Store

ROOT = Path(__file__).parents[1]


def record(call_id="c1", mentions=1, status="ok"):
    words = (Word(0.0, 0.5, " We"), Word(0.5, 1.0, " cancel."))
    utterances = (
        Utterance("Priya", "rep", 0.0, 1.0, "Hello there."),
        Utterance("Dana", "customer", 1.0, 2.0, "We cancel.", words),
    )
    transcript = Transcript(utterances, 2.0, "json")
    found = tuple(
        Mention(1, "churn_signal", "Churn signals", "cancel", 1.5, 2.0, "We cancel.")
        for _ in range(mentions)
    )
    return CallRecord(
        call_id, "/x/a.json", "abc", CallMeta(rep="Priya"), transcript, found, status=status
    )


def rows(store, sql):
    with duckdb.connect(str(store.path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_fresh_file_gets_the_contract_tables(store):
    assert store.schema_version() == SCHEMA_VERSION
    columns = {
        r[0]
        for r in rows(store, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'calls'")
    }
    assert {
        "call_id",
        "source_path",
        "content_sha256",
        "title",
        "call_type",
        "rep",
        "account",
        "call_date",
        "duration_s",
        "language",
        "asr_model",
        "status",
        "error",
        "ingested_at",
    } <= columns


def test_old_file_is_upgraded_in_place(tmp_path):
    store = Store(tmp_path / "old.duckdb")
    assert store.migrate(target=1) == 1
    with duckdb.connect(str(store.path)) as connection:
        connection.execute("INSERT INTO calls (call_id, status) VALUES ('kept', 'ok')")
    assert store.migrate() == SCHEMA_VERSION
    assert rows(store, "SELECT call_id, channels FROM calls") == [("kept", None)]
    assert rows(store, "SELECT count(*) FROM words") == [(0,)]


def test_migrate_twice_is_a_no_op(store):
    assert store.migrate() == SCHEMA_VERSION
    assert rows(store, "SELECT count(*) FROM schema_migrations") == [(SCHEMA_VERSION,)]


def test_save_call_writes_every_table(store):
    store.save_call(record())
    assert store.table_counts() == {"calls": 1, "utterances": 2, "words": 2, "mentions": 1}
    assert [u.role for u in store.utterances("c1")] == ["rep", "customer"]


def test_saving_again_replaces_instead_of_duplicating(store):
    store.save_call(record(mentions=2))
    store.save_call(record(mentions=1))
    assert store.table_counts()["mentions"] == 1
    assert store.table_counts()["calls"] == 1


def test_a_failed_write_leaves_nothing_behind(store, monkeypatch):
    store.save_call(record("before"))

    def explode(connection, table, rows):
        if table == "mentions":
            raise RuntimeError("disk full")
        return original(connection, table, rows)

    original = Store._insert
    monkeypatch.setattr(Store, "_insert", staticmethod(explode))
    with pytest.raises(RuntimeError):
        store.save_call(record("half"))
    assert rows(store, "SELECT call_id FROM calls") == [("before",)]
    assert rows(store, "SELECT count(*) FROM utterances WHERE call_id = 'half'") == [(0,)]


def test_failed_call_is_recorded(store):
    store.save_call(
        CallRecord("bad", "/x/bad.wav", "f00", CallMeta(), status="failed", error="silence only")
    )
    (row,) = store.calls(status="failed")
    assert (row["call_id"], row["error"]) == ("bad", "silence only")


def test_find_by_sha_prefers_the_good_row(store):
    store.save_call(record("c1"))
    assert store.find_by_sha("abc")["status"] == "ok"
    assert store.find_by_sha("nope") is None


def test_replace_analysis(store):
    store.save_call(record(mentions=2))
    store.replace_analysis("c1", [], None)
    assert store.table_counts()["mentions"] == 0


def test_reads_of_a_missing_file_are_empty(tmp_path):
    assert Store(tmp_path / "none.duckdb").calls() == []


def test_reader_waits_while_another_process_holds_the_write_lock(store):
    import subprocess
    import sys
    import time

    store.save_call(record())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('locked', flush=True); time.sleep(1.5)",
            str(store.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        assert Store(store.path).calls()[0]["call_id"] == "c1"
        assert time.monotonic() - started > 0.5  # it really waited for the lock
    finally:
        holder.wait(timeout=30)


def test_a_read_waits_for_a_write_in_another_thread_of_this_process(store):
    import threading
    import time

    store.save_call(record("first"))
    writing = threading.Event()
    original = Store._insert

    def slow_insert(connection, table, rows):
        writing.set()
        time.sleep(0.3)
        return original(connection, table, rows)

    def write():
        Store._insert = staticmethod(slow_insert)
        try:
            store.save_call(record("second"))
        finally:
            Store._insert = staticmethod(original)

    writer = threading.Thread(target=write)
    writer.start()
    writing.wait(5)
    ids = {row["call_id"] for row in Store(store.path).calls()}  # read-only while it writes
    writer.join()
    assert "first" in ids
    assert {row["call_id"] for row in store.calls()} == {"first", "second"}


def test_app_queries_keep_working_while_another_process_ingests(tmp_path):
    """A reader polls the app's queries while `analyzer ingest` writes calls in a subprocess."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from analyzer.store import Queries

    gold = sorted(str(p) for p in (Path(__file__).parents[1] / "sample_calls/gold").glob("*.json"))
    gold = gold[:8]
    db = tmp_path / "busy.duckdb"
    Store(db).migrate()
    log = tmp_path / "ingest.log"  # a file, not a pipe nobody reads until the end
    ingest = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "ingest", *gold, "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    queries = Queries(Store(db))
    per_call = """SELECT c.call_id, count(u.idx) AS n FROM calls c
                  LEFT JOIN utterances u USING (call_id) GROUP BY ALL"""
    seen, snapshots = set(), []
    while ingest.poll() is None:
        seen.add(len(queries.calls()))  # would raise StoreError on a lock conflict
        queries.rep_topics()
        snapshots.append(dict(queries.store.frame(per_call).itertuples(index=False)))
        time.sleep(0.05)  # a busy app page, not a tight loop that would starve the writer
    assert ingest.returncode == 0, log.read_text()
    assert len(queries.calls()) == len(gold)
    assert len(seen) > 1  # the reader saw the database grow while it was being written
    final = dict(queries.store.frame(per_call).itertuples(index=False))
    # No torn read: whenever a call was visible, all of its utterances were.
    assert all(final[call] == n for snapshot in snapshots for call, n in snapshot.items())


@pytest.mark.parametrize("hostile", ["x' OR 1=1 --", "'; DROP TABLE calls; --", "%", "_", "\\"])
def test_user_strings_are_only_ever_parameters(store, hostile):
    """Filters and search text are bound parameters: a hostile string matches nothing (or
    itself) and changes nothing."""
    from analyzer.store import CallFilter, Queries

    store.save_call(record())
    queries = Queries(store)
    assert queries.calls(CallFilter(reps=(hostile,), accounts=(hostile,))).empty
    assert queries.rep_topics(CallFilter(categories=(hostile,))).empty
    found = queries.search(hostile)
    assert all(hostile.strip("%_") in text for text in found.get("text", []))
    assert store.mentions(rep=hostile, category=hostile) == []
    assert [row["call_id"] for row in store.calls()] == ["c1"]  # nothing dropped


def test_an_older_file_gets_the_tone_of_its_utterances(store_at):
    """Schema 8 keeps VADER's tone per utterance for account risk; upgrading a file scores
    what it already holds, and new calls are scored as they are saved."""
    old = store_at(
        7,
        "INSERT INTO utterances (call_id, idx, uid, role, text) VALUES "
        "('c0', 0, 'c0#0', 'customer', 'This is terrible and we are furious.')",
    )
    assert old.migrate() == SCHEMA_VERSION
    old.save_call(record())
    tones = dict(rows(old, "SELECT uid, tone FROM utterances"))
    assert tones["c0#0"] < -0.5 and tones["c1#0"] == 0.0  # "Hello there." is neutral
    assert all(tone is not None for tone in tones.values())


def test_masking_a_stored_call_merges_the_words_of_one_identifier(store):
    from analyzer.redact import redact_text, redact_utterance

    said = "mail me at jane at acme dot com thanks"
    words = tuple(Word(float(i), i + 0.5, f" {w}") for i, w in enumerate(said.split()))
    call = record()
    utterances = (Utterance("Dana", "customer", 0.0, 9.0, said, words),)
    store.save_call(CallRecord("c1", "/x/a.wav", "abc", call.meta,
                               Transcript(utterances, 9.0, "audio"), ()))  # fmt: skip
    assert store.rewrite_call_text("c1", redact_utterance, redact_text) == 1
    assert store.utterances("c1")[0].text == "mail me at [email] thanks"
    stored = store.words("c1")
    assert [w.text.strip() for w in stored] == ["mail", "me", "at", "[email]", "thanks"]
    assert (stored[3].start_s, stored[3].end_s) == (3.0, 7.5)  # "jane" to "com"


def test_search_finds_and_scores_what_the_extensions_bm25_does(store):
    """Search reads the index's postings in term order instead of running the extension's
    match_bm25 over every utterance: it finds the same utterances with the same scores, best
    first, and call ids may hold the '#' that joins call id and turn in the index."""
    from analyzer.store import Queries, fts_extension_path

    texts = [
        u["text"]
        for path in sorted((ROOT / "sample_calls" / "gold").glob("*.json"))
        for u in json.loads(path.read_text(encoding="utf-8"))["utterances"]
    ]
    for n in range(3):
        turns = tuple(Utterance("x", "customer", i, i + 1.0, t) for i, t in enumerate(texts[n::3]))
        store.save_call(CallRecord(f"c#{n}", f"/x/{n}.json", str(n), CallMeta(rep="Priya"),
                                   Transcript(turns, 999.0, "json"), ()))  # fmt: skip
    assert store.refresh_search_index()
    query = "Renewal: the NOTICE period, and pricing per-seat?"
    found = Queries(store).search(query, limit=10_000)
    with duckdb.connect(str(store.path), read_only=True) as connection:
        connection.execute(f"LOAD '{fts_extension_path()}'")
        expected = connection.execute(
            """SELECT call_id, text, score FROM (
                   SELECT call_id, text, fts_main_utterances.match_bm25(uid, ?) AS score
                   FROM utterances) WHERE score IS NOT NULL""",
            [query],
        ).df()
    assert len(found) == len(expected) > 20
    assert found["score"].is_monotonic_decreasing
    assert sorted(zip(found.call_id, found.text, found.score.round(9), strict=True)) == sorted(
        zip(expected.call_id, expected.text, expected.score.round(9), strict=True)
    )


def test_an_older_file_gets_per_call_competitors_and_tones(store_at):
    """Schema 10 keeps, per call, the competitors named (call_competitors) and the customer's
    tone with its most negative line (call_tones), which account risk reads."""
    old = store_at(
        9,
        """INSERT INTO utterances (call_id, idx, uid, role, text, tone) VALUES
               ('c0', 0, 'c0#0', 'customer', 'Gong is cheaper.', -0.2),
               ('c0', 1, 'c0#1', 'rep', 'Sorry to hear it.', -0.9),
               ('c0', 2, 'c0#2', 'customer', 'Fine.', 0.4);
           INSERT INTO mentions (call_id, utterance_idx, category, term, speaker_role)
               VALUES ('c0', 0, 'competitor', 'Gong', 'customer')""",
    )
    assert old.migrate() == SCHEMA_VERSION
    assert rows(old, "SELECT role, term, mentions FROM call_competitors") == [
        ("customer", "Gong", 1)
    ]
    assert rows(old, "SELECT call_id, round(tone, 2), worst_idx FROM call_tones") == [
        ("c0", 0.1, 0)
    ]


def test_an_older_file_gets_account_summaries(store_at):
    """Schema 11 keeps, per account, what its risk is scored from: its calls, latest tone (with
    that call's most negative line) and cadence, and what the customer said that carries risk
    in non-sales calls, counted per day and kind, with the quotes in the order they were said."""
    import datetime as dt

    old = store_at(
        10,
        """INSERT INTO calls (call_id, status, account, call_type, call_date) VALUES
               ('c0', 'ok', 'Acme', 'cs', '2026-10-01'),
               ('c1', 'ok', 'Acme', 'sales', '2026-10-08');
           INSERT INTO mentions (call_id, utterance_idx, category, term, start_s, snippet,
                                 speaker_role) VALUES
               ('c0', 3, 'churn_signal', 'cancel', 9.0, 'We may cancel.', 'customer'),
               ('c0', 1, 'churn_signal', 'leave', 2.0, 'Others leave.', 'customer'),
               ('c0', 2, 'churn_signal', 'cancel', 5.0, 'Please do not cancel.', 'rep'),
               ('c1', 0, 'churn_signal', 'cancel', 1.0, 'We cancelled them.', 'customer');
           INSERT INTO utterances (call_id, idx, uid, role, start_s, text, tone) VALUES
               ('c0', 1, 'c0#1', 'customer', 2.0, 'Others leave.', 0.1),
               ('c0', 3, 'c0#3', 'customer', 9.0, 'We may cancel.', -0.3)""",
    )
    assert old.migrate() == SCHEMA_VERSION
    october = dt.date(2026, 10, 1)
    summary = """SELECT account, calls, last_call, cs_last_day, tone_call_id, round(tone, 2),
                        tone_quote, tone_second FROM account_summaries"""
    assert rows(old, summary) == [
        ("Acme", 2, dt.date(2026, 10, 8), october, "c0", -0.1, "We may cancel.", 9.0)
    ]
    # mentions from before probabilities count as sure (weight 1 each)
    assert rows(old, "SELECT * FROM account_days") == [
        ("Acme", october, "churn_signal", None, 2, 2.0,
         [{"call_id": "c0", "start_s": 2.0, "snippet": "Others leave.", "w": 1.0},
          {"call_id": "c0", "start_s": 9.0, "snippet": "We may cancel.", "w": 1.0}])
    ]  # fmt: skip


def test_reads_within_reading_share_its_connection(store, monkeypatch):
    """Opening a connection costs about 10 ms; the reads inside `reading` (nested ones too)
    go through its connection, which is closed after it, so a write can follow."""
    store.save_call(record())
    opened = []
    real = store._connect

    def counting(**kwargs):
        opened.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(store, "_connect", counting)
    with store.reading() as frame:
        assert store.find_call("c1")["call_id"] == "c1"
        assert store.setting("redact_pii") is None
        with store.reading() as inner:
            assert inner("SELECT count(*) AS n FROM calls")["n"].item() == 1
        assert frame("SELECT 1 AS one")["one"].item() == 1
    assert opened == [{"read_only": True}]
    store.save_call(record("c2"))
    assert len(opened) == 2 and store.find_call("c2")["call_id"] == "c2"
