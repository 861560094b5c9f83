"""`analyzer demo`: build the demo database from a calls folder, reuse it, serve the app."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.synth import write_wav

DATA = Path(__file__).parent / "data"


@pytest.fixture
def calls_dir(tmp_path, call_audio):
    folder = tmp_path / "calls"
    folder.mkdir()
    shutil.copy(DATA / "meeting.vtt", folder / "meeting.vtt")
    write_wav(folder / "discovery.wav", call_audio[0])
    (folder / "manifest.csv").write_text(
        "file,call_id,rep,account,call_type,date,title\n"
        "discovery.wav,acme-1,Mark Jones,Acme,sales,2026-10-01,Discovery\n"
        "meeting.vtt,acme-2,Priya Shah,Acme,cs,2026-10-08,Check-in\n"
    )
    return folder


def demo(*args):
    return CliRunner().invoke(cli, ["demo", "--no-app", *map(str, args)], catch_exceptions=False)


@pytest.mark.slow
def test_demo_builds_then_reuses_the_database(tmp_path, calls_dir):
    db = tmp_path / "demo.duckdb"
    first = demo("--calls", calls_dir, "--db", db)
    assert first.exit_code == 0, first.output
    assert "2 ingested" in first.output
    with duckdb.connect(str(db), read_only=True) as connection:
        assert connection.execute("SELECT call_id FROM calls ORDER BY 1").fetchall() == [
            ("acme-1",),
            ("acme-2",),
        ]
    second = demo("--calls", calls_dir, "--db", db)
    assert "0 ingested, 2 skipped" in second.output


def test_demo_needs_a_manifest(tmp_path):
    result = CliRunner().invoke(cli, ["demo", "--no-app", "--calls", str(tmp_path)])
    assert result.exit_code != 0
    assert "manifest.csv not found" in result.output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_demo_ends_with_the_app_serving(tmp_path, calls_dir):
    port = free_port()
    analyzer = Path(sys.executable).parent / "analyzer"
    command = [str(analyzer), "demo", "--calls", str(calls_dir), "--db", str(tmp_path / "d.duckdb"),
               "--port", str(port)]  # fmt: skip
    log = tmp_path / "demo.log"  # a file, not a pipe: a full pipe would block the server
    server = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as response:
                    assert response.read() == b"ok"
                    break
            except OSError:
                assert server.poll() is None, log.read_text()
                time.sleep(1)
        else:
            pytest.fail("the app did not come up within 120 s")
    finally:
        server.terminate()
        server.wait(timeout=30)
