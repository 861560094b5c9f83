"""Bleed: a channel's copy of the other channel's words is dropped, its own speech is kept."""

import numpy as np

from analyzer.bleed import drop_bleed
from analyzer.records import Word
from analyzer.sources import SAMPLE_RATE


def words(text: str, start_s: float, step_s: float = 0.3) -> list[Word]:
    return [
        Word(start_s + i * step_s, start_s + (i + 1) * step_s - 0.05, f" {w}")
        for i, w in enumerate(text.split())
    ]


def channel(loud: list[tuple[float, float, float]], seconds: float = 6.0) -> np.ndarray:
    """16-bit samples: noise at the given amplitude in each (start, end, amplitude) span."""
    rng = np.random.default_rng(0)
    samples = np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)
    for start, end, amplitude in loud:
        span = slice(int(start * SAMPLE_RATE), int(end * SAMPLE_RATE))
        samples[span] = rng.normal(0, amplitude, samples[span].shape)
    return (np.clip(samples, -1, 1) * 32767).astype(np.int16)


def texts(side: list[Word]) -> str:
    return "".join(w.text for w in side).strip()


def test_the_quieter_channels_copy_of_a_sentence_is_dropped():
    rep = words("so the renewal price would be forty a seat", 1.0)
    customer_own = words("okay that works for us", 4.0)
    bleed = words("so the renewal price would be forty a seat", 1.1)  # heard faintly
    left = channel([(1.0, 3.7, 0.3)])
    right = channel([(1.0, 3.7, 0.03), (4.0, 5.5, 0.3)])
    kept, copies = drop_bleed([rep, bleed + customer_own], [left, right])
    assert texts(kept[0]) == texts(rep)
    assert texts(kept[1]) == "okay that works for us"
    assert [c.copy_side for c in copies] == [1]


def test_the_copy_is_dropped_from_whichever_side_heard_it():
    customer = words("we are going to cancel the contract", 1.0)
    bleed = words("we are going to cancel the contract", 0.95)
    left = channel([(1.0, 3.2, 0.02)])
    right = channel([(1.0, 3.2, 0.4)])
    kept, _ = drop_bleed([bleed, customer], [left, right])
    assert kept[0] == []
    assert texts(kept[1]) == "we are going to cancel the contract"


def test_both_saying_a_short_phrase_together_is_not_bleed():
    left_words = words("yeah right", 1.0)
    right_words = words("yeah right", 1.05)
    kept, copies = drop_bleed(
        [left_words, right_words], [channel([(1, 2, 0.3)]), channel([(1, 2, 0.1)])]
    )
    assert copies == []
    assert kept == [left_words, right_words]


def test_different_words_at_the_same_time_are_both_speech():
    left_words = words("what does the rollout look like", 1.0)
    right_words = words("sorry go ahead you first please", 1.0)
    kept, _ = drop_bleed(
        [left_words, right_words], [channel([(1, 3, 0.3)]), channel([(1, 3, 0.05)])]
    )
    assert kept == [left_words, right_words]


def test_a_copy_that_misheard_one_word_is_still_a_copy():
    rep = words("we sync every call to Salesforce within a minute", 1.0)
    bleed = words("we sync every call to sales within a minute", 1.0)
    left = channel([(1.0, 4.0, 0.3)])
    right = channel([(1.0, 4.0, 0.02)])
    kept, _ = drop_bleed([rep, bleed], [left, right])
    assert kept[1] == []


def test_a_channel_that_says_its_own_words_then_copies_the_others_loses_only_the_copy():
    # the rep speaks 1-3 s and the customer answers 3.2-5 s; each channel also carries the
    # other's words faintly, so both transcriptions hold one long run of shared words
    rep = words("so the renewal price would be", 1.0)
    customer = words("we came in under the number", 3.2)
    left = channel([(1.0, 3.0, 0.3), (3.2, 5.0, 0.03)])
    right = channel([(1.0, 3.0, 0.03), (3.2, 5.0, 0.3)])
    kept, copies = drop_bleed([rep + customer, rep + customer], [left, right])
    assert texts(kept[0]) == texts(rep)
    assert texts(kept[1]) == texts(customer)
    assert sorted(c.copy_side for c in copies) == [0, 1]
