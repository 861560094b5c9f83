"""DuckDB storage: the only module that speaks SQL.

The tables are a public contract (DESIGN.md): `calls`, `utterances`, `mentions`, plus `words`
and `schema_migrations`. Columns may be added, never renamed.

DuckDB lets one process write at a time, and a writer locks readers in other processes out.
So no connection lives long: a write opens the file, commits one finished call in one
transaction and closes; a read opens read-only, queries and closes. Both retry while another
process holds the lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from analyzer import risk
from analyzer.errors import StoreError
from analyzer.metrics import CallMetrics
from analyzer.records import CallRecord, Mention, Utterance, Voice, Word
from analyzer.sentiment import tone

logger = logging.getLogger(__name__)

LOCK_RETRY_S = 30.0

VOICE_DIM = 256  # Resemblyzer d-vectors

# Per-call summaries the app reads instead of every row, rewritten whenever a call's mentions
# or utterances change (`{calls}` picks the calls): mention counts per category and side, and
# per competitor and side; and the customer side's mean tone with its most negative line.
_SUMMARIES = {
    "call_topics": """(call_id, category, role, mentions, weight)
        SELECT call_id, category, speaker_role, count(*), sum(coalesce(probability, 1))
        FROM mentions WHERE {calls} GROUP BY ALL""",
    "call_competitors": """(call_id, role, term, mentions, weight)
        SELECT call_id, speaker_role, term, count(*), sum(coalesce(probability, 1))
        FROM mentions WHERE {calls} AND category = 'competitor' GROUP BY ALL""",
    "call_tones": """(call_id, tone, worst_idx, worst_text, worst_start_s)
        SELECT call_id, avg(tone), arg_min(idx, [tone, idx]), arg_min(text, [tone, idx]),
               arg_min(start_s, [tone, idx])
        FROM utterances
        WHERE {calls} AND role IN ('customer', 'unknown') AND tone IS NOT NULL
        GROUP BY call_id""",
}


# risk.MOMENTS's `risky`: the per-call counts of the rows that can carry risk (risk.RISKY_ROWS),
# with their call, over the calls of `picked`.
_RISKY_COUNTS = f""", counted AS (
    SELECT call_id, category, NULL AS term, role, mentions, weight FROM call_topics
    WHERE category <> 'competitor'
    UNION ALL
    SELECT call_id, 'competitor', term, role, mentions, weight FROM call_competitors
), risky AS (
    SELECT * FROM (SELECT c.call_id, c.category, c.term, c.role, c.mentions AS n,
                          c.weight AS w, p.account, p.call_type, p.call_date
                   FROM counted c JOIN picked p USING (call_id))
    WHERE {risk.RISKY_ROWS}
)"""
# The same from the mention rows of `named`, with their call (of `picked`).
_RISKY_MENTIONS = f""", risky AS (
    SELECT * FROM (SELECT m.call_id, m.category, m.term, m.speaker_role AS role, m.snippet,
                          m.start_s, 1 AS n, coalesce(m.probability, 1) AS w,
                          p.account, p.call_type, p.call_date
                   FROM named m JOIN picked p USING (call_id))
    WHERE {risk.RISKY_ROWS}
)"""
# Per account, what its risk is scored from when no filter narrows the calls: its risk.ACCOUNTS
# row; and its rows that can carry risk (risk.RISKY_ROWS) counted per day, kind and competitor,
# with the first MAX_EVIDENCE of them (enough to list: their points are equal). CRMs are told
# from competitors, and points given, when scored. At 100k calls account risk reads these
# instead of joining 2M per-call counts to the calls and scanning 10M mentions for quotes.
# Rewritten for a call's account with the call's summaries; `{accounts}` picks the accounts.
_ACCOUNT_CALLS = "WITH picked AS (SELECT * FROM calls WHERE status = 'ok' AND {accounts})"
_ACCOUNT_SUMMARIES = {
    "account_summaries": f"""BY NAME {_ACCOUNT_CALLS}, tones AS (SELECT * FROM call_tones)
        {risk.ACCOUNTS}""",
    "account_days": f"""(account, day, kind, term, items, weight, moments) {_ACCOUNT_CALLS},
        named AS (SELECT * FROM mentions WHERE call_id IN (SELECT call_id FROM picked))
        {_RISKY_MENTIONS}
        SELECT account, call_date, category, CASE category WHEN 'competitor' THEN term END,
               count(*), sum(w), list(struct_pack(call_id, start_s, snippet, w)
                                      ORDER BY start_s, call_id)[:{risk.MAX_EVIDENCE}]
        FROM risky GROUP BY ALL
        ORDER BY account, call_date""",  # an account's rows together: listing few reads little
}
# risk.MOMENTS's `risky` from the per-account counts of every account; and from the moments
# kept with them, of the accounts bound to the ? (risk.LISTED lists from these).
_SUMMARIZED_COUNTS = """WITH risky AS (
    SELECT NULL::VARCHAR AS call_id, kind AS category, term, NULL::VARCHAR AS role, items AS n,
           weight AS w, account, NULL::VARCHAR AS call_type, day AS call_date
    FROM account_days
)"""
_SUMMARIZED_MOMENTS = """WITH shown AS MATERIALIZED (  -- or every account's are unnested first
    SELECT * FROM account_days WHERE list_contains(?::VARCHAR[], account)
), risky AS (
    SELECT said.call_id, kind AS category, term, NULL::VARCHAR AS role, said.snippet,
           said.start_s, 1 AS n, said.w, account, NULL::VARCHAR AS call_type, day AS call_date
    FROM shown, unnest(moments) AS kept(said)
)"""


def summarize(connection: duckdb.DuckDBPyConnection, call_id: str) -> None:
    """Rewrite one call's summaries from its stored mentions and utterances, and its account's."""
    summarize_range(connection, call_id, call_id)


def summarize_range(connection: duckdb.DuckDBPyConnection, first: str, last: str) -> None:
    """Rewrite the summaries of the calls whose ids sort from `first` to `last`, and of their
    accounts."""
    calls = "call_id BETWEEN ? AND ?"
    for table, select in _SUMMARIES.items():
        connection.execute(f"DELETE FROM {table} WHERE {calls}", [first, last])
        connection.execute(f"INSERT INTO {table} {select.format(calls=calls)}", [first, last])
    accounts = connection.execute(
        f"SELECT DISTINCT account FROM calls WHERE {calls} AND account IS NOT NULL", [first, last]
    ).fetchall()
    summarize_accounts(connection, [account for (account,) in accounts])


def summarize_accounts(connection: duckdb.DuckDBPyConnection, accounts: Sequence[str]) -> None:
    """Rewrite these accounts' summaries from their calls, mentions and per-call tones."""
    if not accounts:
        return
    picks = "list_contains(?::VARCHAR[], account)"
    for table, select in _ACCOUNT_SUMMARIES.items():
        connection.execute(f"DELETE FROM {table} WHERE {picks}", [list(accounts)])
        connection.execute(f"INSERT INTO {table} {select.format(accounts=picks)}", [list(accounts)])


