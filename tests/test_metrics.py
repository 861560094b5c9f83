"""Each conversation metric on small timelines with answers worked out by hand."""

from __future__ import annotations

import pytest

from analyzer.metrics import compute, count_questions, is_question, longest_stretch, talk_seconds
from analyzer.records import Utterance


def say(role, start, end, text="word " * 5):
    return Utterance(role, role, start, end, text.strip())


TIMELINE = [
    say("rep", 0, 10, "Hi there. What tools do you use today?"),  # 10 s, 1 question
    say("customer", 11, 31, "We use HubSpot and um spreadsheets and you know it is a mess."),
    say("rep", 31.5, 32, "Mm-hmm."),  # a back-channel inside the customer's story
    say("customer", 32.5, 50, "So the managers cannot see anything, like, at all."),
    say("rep", 52, 82, "Let me explain how we fix that. " * 6),  # 30 s monologue
    say("customer", 83, 85, "Right."),  # 2 s: breaks a rep monologue, not a customer story
    say("rep", 86, 96, "Does Tuesday work for a demo?"),
]


def test_talk_time_merges_overlaps_and_skips_silence():
    overlapping = [say("rep", 0, 10), say("rep", 5, 12), say("rep", 20, 25)]
    assert talk_seconds(overlapping) == 17


def test_talk_ratio():
    metrics = compute(TIMELINE, 96)
    rep, customer = metrics.side("rep"), metrics.side("customer")
    assert (rep.talk_s, customer.talk_s) == (50.5, 39.5)
    assert rep.talk_ratio == round(50.5 / 90, 3)
    assert rep.talk_ratio + customer.talk_ratio == pytest.approx(1, abs=0.001)


def test_longest_monologue_is_broken_by_a_real_interjection():
    assert compute(TIMELINE, 96).side("rep").longest_stretch_s == 30


def test_longest_customer_story_survives_a_back_channel():
    assert longest_stretch(TIMELINE, "customer", 3.0) == 39  # 11 s to 50 s


def test_questions_by_punctuation_and_by_shape():
    assert is_question("What tools do you use today?")
    assert is_question("what tools do you use today")  # ASR dropped the question mark
    assert is_question("do you record your calls")
    assert not is_question("We use HubSpot.")
    assert not is_question("What a week.")
    assert not is_question("what we do is record every call")
    assert is_question("and how big is the team")
    assert count_questions("Hi there. What tools do you use? And how big is the team") == 2


def test_question_rate_per_hour():
    rep = compute(TIMELINE, 96).side("rep")
    assert rep.questions == 2
    assert rep.questions_per_hour == round(2 / (96 / 3600), 1)


def test_interactivity_and_patience():
    metrics = compute(TIMELINE, 96)
    assert metrics.speaker_switches_per_minute == round(6 / (96 / 60), 2)
    # customer -> rep hand-overs: 31 -> 31.5, 50 -> 52, 85 -> 86
    assert metrics.patience_s == round((0.5 + 2 + 1) / 3, 2)


def test_speech_rate_and_fillers():
    customer = compute(TIMELINE, 96).side("customer")
    assert customer.words == 23
    assert customer.words_per_minute == round(23 / (39.5 / 60), 1)
    assert customer.fillers == 3  # "um", "you know", "like,"


def test_unknown_speakers_get_no_metrics():
    assert compute([say("unknown", 0, 10), say("unknown", 11, 20)], 20) is None
