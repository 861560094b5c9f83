"""Crash safety with real processes: `analyzer ingest` killed with SIGKILL in the middle of a
batch, then run again, leaves every call stored exactly once, with no partial or duplicate rows."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.store import Store

pytestmark = pytest.mark.slow

GOLD = sorted(str(p) for p in (Path(__file__).parents[1] / "sample_calls/gold").glob("*.json"))[:10]
COUNTS = """SELECT c.call_id, c.status,
                  (SELECT count(*) FROM utterances u WHERE u.call_id = c.call_id) AS utterances,
                  (SELECT count(*) FROM mentions m WHERE m.call_id = c.call_id) AS mentions,
                  (SELECT count(*) FROM call_metrics k WHERE k.call_id = c.call_id) AS metrics
           FROM calls c ORDER BY c.call_id"""
ORPHANS = """SELECT count(*) AS n FROM (
                 SELECT call_id FROM utterances UNION ALL SELECT call_id FROM mentions
                 UNION ALL SELECT call_id FROM words UNION ALL SELECT call_id FROM call_metrics)
             WHERE call_id NOT IN (SELECT call_id FROM calls WHERE status = 'ok')"""
DUPLICATES = """SELECT count(*) AS n FROM (
                    SELECT call_id, idx FROM utterances GROUP BY ALL HAVING count(*) > 1)"""


def ingest(db: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "ingest", *GOLD, "--db", str(db)],
        stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Per-call row counts from one uninterrupted run."""
    folder = tmp_path_factory.mktemp("clean")
    assert ingest(folder / "clean.duckdb", folder / "log").wait(timeout=300) == 0
    return Store(folder / "clean.duckdb")._read(COUNTS)


@pytest.mark.parametrize("kill_after", [1, 4, 7])
def test_sigkill_mid_batch_then_rerun_stores_every_call_once(tmp_path, clean, kill_after):
    db = tmp_path / "crash.duckdb"
    store = Store(db, lock_timeout_s=60)
    victim = ingest(db, tmp_path / "killed.log")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and victim.poll() is None:
        if db.exists() and len(store.call_ids()) >= kill_after:
            victim.kill()  # SIGKILL: no cleanup, no atexit, mid-batch
            break
        time.sleep(0.05)
    assert victim.wait(timeout=30) == -9, "the batch finished before it could be killed"
    stored_before = len(store.call_ids())
    assert kill_after <= stored_before < len(GOLD)
    assert store._read(ORPHANS)[0]["n"] == 0  # nothing half written at the moment of the kill

    rerun = ingest(db, tmp_path / "rerun.log")
    assert rerun.wait(timeout=300) == 0, (tmp_path / "rerun.log").read_text()
    assert store._read(COUNTS) == clean  # every call once, the same rows as a clean run
    assert store._read(ORPHANS)[0]["n"] == 0
    assert store._read(DUPLICATES)[0]["n"] == 0