# Append-only: each migration runs once, in its own transaction, and is recorded.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "calls, utterances and mentions",
        (
            """CREATE TABLE calls (
                call_id VARCHAR PRIMARY KEY,
                source_path VARCHAR,
                content_sha256 VARCHAR,
                title VARCHAR,
                call_type VARCHAR,
                rep VARCHAR,
                account VARCHAR,
                call_date DATE,
                duration_s DOUBLE,
                language VARCHAR,
                asr_model VARCHAR,
                status VARCHAR NOT NULL,
                error VARCHAR,
                ingested_at TIMESTAMP
            )""",
            """CREATE TABLE utterances (
                call_id VARCHAR NOT NULL,
                idx INTEGER NOT NULL,
                speaker VARCHAR,
                role VARCHAR,
                start_s DOUBLE,
                end_s DOUBLE,
                text VARCHAR
            )""",
            """CREATE TABLE mentions (
                call_id VARCHAR NOT NULL,
                utterance_idx INTEGER NOT NULL,
                category VARCHAR,
                tracker VARCHAR,
                term VARCHAR,
                start_s DOUBLE,
                end_s DOUBLE,
                snippet VARCHAR,
                score DOUBLE,
                method VARCHAR
            )""",
        ),
    ),
    (
        2,
        "word timings, source details and lookup indexes",
        (
            """CREATE TABLE words (
                call_id VARCHAR NOT NULL,
                utterance_idx INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                start_s DOUBLE,
                end_s DOUBLE,
                word VARCHAR,
                probability DOUBLE
            )""",
            "ALTER TABLE calls ADD COLUMN source_kind VARCHAR",
            "ALTER TABLE calls ADD COLUMN channels INTEGER",
            "CREATE INDEX calls_sha ON calls (content_sha256)",
            "CREATE INDEX utterances_call ON utterances (call_id)",
            "CREATE INDEX mentions_call ON mentions (call_id)",
            "CREATE INDEX words_call ON words (call_id)",
        ),
    ),
    (
        3,
        "unique utterance key for full-text search",
        (
            "ALTER TABLE utterances ADD COLUMN uid VARCHAR",
            "UPDATE utterances SET uid = call_id || '#' || idx",
        ),
    ),
    (
        4,
        "conversation metrics per call and side",
        (
            """CREATE TABLE call_metrics (
                call_id VARCHAR NOT NULL,
                role VARCHAR NOT NULL,
                talk_s DOUBLE,
                talk_ratio DOUBLE,
                longest_stretch_s DOUBLE,
                questions INTEGER,
                questions_per_hour DOUBLE,
                words INTEGER,
                words_per_minute DOUBLE,
                fillers INTEGER,
                fillers_per_minute DOUBLE,
                speaker_switches_per_minute DOUBLE,
                patience_s DOUBLE
            )""",
            "CREATE INDEX call_metrics_call ON call_metrics (call_id)",
        ),
    ),
    (
        5,
        "speakers by voice: how roles were decided, voices per call, enrolled voice profiles",
        (
            "ALTER TABLE calls ADD COLUMN roles_from VARCHAR",
            """UPDATE calls SET roles_from = CASE WHEN channels = 2 AND source_kind = 'audio'
                   THEN 'channels' WHEN source_kind <> 'audio' THEN 'names' END""",
            f"""CREATE TABLE call_voices (
                call_id VARCHAR NOT NULL,
                speaker VARCHAR,
                role VARCHAR,
                talk_s DOUBLE,
                embedding FLOAT[{VOICE_DIM}]
            )""",
            "CREATE INDEX call_voices_call ON call_voices (call_id)",
            f"""CREATE TABLE voice_profiles (
                name VARCHAR NOT NULL,
                source_path VARCHAR,
                content_sha256 VARCHAR,
                speech_s DOUBLE,
                embedding FLOAT[{VOICE_DIM}],
                enrolled_at TIMESTAMP
            )""",
        ),
    ),
    (
        6,
        "settings of this database (PII redaction)",
        ("CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR)",),
    ),
    (
        7,
        "app logins and teams",
        (
            """CREATE TABLE users (
                username VARCHAR PRIMARY KEY,
                role VARCHAR NOT NULL,
                rep VARCHAR,
                team VARCHAR,
                password_hash VARCHAR,
                created_at TIMESTAMP
            )""",
            "CREATE TABLE teams (rep VARCHAR PRIMARY KEY, team VARCHAR NOT NULL)",
        ),
    ),
    (
        TONE_VERSION := 8,
        "customer tone per utterance, stored for account risk",
        ("ALTER TABLE utterances ADD COLUMN tone DOUBLE",),  # filled by _backfill_tone
    ),
    (
        9,
        "each mention's speaker role, and topic counts per call for the aggregate views",
        (
            # Not `role`: queries joining mentions with utterances say `role` unqualified.
            "ALTER TABLE mentions ADD COLUMN speaker_role VARCHAR",
            """UPDATE mentions SET speaker_role = u.role FROM utterances u
               WHERE u.call_id = mentions.call_id AND u.idx = mentions.utterance_idx""",
            """CREATE TABLE call_topics (
                call_id VARCHAR NOT NULL,
                category VARCHAR,
                role VARCHAR,
                mentions INTEGER
            )""",
            """INSERT INTO call_topics
               SELECT call_id, category, speaker_role, count(*) FROM mentions GROUP BY ALL""",
            "CREATE INDEX call_topics_call ON call_topics (call_id)",
        ),
    ),
    (
        10,
        "competitors named per call (call_competitors), and each call's customer tone",
        (
            """CREATE TABLE call_competitors (
                call_id VARCHAR NOT NULL,
                role VARCHAR,
                term VARCHAR,
                mentions INTEGER
            )""",
            """INSERT INTO call_competitors SELECT call_id, speaker_role, term, count(*)
               FROM mentions WHERE category = 'competitor' GROUP BY ALL""",
            "CREATE INDEX call_competitors_call ON call_competitors (call_id)",
            """CREATE TABLE call_tones (
                call_id VARCHAR NOT NULL,
                tone DOUBLE,
                worst_idx INTEGER
            )""",
            """INSERT INTO call_tones
               SELECT call_id, avg(tone), arg_min(idx, [tone, idx]) FROM utterances
               WHERE role IN ('customer', 'unknown') AND tone IS NOT NULL GROUP BY call_id""",
            "CREATE INDEX call_tones_call ON call_tones (call_id)",
        ),
    ),
    (
        11,
        "per-account risk summaries (account_summaries, account_days), each call's most "
        "negative customer line kept with its tone",
        (
            "ALTER TABLE call_tones ADD COLUMN worst_text VARCHAR",
            "ALTER TABLE call_tones ADD COLUMN worst_start_s DOUBLE",
            "DELETE FROM call_tones",
            f"INSERT INTO call_tones {_SUMMARIES['call_tones'].format(calls='true')}",
            """CREATE TABLE account_summaries (
                account VARCHAR NOT NULL,
                calls BIGINT,
                last_call DATE,
                cs_last_day DATE,
                cadence_days DOUBLE,
                tone_call_id VARCHAR,
                tone_day DATE,
                tone DOUBLE,
                tone_before DOUBLE,
                tone_quote VARCHAR,
                tone_second DOUBLE
            )""",
            """CREATE TABLE account_days (
                account VARCHAR NOT NULL,
                day DATE,
                kind VARCHAR,
                term VARCHAR,
                items INTEGER,
                moments STRUCT(call_id VARCHAR, start_s DOUBLE, snippet VARCHAR)[]
            )""",
            # filled by migration 12, which gives each moment its probability
        ),
    ),
    (
        12,
        "each mention's calibrated probability; per-call and per-account summaries weigh "
        "moments by it",
        (
            "ALTER TABLE mentions ADD COLUMN probability DOUBLE",
            "ALTER TABLE call_topics ADD COLUMN weight DOUBLE",
            "ALTER TABLE call_competitors ADD COLUMN weight DOUBLE",
            "UPDATE call_topics SET weight = mentions",
            "UPDATE call_competitors SET weight = mentions",
            "DROP TABLE account_days",
            """CREATE TABLE account_days (
                account VARCHAR NOT NULL,
                day DATE,
                kind VARCHAR,
                term VARCHAR,
                items INTEGER,
                weight DOUBLE,
                moments STRUCT(call_id VARCHAR, start_s DOUBLE, snippet VARCHAR, w DOUBLE)[]
            )""",
            "DELETE FROM account_summaries",
            *(
                f"INSERT INTO {table} {select.format(accounts='true')}"
                for table, select in _ACCOUNT_SUMMARIES.items()
            ),  # fmt: skip
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]

_CHILD_TABLES = ("mentions", "call_topics", "call_competitors", "call_tones", "words",
                 "utterances", "call_metrics", "call_voices")  # fmt: skip

_UTTERANCE_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("idx", pa.int32()),
        ("uid", pa.string()),
        ("speaker", pa.string()),
        ("role", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("text", pa.string()),
        ("tone", pa.float64()),
    ]
)
_WORD_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("utterance_idx", pa.int32()),
        ("idx", pa.int32()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("word", pa.string()),
        ("probability", pa.float64()),
    ]
)
_VOICE_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("speaker", pa.string()),
        ("role", pa.string()),
        ("talk_s", pa.float64()),
        ("embedding", pa.list_(pa.float32(), VOICE_DIM)),
    ]
)
_MENTION_SCHEMA = pa.schema(
    [
        ("call_id", pa.string()),
        ("utterance_idx", pa.int32()),
        ("category", pa.string()),
        ("tracker", pa.string()),
        ("term", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("snippet", pa.string()),
        ("score", pa.float64()),
        ("method", pa.string()),
        ("probability", pa.float64()),
    ]
)


_VOICE_SAMPLES = """
SELECT name, 'enrolled' AS source, speech_s, embedding FROM voice_profiles
UNION ALL
SELECT c.rep AS name, 'stereo call' AS source, v.talk_s AS speech_s, v.embedding
FROM call_voices v JOIN calls c USING (call_id)
WHERE c.status = 'ok' AND c.roles_from = 'channels' AND v.role = 'rep' AND c.rep IS NOT NULL
"""


@functools.lru_cache(maxsize=1)
def fts_extension_path() -> str | None:
    """The full-text-search extension shipped by the `duckdb-ext-fts` package, if installed
    (DuckDB would otherwise download it, and nothing is downloaded at run time)."""
    try:
        import duckdb_ext
    except ImportError:
        return None
    folder = Path(next(iter(duckdb_ext.__path__))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(folder.glob("*/fts.duckdb_extension"))
    return str(found[0]) if found else None


# The index's postings in term order, with what BM25 needs of each utterance beside them: a
# search then reads only the row groups of its own terms, where the extension's match_bm25
# joins every utterance (2.3 s at 5M utterances, against about 0.1 s).
_POSTINGS = """CREATE TABLE fts_main_utterances.postings AS
    SELECT t.termid, left(d.name, -1 - length(split_part(d.name, '#', -1))) AS call_id,
           split_part(d.name, '#', -1)::INTEGER AS idx, count(*) AS tf, any_value(d.len) AS len
    FROM fts_main_utterances.terms t JOIN fts_main_utterances.docs d USING (docid)
    GROUP BY t.termid, t.docid, d.name ORDER BY t.termid"""

# The best `limit` utterances of the picked calls for a query's index terms, scored as the
# extension's match_bm25 scores them (k1 = 1.2, b = 0.75, any of the terms).
_SEARCH = """, wanted AS (
    SELECT termid, df FROM fts_main_utterances.dict WHERE term IN (SELECT unnest(?::VARCHAR[]))
), scored AS (
    SELECT s.call_id, s.idx,
           sum(log((n.num_docs - w.df + 0.5) / (w.df + 0.5) + 1)
               * s.tf * 2.2 / (s.tf + 1.2 * (0.25 + 0.75 * s.len / n.avgdl))) AS score
    FROM fts_main_utterances.postings s JOIN wanted w USING (termid),
         fts_main_utterances.stats n
    WHERE s.termid IN (SELECT termid FROM wanted)
    GROUP BY ALL
)
SELECT p.call_date, p.rep, p.account, s.call_id, s.idx, s.score
FROM scored s JOIN picked p USING (call_id)
ORDER BY s.score DESC, p.call_date DESC, s.call_id, s.idx LIMIT ?"""

# create_fts_index's tokenizer (its fts_main_<table>.tokenize macro) and stemmer.
_TERMS = r"""SELECT DISTINCT stem(unnest(string_split_regex(regexp_replace(
    lower(strip_accents(?::VARCHAR)), '[0-9!@#$%^&*()_+={}\[\]:;<>,.?~\\/\|''"`-]+', ' ', 'g'),
    '\s+')), 'english') AS term"""


@functools.lru_cache(maxsize=1)
def _stemmer() -> duckdb.DuckDBPyConnection | None:
    """An in-memory database with the extension loaded, once per process: loading it costs
    about 50 ms, which every search would pay on its own read-only connection."""
    connection = duckdb.connect()
    return connection if _load_fts(connection) else None


def search_terms(text: str) -> list[str]:
    """A query's words as the full-text index holds them: tokenized and stemmed (English)."""
    stemmer = _stemmer()
    if stemmer is None:
        raise StoreError("full-text search needs the duckdb-ext-fts package")
    with stemmer.cursor() as cursor:  # a cursor per call: Streamlit sessions run on threads
        return sorted(term for (term,) in cursor.execute(_TERMS, [text]).fetchall() if term)


def _load_fts(connection: duckdb.DuckDBPyConnection) -> bool:
    path = fts_extension_path()
    if path is None:
        return False
    try:
        connection.execute(f"LOAD '{path}'")  # a path from our own install, not user input
    except duckdb.Error as error:
        logger.warning("full-text search unavailable: %s", error)
        return False
    return True


def _is_lock_error(error: Exception) -> bool:
    """Another process holds the file, or - within this process - another thread has it open
    with the other access mode (the app's upload worker writing while a page reads)."""
    text = str(error).lower()
    return any(
        sign in text for sign in ("lock", "conflicting", "being used", "different configuration")
    )


class Store:
    """One DuckDB file. Cheap to create; every method opens and closes its own connection."""

    def __init__(self, path: str | Path, *, lock_timeout_s: float = LOCK_RETRY_S):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._reading = threading.local()  # each thread's open `reading`, for the reads within

    # --- connections ---------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, *, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.Error as error:
                if not _is_lock_error(error) or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: cannot open the database ({error})") from error
                time.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 2, 1.0)
        try:
            yield connection
        finally:
            connection.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect(read_only=False) as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    @contextlib.contextmanager
    def _reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection: the one this thread's open `reading` holds, or a new one."""
        held = getattr(self._reading, "connection", None)
        if held is not None:
            yield held
            return
        with self._connect(read_only=True) as connection:
            self._reading.connection = connection
            try:
                yield connection
            finally:
                self._reading.connection = None

    def _read(self, sql: str, params: Sequence = ()) -> list[dict]:
        if not self.path.exists():
            return []
        with self._reader() as connection:
            cursor = connection.execute(sql, list(params))
            columns = [column[0] for column in cursor.description]
            return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def frame(self, sql: str, params: Sequence = ()) -> pd.DataFrame:
        """A read-only query as a DataFrame (empty when the file does not exist yet)."""
        with self.reading() as frame:
            return frame(sql, params)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Callable[..., pd.DataFrame]]:
        """Several read-only queries on one connection (opening one costs about 15 ms, and it
        starts with nothing cached): yields `frame(sql, params)`, whose frames are empty when
        the file does not exist yet. Every read of this store in the same thread goes through
        its connection while it is open."""
        if not self.path.exists():
            yield lambda sql, params=(): pd.DataFrame()
            return
        with self._reader() as connection:
            yield lambda sql, params=(): connection.execute(sql, list(params)).df()

    def stamp(self) -> int:
        """Changes whenever anything is written (the file or its WAL), for caches to key on."""
        wal = self.path.with_name(self.path.name + ".wal")
        return sum(p.stat().st_mtime_ns for p in (self.path, wal) if p.exists())

    # --- schema --------------------------------------------------------------------------------

    def migrate(self, *, target: int = SCHEMA_VERSION) -> int:
        """Create or upgrade the file in place; returns the schema version now in force."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect(read_only=False) as connection:
            connection.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"""
            )
            applied = {
                row[0]
                for row in connection.execute("SELECT version FROM schema_migrations").fetchall()
            }
            for version, name, statements in MIGRATIONS:
                if version in applied or version > target:
                    continue
                connection.execute("BEGIN TRANSACTION")
                try:
                    for statement in statements:
                        connection.execute(statement)
                    if version == TONE_VERSION:
                        _backfill_tone(connection)
                    connection.execute(
                        "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        [version, name, dt.datetime.now()],
                    )
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
                logger.info("%s: applied migration %d (%s)", self.path, version, name)
            return connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]

    def schema_version(self) -> int:
        rows = self._read("SELECT max(version) AS version FROM schema_migrations")
        return rows[0]["version"] if rows else 0

    # --- writes --------------------------------------------------------------------------------

    def save_call(self, record: CallRecord) -> None:
        """Replace everything stored for `record.call_id` with `record`, atomically."""
        meta, transcript = record.meta, record.transcript
        utterances = transcript.utterances if transcript else ()
        with self._transaction() as connection:
            before = self._delete(connection, record.call_id)
            if record.status == "ok":  # earlier failed attempts at this file are superseded
                connection.execute(
                    "DELETE FROM calls WHERE source_path = ? AND status = 'failed'",
                    [record.source_path],
                )
            connection.execute(
                """INSERT INTO calls (call_id, source_path, content_sha256, title, call_type, rep,
                       account, call_date, duration_s, language, asr_model, status, error,
                       ingested_at, source_kind, channels, roles_from)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    record.call_id,
                    record.source_path,
                    record.content_sha256,
                    meta.title,
                    meta.call_type,
                    meta.rep,
                    meta.account,
                    meta.call_date,
                    transcript.duration_s if transcript else None,
                    transcript.language if transcript else None,
                    transcript.asr_model if transcript else None,
                    record.status,
                    record.error,
                    dt.datetime.now(),
                    transcript.source_kind if transcript else None,
                    transcript.channels if transcript else None,
                    transcript.roles_from if transcript else None,
                ],
            )
            self._insert(connection, "utterances", _utterance_table(record.call_id, utterances))
            self._insert(connection, "words", _word_table(record.call_id, utterances))
            self._write_mentions(connection, record.call_id, record.mentions)
            self._insert(connection, "call_metrics", _metrics_table(record.call_id, record.metrics))
            voices = transcript.voices if transcript else ()
            self._insert(connection, "call_voices", _voice_table(record.call_id, voices))
            if before and before != meta.account:  # the call moved: its old account lost it
                summarize_accounts(connection, [before])

    def relabel_speakers(
        self,
        call_id: str,
        speakers: dict[str, tuple[str, str]],
        roles_from: str,
        mentions: Sequence[Mention],
        metrics: CallMetrics | None,
    ) -> None:
        """Rename speakers and change their roles ({old name: (new name, role)}) with the
        mentions and metrics that follow from the new roles, atomically."""
        with self._transaction() as connection:
            connection.execute("CREATE TEMP TABLE relabel (old VARCHAR, new VARCHAR, role VARCHAR)")
            connection.executemany(
                "INSERT INTO relabel VALUES (?, ?, ?)",
                [[old, new, role] for old, (new, role) in speakers.items()],
            )
            for table in ("utterances", "call_voices"):
                connection.execute(
                    f"""UPDATE {table} t SET speaker = r.new, role = r.role FROM relabel r
                        WHERE t.call_id = ? AND t.speaker = r.old""",
                    [call_id],
                )
            connection.execute(
                "UPDATE calls SET roles_from = ? WHERE call_id = ?", [roles_from, call_id]
            )
            connection.execute("DELETE FROM call_metrics WHERE call_id = ?", [call_id])
            self._write_mentions(connection, call_id, mentions)
            self._insert(connection, "call_metrics", _metrics_table(call_id, metrics))

    def setting(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM settings WHERE key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", [key, value]
            )

    # --- how sure a moment must be, per topic: the workspace's and each team's ---------------

    def thresholds(self, team: str | None = None, *, inherit: bool = True) -> dict[str, float]:
        """Topic thresholds on calibrated probability: the workspace's, overridden by `team`'s
        (settings keys `threshold:<category>` and `threshold:<team>:<category>`); without
        `inherit`, only those set for `team` itself."""
        rows = self._read("SELECT key, value FROM settings WHERE key LIKE 'threshold:%'")
        found: dict[str, float] = {}
        for scope in (None, team) if inherit or not team else (team,):
            for row in rows:
                parts = row["key"].split(":", 2)[1:]
                if len(parts) == (2 if scope else 1) and (scope is None or parts[0] == scope):
                    found[parts[-1]] = float(row["value"])
        return found

    def set_threshold(self, category: str, value: float | None, team: str | None = None) -> None:
        """Set (or with None, clear) a topic's threshold for the workspace or one team."""
        key = f"threshold:{team}:{category}" if team else f"threshold:{category}"
        with self._transaction() as connection:
            connection.execute("DELETE FROM settings WHERE key = ?", [key])
            if value is not None:
                connection.execute("INSERT INTO settings VALUES (?, ?)", [key, str(value)])

    def team_of(self, rep: str | None) -> str | None:
        if not rep or self.schema_version() < 7:
            return None
        rows = self._read("SELECT team FROM teams WHERE rep = ? ORDER BY team LIMIT 1", [rep])
        return rows[0]["team"] if rows else None

    # --- logins and teams (analyzer.access decides what they mean) ----------------------------

    def users(self) -> list[dict]:
        if self.schema_version() < 7:
            return []
        return self._read(
            "SELECT username, role, rep, team, password_hash IS NOT NULL AS has_password "
            "FROM users ORDER BY username"
        )

    def logins(self) -> tuple[list[dict], list[dict]]:
        """Every login (with its password hash) and every team membership, in one read."""
        if self.schema_version() < 7:
            return [], []
        with self._connect(read_only=True) as connection:
            users = connection.execute("SELECT username, role, rep, team FROM users").fetchall()
            teams = connection.execute("SELECT rep, team FROM teams").fetchall()
        return (
            [dict(zip(("username", "role", "rep", "team"), row, strict=True)) for row in users],
            [dict(zip(("rep", "team"), row, strict=True)) for row in teams],
        )

    def user(self, username: str) -> dict | None:
        if self.schema_version() < 7:
            return None
        rows = self._read(
            "SELECT username, role, rep, team, password_hash FROM users WHERE username = ?",
            [username],
        )
        return rows[0] if rows else None

    def save_user(
        self, username: str, role: str, rep: str | None, team: str | None, password_hash: str | None
    ) -> None:
        """Add or replace a login; a rep's team is recorded for their manager too."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO users VALUES (?, ?, ?, ?, ?, now())",
                [username, role, rep, team, password_hash],
            )
            if rep and team:
                connection.execute("INSERT OR REPLACE INTO teams VALUES (?, ?)", [rep, team])

    def remove_user(self, username: str) -> bool:
        with self._transaction() as connection:
            gone = connection.execute(
                "DELETE FROM users WHERE username = ? RETURNING username", [username]
            ).fetchall()
        return bool(gone)

    def set_team(self, team: str, reps: Sequence[str]) -> None:
        with self._transaction() as connection:
            for rep in reps:
                connection.execute("INSERT OR REPLACE INTO teams VALUES (?, ?)", [rep, team])

    def teams(self) -> list[dict]:
        if self.schema_version() < 7:
            return []
        return self._read("SELECT team, rep FROM teams ORDER BY team, rep")

    def rewrite_call_text(
        self,
        call_id: str,
        utterance: Callable[[Utterance], Utterance],
        snippet: Callable[[str], str],
    ) -> int:
        """Pass a stored call's utterances (with their words) and mention snippets through the
        given functions and store what changed, atomically; returns the utterances changed."""
        with self._transaction() as connection:
            texts = connection.execute(
                "SELECT idx, text FROM utterances WHERE call_id = ? ORDER BY idx", [call_id]
            ).fetchall()
            words: dict[int, list[Word]] = {}
            for u_idx, start_s, end_s, word, probability in connection.execute(
                "SELECT utterance_idx, start_s, end_s, word, probability FROM words "
                "WHERE call_id = ? ORDER BY utterance_idx, idx",
                [call_id],
            ).fetchall():
                words.setdefault(u_idx, []).append(Word(start_s, end_s, " " + word, probability))
            changed = 0
            for idx, text in texts:
                before = Utterance("", "", 0.0, 0.0, text or "", tuple(words.get(idx, ())))
                after = utterance(before)
                if after.text == before.text:
                    continue
                changed += 1
                connection.execute(
                    "UPDATE utterances SET text = ?, tone = ? WHERE call_id = ? AND idx = ?",
                    [after.text, tone(after.text), call_id, idx],
                )
                if after.words != before.words:  # masked words may merge: store them anew
                    connection.execute(
                        "DELETE FROM words WHERE call_id = ? AND utterance_idx = ?", [call_id, idx]
                    )
                    self._insert(connection, "words", _word_rows(call_id, idx, after.words))
            for (old,) in connection.execute(
                "SELECT DISTINCT snippet FROM mentions WHERE call_id = ?", [call_id]
            ).fetchall():
                if old and snippet(old) != old:
                    connection.execute(
                        "UPDATE mentions SET snippet = ? WHERE call_id = ? AND snippet = ?",
                        [snippet(old), call_id, old],
                    )
            summarize(connection, call_id)  # masked lines are scored for tone anew
        return changed

    def add_voice_profile(
        self, name: str, source_path: str, sha256: str, speech_s: float, embedding
    ) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO voice_profiles VALUES (?, ?, ?, ?, ?, ?)",
                [name, source_path, sha256, speech_s, list(map(float, embedding)),
                 dt.datetime.now()],
            )  # fmt: skip

    def refresh_search_index(self) -> bool:
        """Rebuild the full-text index over utterance text (DuckDB's FTS index does not follow
        inserts). Called after each ingest batch; False when the extension is not installed."""
        with self._connect(read_only=False) as connection:
            if not _load_fts(connection):
                return False
            connection.execute(
                "PRAGMA create_fts_index('utterances', 'uid', 'text', stemmer = 'english', "
                "stopwords = 'english', overwrite = 1)"
            )
            connection.execute(_POSTINGS)
        return True

    def replace_analysis(
        self, call_id: str, mentions: Sequence[Mention], metrics: CallMetrics | None
    ) -> None:
        """Swap a stored call's mentions and metrics for new ones (re-tagging), atomically."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM call_metrics WHERE call_id = ?", [call_id])
            self._write_mentions(connection, call_id, mentions)
            self._insert(connection, "call_metrics", _metrics_table(call_id, metrics))

    def _write_mentions(
        self, connection: duckdb.DuckDBPyConnection, call_id: str, mentions: Sequence[Mention]
    ) -> None:
        """Replace a call's mentions, give each its speaker's role, and rewrite the call's
        summaries (which the aggregate views and account risk read)."""
        connection.execute("DELETE FROM mentions WHERE call_id = ?", [call_id])
        self._insert(connection, "mentions", _mention_table(call_id, mentions))
        connection.execute(
            """UPDATE mentions SET speaker_role = u.role FROM utterances u
               WHERE mentions.call_id = ? AND u.call_id = mentions.call_id
                 AND u.idx = mentions.utterance_idx""",
            [call_id],
        )
        summarize(connection, call_id)

    @staticmethod
    def _delete(connection: duckdb.DuckDBPyConnection, call_id: str) -> str | None:
        """Remove a call and everything stored for it; returns the account it was filed under.
        (Its account's summaries are the caller's to rewrite.)"""
        row = connection.execute("SELECT account FROM calls WHERE call_id = ?", [call_id])
        before = (row.fetchone() or (None,))[0]
        for table in _CHILD_TABLES:
            connection.execute(f"DELETE FROM {table} WHERE call_id = ?", [call_id])
        connection.execute("DELETE FROM calls WHERE call_id = ?", [call_id])
        return before

    @staticmethod
    def _insert(connection: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            connection.register("incoming_rows", rows)
            columns = ", ".join(rows.column_names)
            connection.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM incoming_rows"
            )
            connection.unregister("incoming_rows")

    # --- reads ---------------------------------------------------------------------------------

    def find_by_sha(self, sha256: str) -> dict | None:
        rows = self._read(
            "SELECT call_id, status, source_path FROM calls WHERE content_sha256 = ? "
            "ORDER BY status = 'ok' DESC LIMIT 1",
            [sha256],
        )
        return rows[0] if rows else None

    def find_call(self, call_id: str) -> dict | None:
        rows = self._read(
            "SELECT call_id, status, source_path, content_sha256 FROM calls WHERE call_id = ?",
            [call_id],
        )
        return rows[0] if rows else None

    def duration_s(self, call_id: str) -> float:
        rows = self._read(
            "SELECT coalesce(duration_s, 0) AS d FROM calls WHERE call_id = ?", [call_id]
        )
        return float(rows[0]["d"]) if rows else 0.0

    def call_ids(self, status: str = "ok") -> list[str]:
        rows = self._read("SELECT call_id FROM calls WHERE status = ? ORDER BY call_id", [status])
        return [row["call_id"] for row in rows]

    def calls(
        self,
        *,
        rep: str | None = None,
        account: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[dict]:
        return self._read(
            """SELECT c.call_id, c.call_date, c.rep, c.account, c.call_type, c.title,
                      round(c.duration_s, 1) AS duration_s, c.status, c.error,
                      count(m.call_id) AS mentions
               FROM calls c LEFT JOIN mentions m USING (call_id)
               WHERE (? IS NULL OR c.rep = ?) AND (? IS NULL OR c.account = ?)
                 AND (? IS NULL OR c.status = ?)
               GROUP BY ALL
               ORDER BY c.call_date DESC NULLS LAST, c.call_id
               LIMIT ?""",
            [rep, rep, account, account, status, status, limit],
        )

    def mentions(
        self,
        *,
        rep: str | None = None,
        account: str | None = None,
        category: str | None = None,
        call_id: str | None = None,
        limit: int = 200,
    ) -> list[dict]:
        return self._read(
            """SELECT m.call_id, c.call_date, c.rep, c.account, m.category, m.term,
                      round(m.start_s, 1) AS start_s, u.role, m.snippet, m.score, m.method
               FROM mentions m
               JOIN calls c USING (call_id)
               JOIN utterances u ON u.call_id = m.call_id AND u.idx = m.utterance_idx
               WHERE (? IS NULL OR c.rep = ?) AND (? IS NULL OR c.account = ?)
                 AND (? IS NULL OR m.category = ?) AND (? IS NULL OR m.call_id = ?)
               ORDER BY c.call_date DESC NULLS LAST, m.call_id, m.start_s
               LIMIT ?""",
            [rep, rep, account, account, category, category, call_id, call_id, limit],
        )

    def topic_counts(self) -> list[dict]:
        """Per rep and category: mentions, calls with a mention, and the rep's calls."""
        return self._read(
            """WITH rep_calls AS (
                   SELECT coalesce(rep, '(no rep)') AS rep, count(*) AS calls
                   FROM calls WHERE status = 'ok' GROUP BY 1)
               SELECT coalesce(c.rep, '(no rep)') AS rep, m.category,
                      count(*) AS mentions, count(DISTINCT m.call_id) AS calls_with_mention,
                      any_value(r.calls) AS calls
               FROM mentions m JOIN calls c USING (call_id)
               JOIN rep_calls r ON r.rep = coalesce(c.rep, '(no rep)')
               GROUP BY ALL ORDER BY 1, 2"""
        )

    def utterances(self, call_id: str) -> list[Utterance]:
        rows = self._read(
            "SELECT speaker, role, start_s, end_s, text FROM utterances "
            "WHERE call_id = ? ORDER BY idx",
            [call_id],
        )
        return [Utterance(**row) for row in rows]

    def earlier_cs_call(self, account: str | None, call_date, call_id: str | None) -> bool:
        """Whether `account` had a customer-success call (on or before `call_date`, when
        given) other than `call_id`: then its customer is an existing one."""
        if not account:
            return False
        rows = self._read(
            "SELECT count(*) AS n FROM calls WHERE account = ? AND call_id IS DISTINCT FROM ? "
            "AND status = 'ok' AND call_type = 'cs' AND (?::DATE IS NULL OR call_date <= ?::DATE)",
            [account, call_id, call_date, call_date],
        )
        return bool(rows[0]["n"])

    def context_inputs(
        self, call_id: str | None, meta=None
    ) -> tuple[str | None, str | None, bool, dict[str, float]]:
        """What `TrackerSet.call_context` needs of a call (stored, or about to be, described by
        `meta`): its type and title, whether its account had a CS call before it, and the
        topic thresholds of its rep's team."""
        row = (self.call_row(call_id) or {}) if meta is None else {
            "call_type": meta.call_type, "title": meta.title, "account": meta.account,
            "call_date": meta.call_date, "rep": meta.rep,
        }  # fmt: skip
        earlier = self.earlier_cs_call(row.get("account"), row.get("call_date"), call_id)
        thresholds = self.thresholds(self.team_of(row.get("rep")))
        return row.get("call_type"), row.get("title"), earlier, thresholds

    def call_row(self, call_id: str) -> dict | None:
        rows = self._read("SELECT * FROM calls WHERE call_id = ?", [call_id])
        return rows[0] if rows else None

    def words(self, call_id: str) -> list[Word]:
        rows = self._read(
            "SELECT start_s, end_s, ' ' || word AS text, probability FROM words "
            "WHERE call_id = ? ORDER BY utterance_idx, idx",
            [call_id],
        )
        return [Word(**row) for row in rows]

    def voices(self, call_id: str) -> list[Voice]:
        rows = self._read(
            "SELECT speaker, role, talk_s, embedding FROM call_voices WHERE call_id = ? "
            "ORDER BY speaker",
            [call_id],
        )
        return [Voice(**{**row, "embedding": tuple(row["embedding"])}) for row in rows]

    def calls_needing_roles(self) -> list[dict]:
        """Calls with voices whose roles were guessed or are unknown."""
        return self._read(
            """SELECT call_id, rep FROM calls
               WHERE status = 'ok' AND coalesce(roles_from, 'guessed') = 'guessed'
                 AND call_id IN (SELECT call_id FROM call_voices)
               ORDER BY call_id"""
        )

    def mono_calls(self) -> list[dict]:
        return self._read(
            """SELECT call_id FROM calls WHERE status = 'ok' AND source_kind = 'audio'
                 AND coalesce(roles_from, '') <> 'channels' ORDER BY call_id"""
        )

    def recordings(self) -> list[dict]:
        """Stored calls made from a recording, with where it was."""
        return self._read(
            """SELECT call_id, source_path FROM calls WHERE status = 'ok' AND source_kind = 'audio'
               ORDER BY call_id"""
        )

    def voice_profile_summary(self) -> list[dict]:
        return self._read(
            f"""SELECT name, round(sum(speech_s)) AS speech_s,
                       count(*) FILTER (source = 'enrolled') AS clips,
                       count(*) FILTER (source = 'stereo call') AS stereo_calls
                FROM ({_VOICE_SAMPLES}) GROUP BY name ORDER BY name"""
        )

    def voice_samples(self) -> list[dict]:
        """Every known sample of a rep's voice: enrollment clips, and the rep's channel of
        their stereo calls (name, source, seconds of speech, embedding)."""
        return self._read(_VOICE_SAMPLES)

    def table_counts(self) -> dict[str, int]:
        counts = {}
        for table in ("calls", "utterances", "words", "mentions"):
            rows = self._read(f"SELECT count(*) AS n FROM {table}")
            counts[table] = rows[0]["n"] if rows else 0
        return counts


def _backfill_tone(connection: duckdb.DuckDBPyConnection) -> None:
    """Score the tone of utterances stored before it was kept (schema 8)."""
    rows = connection.execute("SELECT uid, text FROM utterances WHERE tone IS NULL").fetchall()
    if rows:
        scored = pa.table({"uid": [uid for uid, _ in rows],
                           "tone": [tone(text or "") for _, text in rows]})  # fmt: skip
        connection.register("scored", scored)
        connection.execute(
            "UPDATE utterances SET tone = scored.tone FROM scored WHERE utterances.uid = scored.uid"
        )
        connection.unregister("scored")


def _utterance_table(call_id: str, utterances: Sequence[Utterance]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "call_id": call_id,
                "idx": index,
                "uid": f"{call_id}#{index}",
                "speaker": u.speaker,
                "role": u.role,
                "start_s": u.start_s,
                "end_s": u.end_s,
                "text": u.text,
                "tone": tone(u.text),
            }
            for index, u in enumerate(utterances)
        ],
        schema=_UTTERANCE_SCHEMA,
    )


