"""PII redaction: what is masked, recall on a labeled set, and that nothing unmasked is stored."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.records import Utterance, Word
from analyzer.redact import find, luhn, redact_text, redact_utterance

DATA = Path(__file__).parent / "data"
# Written independently of the redactor: 100 utterances with identifiers, 40 with look-alikes.
LABELED = DATA / "pii_utterances.jsonl"
MIN_RECALL = 0.90


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reach me at jane.doe@acme.com.", "Reach me at [email]."),
        ("it's jane dot doe at acme dot com", "it's [email]"),
        ("Call (415) 555-0134 ext. 204, thanks.", "Call [phone], thanks."),
        ("four one five, five five five, zero one three four", "[phone]"),
        ("call +44 20 7946 0958 tomorrow", "call [phone] tomorrow"),
        ("card 4111 1111 1111 1111 expires", "card [card] expires"),
        ("my social security number is 123 45 6789", "my social security number is [ssn]"),
        ("invoice 1234 5678 9012 3456 is due", "invoice 1234 5678 9012 3456 is due"),  # no Luhn
        ("$60 per user, 12,000 dollars in 2025, 2026, 2027", None),
        ("version 4.2.1 at 10:30, order 100234, ticket 48213", None),
        ("one of our two reps met them at the conference", None),
    ],
)
def test_what_is_masked(text, expected):
    assert redact_text(text) == (expected or text)


def test_luhn():
    assert luhn("4111111111111111") and luhn("378282246310005")
    assert not luhn("1234567890123456")


def test_words_under_an_identifier_are_masked_too():
    words = tuple(
        Word(i, i + 0.5, f" {w}") for i, w in enumerate("mail jane.doe@acme.com now".split())
    )
    masked = redact_utterance(Utterance("A", "customer", 0, 3, "mail jane.doe@acme.com now", words))
    assert masked.text == "mail [email] now"
    assert [w.text for w in masked.words] == [" mail", " [email]", " now"]
    assert [w.start_s for w in masked.words] == [0, 1, 2]  # timings kept


def recall_and_false_positives():
    found = missed = false_positives = 0
    misses = []
    for line in LABELED.read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        spans = find(item["text"])
        for pii in item["pii"]:
            start = item["text"].index(pii["value"])
            end = start + len(pii["value"])
            covered = all(any(s.start <= i < s.end for s in spans) for i in range(start, end))
            found += covered
            missed += not covered
            if not covered:
                misses.append(pii["value"])
        if not item["pii"] and spans:
            false_positives += 1
    return found / (found + missed), false_positives, misses


def test_recall_on_the_labeled_set():
    recall, false_positives, misses = recall_and_false_positives()
    assert recall >= MIN_RECALL, misses
    assert false_positives <= 2


def test_redaction_is_opt_in_and_masks_new_and_stored_calls(tmp_path):
    db = tmp_path / "pii.duckdb"
    vtt = tmp_path / "call.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Priya>What's the best email for you?\n\n"
        "00:00:04.000 --> 00:00:09.000\n<v Dana>It's dana.w@acme-logistics.com, or call "
        "415-555-0134. Our pricing is too high.\n"
    )
    runner = CliRunner()
    assert (
        runner.invoke(cli, ["ingest", str(vtt), "--rep", "Priya", "--db", str(db)]).exit_code == 0
    )

    def stored() -> str:
        with duckdb.connect(str(db), read_only=True) as connection:
            rows = connection.execute(
                "SELECT text FROM utterances UNION ALL SELECT snippet FROM mentions"
            ).fetchall()
        return " ".join(r[0] for r in rows)

    assert "dana.w@acme-logistics.com" in stored()  # off by default
    result = runner.invoke(cli, ["pii", "on", "--db", str(db)])
    assert result.exit_code == 0 and "1 stored utterance(s) masked" in result.output
    assert "acme-logistics" not in stored() and "555" not in stored()
    assert "[email]" in stored() and "[phone]" in stored()
    assert "PII redaction is on" in runner.invoke(cli, ["pii", "--db", str(db)]).output

    again = tmp_path / "again.vtt"
    again.write_text(vtt.read_text().replace("dana.w", "dana.whitfield"))
    assert (
        runner.invoke(cli, ["ingest", str(again), "--rep", "Priya", "--db", str(db)]).exit_code == 0
    )
    assert "whitfield" not in stored()
