from __future__ import annotations

import itertools

import numpy as np
import pytest

from analyzer import transcribe
from analyzer.records import Word
from analyzer.synth import speak
from analyzer.transcribe import (
    MAX_PROMPT_TERMS,
    load_model,
    stretches,
    transcribe_words,
    vocabulary_prompt,
    words_to_utterances,
)


def words(*spec):
    return [Word(start, end, text) for start, end, text in spec]


def test_utterances_split_at_pauses():
    grouped = words_to_utterances(
        words((0.0, 0.4, " Hello"), (0.5, 0.9, " there."), (2.5, 3.0, " Next"), (3.1, 3.4, " one")),
        "Priya",
        "rep",
    )
    assert [u.text for u in grouped] == ["Hello there.", "Next one"]
    assert (grouped[1].start_s, grouped[1].end_s) == (2.5, 3.4)
    assert grouped[0].speaker == "Priya" and grouped[0].role == "rep"


def test_long_run_splits_at_a_sentence_end():
    run = [Word(i * 0.3, i * 0.3 + 0.25, f" w{i}{'.' if i == 44 else ''}") for i in range(60)]
    grouped = words_to_utterances(run, "x", "unknown")
    assert [len(u.words) for u in grouped] == [45, 15]


def test_vocabulary_prompt_names_terms_once():
    assert vocabulary_prompt(["Gong", "Salesforce", "Gong"]) == "Gong, Salesforce."
    assert vocabulary_prompt([]) is None
    assert vocabulary_prompt([f"T{i}" for i in range(100)]).count(",") == MAX_PROMPT_TERMS - 1


@pytest.mark.slow
def test_real_model_gives_ordered_word_timestamps():
    samples = np.concatenate([np.zeros(16_000, np.float32), speak("We tried Gong last year.")])
    found = transcribe_words(samples, load_model(), prompt="Gong, Salesforce.")
    assert "gong" in "".join(w.text for w in found).lower()
    starts = [w.start_s for w in found]
    assert starts == sorted(starts) and found[0].start_s >= 0.5  # after the 1 s of silence


@pytest.mark.slow
def test_speech_the_vad_misses_is_still_transcribed():
    clean = speak("Yeah, I'm in the car, sorry. Hands free, so go ahead, we can talk.", -250)
    spectrum = np.fft.rfft(np.concatenate([np.zeros(8_000, np.float32), clean]))
    frequencies = np.fft.rfftfreq(2 * (len(spectrum) - 1), 1 / 16_000)
    spectrum[(frequencies < 300) | (frequencies > 3400)] = 0  # a brick wall: Silero hears nothing
    narrow = np.fft.irfft(spectrum).astype(np.float32)
    text = "".join(w.text for w in transcribe_words(narrow, load_model())).lower()
    assert "car" in text


def test_long_audio_is_cut_into_stretches_at_its_quiet_moments(monkeypatch):
    monkeypatch.setattr(transcribe, "STRETCH_S", 10.0)
    monkeypatch.setattr(transcribe, "STRETCH_CUT_S", 3.0)
    rng = np.random.default_rng(5)
    samples = (rng.standard_normal(16_000 * 25) * 3000).astype(np.int16)  # 16-bit, as decoded
    samples[16_000 * 8 : 16_000 * 8 + 11_000] = 0  # a pause of 0.7 s near 10 s
    samples[16_000 * 17 : 16_000 * 18] = 0  # and one of a second near 20 s
    cuts = stretches(samples)
    assert cuts[0][0] == 0 and cuts[-1][1] == len(samples)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(cuts))  # contiguous
    assert all(end - start <= 10 * 16_000 for start, end in cuts)
    for _, end in cuts[:-1]:
        assert not samples[end - 3_000 : end + 3_000].any()  # each cut falls well inside a pause


@pytest.mark.slow
def test_stretches_put_their_words_at_the_times_of_one_pass(monkeypatch):
    said = [speak(text) for text in ("We tried Gong last year.", "Pricing is per seat.",
                                     "Can you send the demo recording?")]  # fmt: skip
    pause = np.zeros(16_000 * 2, np.float32)
    samples = np.concatenate([said[0], pause, said[1], pause, said[2]])
    whole = transcribe_words(samples, load_model())
    monkeypatch.setattr(transcribe, "STRETCH_S", len(samples) / 16_000 / 2 + 1)
    monkeypatch.setattr(transcribe, "STRETCH_CUT_S", 3.0)
    assert len(stretches(samples)) > 1
    pieces = transcribe_words(samples, load_model())
    starts = [w.start_s for w in pieces]
    assert starts == sorted(starts)
    for word in ("year", "send", "demo"):  # inside sentences: a first word's start is loose
        at = [next(w.start_s for w in found if word in w.text) for found in (whole, pieces)]
        assert abs(at[0] - at[1]) < 0.3, (word, at)