def _word_rows(call_id: str, u_index: int, words: Sequence[Word]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "call_id": call_id,
                "utterance_idx": u_index,
                "idx": w_index,
                "start_s": w.start_s,
                "end_s": w.end_s,
                "word": w.text.strip(),
                "probability": w.probability,
            }
            for w_index, w in enumerate(words)
        ],
        schema=_WORD_SCHEMA,
    )


def _word_table(call_id: str, utterances: Sequence[Utterance]) -> pa.Table:
    parts = [_word_rows(call_id, u_index, u.words) for u_index, u in enumerate(utterances)]
    return pa.concat_tables(parts) if parts else _WORD_SCHEMA.empty_table()


def _voice_table(call_id: str, voices: Sequence[Voice]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {"call_id": call_id, "speaker": v.speaker, "role": v.role, "talk_s": v.talk_s,
             "embedding": list(v.embedding)}
            for v in voices
        ],
        schema=_VOICE_SCHEMA,
    )  # fmt: skip


def _metrics_table(call_id: str, metrics: CallMetrics | None) -> pa.Table:
    rows = []
    for side in metrics.sides if metrics else ():
        rows.append(
            {
                "call_id": call_id,
                **{name: getattr(side, name) for name in _SIDE_METRIC_COLUMNS},
                "speaker_switches_per_minute": metrics.speaker_switches_per_minute,
                "patience_s": metrics.patience_s,
            }
        )
    return pa.Table.from_pylist(rows, schema=_METRICS_SCHEMA)


