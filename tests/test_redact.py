"""PII redaction: what is masked, recall on a labeled set, and that nothing unmasked is stored."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.records import Utterance, Word
from analyzer.redact import MASKS, find, luhn, redact_text, redact_utterance

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
    said = "mail jane at acme dot com or 415 555 0134 now"
    words = tuple(Word(i, i + 0.5, f" {w}") for i, w in enumerate(said.split()))
    masked = redact_utterance(Utterance("A", "customer", 0, 12, said, words))
    assert masked.text == "mail [email] or [phone] now"
    assert [w.text for w in masked.words] == [" mail", " [email]", " or", " [phone]", " now"]
    # One word per identifier, timed from its first word to its last (where audio beeps).
    assert [(w.start_s, w.end_s) for w in masked.words] == [
        (0, 0.5), (1, 5.5), (6, 6.5), (7, 9.5), (10, 10.5)
    ]  # fmt: skip


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


def tone_share(samples, start_s: float, end_s: float) -> float:
    """The share of a stretch's energy at the beep's frequency."""
    import numpy as np

    from analyzer.redact import BEEP_HZ
    from analyzer.sources import SAMPLE_RATE

    piece = samples[int(start_s * SAMPLE_RATE) : int(end_s * SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(piece * np.hanning(len(piece)))) ** 2
    freqs = np.fft.rfftfreq(len(piece), 1 / SAMPLE_RATE)
    return float(spectrum[np.abs(freqs - BEEP_HZ) < 30].sum() / spectrum.sum())


def test_the_beeped_copy_hides_masked_words_and_keeps_the_rest(tmp_path):
    import numpy as np

    from analyzer.pipeline import write_redacted_audio
    from analyzer.sources import SAMPLE_RATE, load_audio
    from analyzer.synth import speak, write_wav

    speech = speak("Thanks for joining today. My email is on the card I sent you, so write soon.")
    recording = write_wav(tmp_path / "call.wav", speech)
    original = recording.read_bytes()
    words = [Word(0.0, 0.5, " Thanks"), Word(1.0, 2.0, " [email]"), Word(2.0, 2.3, " [email]"),
             Word(3.0, 3.5, " soon")]  # fmt: skip
    out = tmp_path / "redacted" / "c1.ogg"
    assert write_redacted_audio(recording, words, out) == 1  # the two masked words: one beep
    beeped, before = load_audio(out).channels[0], load_audio(recording).channels[0]
    assert abs(len(beeped) - len(before)) < SAMPLE_RATE // 10
    assert tone_share(beeped, 0.9, 2.4) > 0.9  # padded by BEEP_PAD_S either side
    assert tone_share(before, 0.9, 2.4) < 0.2
    for start, end in ((0.0, 0.5), (3.0, 3.5)):
        assert tone_share(beeped, start, end) < 0.2
        piece = slice(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE))
        assert np.corrcoef(beeped[piece], before[piece])[0, 1] > 0.9  # speech as it was
    assert recording.read_bytes() == original  # the upload itself is never changed
    assert not list(out.parent.glob(".*"))  # written whole, then renamed


def test_audio_redaction_end_to_end(tmp_path):
    """`pii on --audio`: each new recording gets a beeped copy over the words the transcript
    masks (which ones depends on how ASR heard them); text-only redaction deletes the copies,
    turning audio on again beeps the stored calls."""
    import numpy as np

    from analyzer.pipeline import redacted_audio_path
    from analyzer.sources import load_audio
    from analyzer.store import Store
    from analyzer.synth import speak, write_wav

    speech = speak(
        "Please write it down. The email is support at example dot com, and the phone number "
        "is 800 555 0199. Thanks.",
        tempo=1.1,
    )
    recording = write_wav(tmp_path / "call.wav", np.concatenate([speech, np.zeros(8000)]))
    db = tmp_path / "pii.duckdb"
    runner = CliRunner()
    result = runner.invoke(cli, ["pii", "on", "--audio", "--db", str(db)])
    assert result.exit_code == 0 and "0 recording(s) beeped" in result.output, result.output
    result = runner.invoke(cli, ["ingest", str(recording), "--call-id", "c1", "--db", str(db)])
    assert result.exit_code == 0, result.output

    store = Store(db)
    copy = redacted_audio_path(store, "c1")
    beeped = load_audio(copy).channels[0]
    for word in store.words("c1"):
        if word.text.strip() in MASKS.values():
            assert tone_share(beeped, word.start_s, word.end_s) > 0.9

    result = runner.invoke(cli, ["pii", "on", "--db", str(db)])  # text only again
    assert result.exit_code == 0 and not copy.exists()
    assert "PII redaction is on for" in runner.invoke(cli, ["pii", "--db", str(db)]).output
    result = runner.invoke(cli, ["pii", "on", "--audio", "--db", str(db)])  # stored calls too
    assert "1 recording(s) beeped" in result.output and copy.exists()
    assert "on, audio beeped" in runner.invoke(cli, ["pii", "--db", str(db)]).output
    recording.unlink()
    result = runner.invoke(cli, ["pii", "on", "--audio", "--db", str(db)])
    assert "c1: recording gone, nothing to beep" in result.output