_SIDE_METRIC_COLUMNS = ("role", "talk_s", "talk_ratio", "longest_stretch_s", "questions",
                        "questions_per_hour", "words", "words_per_minute", "fillers",
                        "fillers_per_minute")  # fmt: skip
_METRICS_SCHEMA = pa.schema(
    [("call_id", pa.string()), ("role", pa.string())]
    + [
        (name, pa.int32() if name in ("questions", "words", "fillers") else pa.float64())
        for name in _SIDE_METRIC_COLUMNS[1:]
    ]
    + [("speaker_switches_per_minute", pa.float64()), ("patience_s", pa.float64())]
)


def _mention_table(call_id: str, mentions: Sequence[Mention]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "call_id": call_id,
                "utterance_idx": m.utterance_idx,
                "category": m.category,
                "tracker": m.tracker,
                "term": m.term,
                "start_s": m.start_s,
                "end_s": m.end_s,
                "snippet": m.snippet,
                "score": m.score,
                "method": m.method,
                "probability": m.probability,
            }
            for m in mentions
        ],
        schema=_MENTION_SCHEMA,
    )


# --- the app's read queries ------------------------------------------------------------------
# Every query starts from the calls a reader may see (their Scope) and a CallFilter picks,
# written once as a CTE with bound parameters; no user string is ever formatted into SQL.

_PICKED = """
WITH picked AS (
    SELECT * FROM calls c
    WHERE c.status = 'ok'
      AND (?::BOOLEAN OR list_contains(?::VARCHAR[], c.rep))
      AND (?::DATE IS NULL OR c.call_date >= ?::DATE)
      AND (?::DATE IS NULL OR c.call_date <= ?::DATE)
      AND (?::VARCHAR IS NULL OR c.call_type = ?::VARCHAR)
      AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], c.rep))
      AND (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], c.account))
),
hits AS (
    SELECT m.*, m.speaker_role AS role FROM mentions m
    JOIN picked p USING (call_id)
    WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], m.category))
),
topics AS (  -- with the call's rep, account and date, so views need not join picked again
    SELECT t.*, p.rep, p.account, p.call_date FROM call_topics t
    JOIN picked p USING (call_id)
    WHERE (len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], t.category))
)
"""


@dataclass(frozen=True)
class Scope:
    """Whose calls a reader may see: every call, or only the calls of these reps."""

    reps: tuple[str, ...] | None = None

    def params(self) -> list:
        return [self.reps is None, list(self.reps or ())]


EVERYTHING = Scope()


def _lines(frame, call_ids: Sequence[str]) -> pd.DataFrame:
    """Every line of these calls (whatever the scope: callers pass calls they picked), read
    through `frame` and the call_id index rather than by a scan of every utterance."""
    if not len(call_ids):
        return pd.DataFrame(columns=["call_id", "idx", "role", "text", "start_s"])
    return frame(
        f"""SELECT call_id, idx, role, text, start_s FROM utterances
            WHERE call_id IN ({", ".join("?" * len(call_ids))})""",
        list(call_ids),
    )


SEARCH_COLUMNS = ["call_date", "rep", "account", "role", "text", "call_id", "second", "score"]


@dataclass(frozen=True)
class CallFilter:
    """Which calls and mentions a view covers; empty means everything."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    call_type: str | None = None
    reps: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def params(self) -> list:
        return [
            self.date_from, self.date_from, self.date_to, self.date_to,
            self.call_type, self.call_type,
            list(self.reps), list(self.reps), list(self.accounts), list(self.accounts),
            list(self.categories), list(self.categories),
            list(self.categories), list(self.categories),
        ]  # fmt: skip


class Queries:
    """Read-only views for the app and reports, as DataFrames. Every view, the by-id ones
    included, sees only the calls in `scope`."""

    def __init__(self, store: Store, scope: Scope = EVERYTHING):
        self.store = store
        self.scope = scope

    def scoped(self, scope: Scope) -> Queries:
        return Queries(self.store, scope)

    def _params(self, where: CallFilter, extra: Sequence = ()) -> list:
        return [*self.scope.params(), *where.params(), *extra]

    def _frame(
        self, body: str, where: CallFilter, extra: Sequence = (), frame=None
    ) -> pd.DataFrame:
        """`body` over the picked calls; through `frame` (from `Store.reading`) when given."""
        return (frame or self.store.frame)(_PICKED + body, self._params(where, extra))

    def _one_call(self, body: str, call_id: str) -> pd.DataFrame:
        """`body` (which binds `call_id` once) reads from `picked`, so a call out of scope
        gives no rows."""
        return self._frame(body, CallFilter(), [call_id])

    def options(self) -> dict[str, list]:
        """Values the filters can take."""
        calls = self._frame("SELECT DISTINCT rep, account, call_type, call_date FROM picked",
                            CallFilter())  # fmt: skip
        categories = self._frame("SELECT DISTINCT category FROM topics ORDER BY 1", CallFilter())
        if calls.empty:
            return {"reps": [], "accounts": [], "categories": [], "dates": []}
        return {
            "reps": sorted(calls["rep"].dropna().unique()),
            "accounts": sorted(calls["account"].dropna().unique()),
            "categories": list(categories["category"]) if not categories.empty else [],
            "dates": [calls["call_date"].min(), calls["call_date"].max()],
        }

    def calls(self, where: CallFilter = CallFilter(), limit: int | None = None) -> pd.DataFrame:
        """The calls, newest first (the `limit` newest when given)."""
        return self._frame(
            """SELECT p.call_id, p.call_date, p.rep, p.account, p.call_type, p.title,
                      round(p.duration_s / 60, 1) AS minutes,
                      coalesce(sum(t.mentions), 0) AS mentions
               FROM picked p LEFT JOIN topics t USING (call_id)
               GROUP BY ALL ORDER BY p.call_date DESC, p.call_id LIMIT ?""",
            where,
            [limit],
        )

    def overview(self, where: CallFilter = CallFilter()) -> dict:
        """How many calls, reps, hours of talk and tracked moments `where` covers."""
        row = self._frame(
            """SELECT count(*) AS calls, count(DISTINCT rep) AS reps,
                      coalesce(sum(duration_s), 0) / 3600 AS hours,
                      coalesce((SELECT sum(mentions) FROM topics), 0) AS mentions
               FROM picked""",
            where,
        )
        empty = dict.fromkeys(("calls", "reps", "hours", "mentions"), 0)
        return row.iloc[0].to_dict() if not row.empty else empty

    def rep_topics(self, where: CallFilter = CallFilter()) -> pd.DataFrame:
        """Per rep and category: mentions per call and the share of calls with a mention."""
        return self._frame(
            """, rep_calls AS (SELECT rep, count(*) AS calls FROM picked GROUP BY rep),
               per_call AS (  -- one row per call and topic, so calls count without DISTINCT
                   SELECT rep, call_id, category, sum(mentions) AS mentions FROM topics
                   GROUP BY ALL)
               SELECT t.rep, t.category, sum(t.mentions) AS mentions,
                      count(*) AS calls_with_mention, any_value(r.calls) AS calls,
                      round(sum(t.mentions) / any_value(r.calls), 2) AS per_call,
                      round(100 * count(*) / any_value(r.calls)) AS pct_calls
               FROM per_call t JOIN rep_calls r USING (rep)
               GROUP BY ALL ORDER BY 1, 2""",
            where,
        )

    def weekly_topics(self, where: CallFilter = CallFilter()) -> pd.DataFrame:
        """Per week and category: mentions per call held that week."""
        return self._frame(
            """, weeks AS (SELECT date_trunc('week', call_date) AS week, count(*) AS calls
                           FROM picked GROUP BY 1)
               SELECT w.week, t.category, sum(t.mentions) AS mentions,
                      any_value(w.calls) AS calls,
                      round(sum(t.mentions) / any_value(w.calls), 2) AS per_call
               FROM topics t JOIN weeks w ON w.week = date_trunc('week', t.call_date)
               GROUP BY ALL ORDER BY 1, 2""",
            where,
        )

    def moments(
        self,
        where: CallFilter = CallFilter(),
        *,
        rep: str | None = None,
        account: str | None = None,
        category: str | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        """Tracked moments with their quotes, newest first."""
        return self._frame(
            """SELECT p.call_date, p.rep, p.account, h.category, h.term, h.role, h.snippet,
                      h.call_id, round(h.start_s) AS second, p.title, h.tracker, h.method, h.score,
                      h.probability
               FROM hits h JOIN picked p USING (call_id)
               WHERE (?::VARCHAR IS NULL OR p.rep = ?::VARCHAR)
                 AND (?::VARCHAR IS NULL OR p.account = ?::VARCHAR)
                 AND (?::VARCHAR IS NULL OR h.category = ?::VARCHAR)
               ORDER BY p.call_date DESC, h.call_id, h.start_s
               LIMIT ?""",
            where,
            [rep, rep, account, account, category, category, limit],
        )

    def account_topics(self, where: CallFilter = CallFilter()) -> pd.DataFrame:
        return self._frame(
            """, account_calls AS (SELECT account, count(*) AS calls FROM picked GROUP BY 1)
               SELECT t.account, t.category, sum(t.mentions) AS mentions,
                      any_value(a.calls) AS calls,
                      round(sum(t.mentions) / any_value(a.calls), 2) AS per_call
               FROM topics t JOIN account_calls a USING (account)
               GROUP BY ALL ORDER BY 1, 2""",
            where,
        )

    def competitor_trend(self, where: CallFilter = CallFilter()) -> pd.DataFrame:
        """Mentions of each competitor per week (narrow `where` to one account for its own)."""
        return self._frame(
            """SELECT date_trunc('week', p.call_date) AS week, c.term AS competitor,
                      sum(c.mentions) AS mentions
               FROM call_competitors c JOIN picked p USING (call_id)
               WHERE len(?::VARCHAR[]) = 0 OR list_contains(?::VARCHAR[], 'competitor')
               GROUP BY ALL ORDER BY 1, 2""",
            where,
            [list(where.categories)] * 2,  # the topic filter may leave competitors out
        )

    def call(self, call_id: str) -> dict | None:
        rows = self._one_call(
            """SELECT call_id, call_date, rep, account, call_type, title, duration_s,
                      source_path, source_kind, channels, roles_from, asr_model, status, error
               FROM picked WHERE call_id = ?""",
            call_id,
        )
        return None if rows.empty else rows.iloc[0].to_dict()

    def call_utterances(self, call_id: str) -> pd.DataFrame:
        return self._one_call(
            """SELECT u.idx, u.speaker, u.role, u.start_s, u.end_s, u.text
               FROM utterances u JOIN picked p USING (call_id)
               WHERE u.call_id = ? ORDER BY u.idx""",
            call_id,
        )

    def call_mentions(self, call_id: str) -> pd.DataFrame:
        return self._one_call(
            """SELECT m.utterance_idx, m.category, m.tracker, m.term, m.start_s, m.end_s,
                      m.snippet, m.score, m.method, m.probability
               FROM mentions m JOIN picked p USING (call_id)
               WHERE m.call_id = ? ORDER BY m.start_s""",
            call_id,
        )

    def search(self, text: str, where: CallFilter = CallFilter(), limit: int = 100):
        """Utterances matching `text`, best first: BM25 over the full-text index when it exists,
        else a plain case-insensitive substring match."""
        with self.store.reading() as frame:
            try:
                found = self._frame(_SEARCH, where, [search_terms(text), limit], frame)
            except (StoreError, duckdb.Error) as error:  # no extension, or no index built yet
                logger.info("full-text search unavailable (%s); using substring match", error)
                return self._frame(
                    """SELECT p.call_date, p.rep, p.account, u.role, u.text, u.call_id,
                              round(u.start_s) AS second, 1.0 AS score
                       FROM utterances u JOIN picked p USING (call_id)
                       WHERE u.text ILIKE '%' || ? || '%'
                       ORDER BY p.call_date DESC LIMIT ?""",
                    where,
                    [text, limit],
                    frame,
                )
            if found.empty:
                return pd.DataFrame(columns=SEARCH_COLUMNS)
            lines = _lines(frame, found["call_id"].unique())
        lines = lines.assign(second=lines["start_s"].round())
        return found.merge(lines, on=["call_id", "idx"])[SEARCH_COLUMNS]

    def risk_inputs(
        self,
        where: CallFilter = CallFilter(),
        config=None,
        as_of: dt.date | None = None,
        evidence_for: Sequence[str] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What `analyzer.risk.account_risks` needs, reduced in SQL: per account its calls,
        latest tone and usual cadence (risk.ACCOUNTS, over the per-call tones); per account and
        kind the moments that carry risk, counted and their points summed (risk.MOMENTS over the
        per-call counts, scored with `config` as of `as_of`, default the latest call); and,
        from `risk_evidence`, the evidence of the accounts in `evidence_for` (None: every
        account). Every account is scored either way: it is listing evidence that costs at
        scale, so the app lists it only for the accounts it shows.

        When no filter or scope narrows the calls, both come from the per-account summaries
        the store keeps (account_summaries, account_days), as the same SQL computes them."""
        config = config or risk.load_config()
        everything = dataclasses.replace(where, categories=())  # risk counts every category
        summarized = self._summarized(where)
        with self.store.reading() as frame:
            if summarized:
                accounts = frame("SELECT * FROM account_summaries ORDER BY account")
            else:
                accounts = self._frame(
                    ", tones AS (SELECT * FROM call_tones)" + risk.ACCOUNTS, everything, (), frame
                )
            as_of = as_of or risk.latest(accounts) or dt.date.today()
            scored = risk.MOMENTS + risk.TOTALS
            params = risk.moment_params(config, as_of)
            if summarized:
                totals = frame(_SUMMARIZED_COUNTS + scored, params)
            else:
                totals = self._frame(_RISKY_COUNTS + scored, everything, params, frame)
        if evidence_for is not None and len(accounts):
            accounts_shown = accounts[accounts["account"].isin(evidence_for)]
        else:
            accounts_shown = accounts
        return accounts, totals, self.risk_evidence(where, accounts_shown, as_of, config)

    def _summarized(self, where: CallFilter) -> bool:
        """Whether `where` and the scope cover every call, as the per-account summaries do
        (risk counts every category, whichever `where` names)."""
        everything = dataclasses.replace(where, categories=())
        return self.scope == EVERYTHING and everything == CallFilter()

    def risk_evidence(
        self, where: CallFilter, accounts: pd.DataFrame, as_of: dt.date, config=None
    ) -> pd.DataFrame:
        """For the accounts of `accounts` (rows of risk.ACCOUNTS): their weightiest moments,
        scored as of `as_of` (risk.LISTED)."""
        if accounts.empty:
            return pd.DataFrame()
        config = config or risk.load_config()
        moment_params = risk.moment_params(config, as_of)
        names = list(accounts["account"])
        shown = dataclasses.replace(where, categories=(), accounts=tuple(names))
        with self.store.reading() as frame:
            if self._summarized(where):
                listed = frame(_SUMMARIZED_MOMENTS + risk.MOMENTS + risk.LISTED,
                               [names, *moment_params])  # fmt: skip
            else:
                calls = self._frame(
                    "SELECT call_id FROM picked WHERE call_type IS DISTINCT FROM 'sales'",
                    shown,
                    (),
                    frame,
                )["call_id"].tolist()
                # The calls named one by one and their mentions read on their own: a few calls
                # (under 10,000 mentions) are read through the call_id index, and a scan skips
                # row groups that hold none of them. (Not MATERIALIZED, MOMENTS's filters would
                # be pushed into the read, and mentions scanned for them.)
                named = f"""named AS MATERIALIZED (
                    SELECT * FROM mentions
                    WHERE call_id IN ({", ".join("?" * len(calls)) or "NULL"}))"""
                listed = self._frame(
                    ", " + named + _RISKY_MENTIONS + risk.MOMENTS + risk.LISTED,
                    shown,
                    [*calls, *moment_params],
                    frame,
                )
        return listed

    def rep_metrics(self, where: CallFilter = CallFilter()) -> pd.DataFrame:
        """Coaching metrics per rep (averaged over their calls), rep side unless noted."""
        return self._frame(
            """SELECT p.rep, count(*) AS calls,
                      round(avg(r.talk_ratio) * 100) AS talk_ratio_pct,
                      round(avg(r.longest_stretch_s)) AS longest_monologue_s,
                      round(avg(c.longest_stretch_s)) AS longest_customer_story_s,
                      round(avg(r.questions_per_hour)) AS rep_questions_per_hour,
                      round(avg(c.questions_per_hour)) AS customer_questions_per_hour,
                      round(avg(r.speaker_switches_per_minute), 1) AS switches_per_minute,
                      round(avg(r.patience_s), 2) AS patience_s,
                      round(avg(r.words_per_minute)) AS words_per_minute,
                      round(avg(r.fillers_per_minute), 1) AS fillers_per_minute
               FROM picked p
               JOIN call_metrics r ON r.call_id = p.call_id AND r.role = 'rep'
               JOIN call_metrics c ON c.call_id = p.call_id AND c.role = 'customer'
               GROUP BY p.rep ORDER BY p.rep""",
            where,
        )

    def call_metrics(self, call_id: str) -> pd.DataFrame:
        return self._one_call(
            """SELECT m.* FROM call_metrics m JOIN picked p USING (call_id)
               WHERE m.call_id = ? ORDER BY m.role""",
            call_id,
        )
