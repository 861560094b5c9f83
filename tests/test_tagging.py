from __future__ import annotations

import pytest

from analyzer.records import Utterance, Word
from analyzer.tagging import KeywordTagger, span_times
from analyzer.trackers import load_trackers


def tag(tagger, text, role="customer"):
    return tagger.tag([Utterance("s", role, 0.0, 5.0, text)])


def categories(tagger, text, role="customer"):
    return sorted({m.category for m in tag(tagger, text, role)})


def terms(tagger, text, role="customer"):
    return sorted(m.term for m in tag(tagger, text, role) if m.category == "competitor")


def test_exact_competitor_name(tagger):
    assert terms(tagger, "We moved to HubSpot last year.") == ["HubSpot"]


def test_lemma_match_for_inflected_phrase(tagger):
    assert "churn_signal" in categories(tagger, "They cancelled the contract in May.")


@pytest.mark.parametrize(
    ("heard", "name"),
    [
        ("Yes, we tried gone for six months.", "Gong"),
        ("a few managers keep their forecasts in sales first, so nothing lines up", "Salesforce"),
        ("we replaced our dialer with sales loft last year", "Salesloft"),
        ("we evaluated clary for forecasting", "Clari"),
    ],
)
def test_asr_misspelling_of_a_name_is_recovered(tagger, heard, name):
    mentions = [m for m in tag(tagger, heard) if m.category == "competitor"]
    assert [m.term for m in mentions] == [name]


def test_misspelled_name_scores_below_an_exact_one(tagger):
    (fuzzy,) = tag(tagger, "Yes, we tried gone for six months.")
    (exact,) = tag(tagger, "Yes, we tried Gong for six months.")
    assert fuzzy.score < exact.score == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "The old data is gone now that we moved platforms.",
        "We are going to switch tools next year.",
        "It's all gone, the whole report.",
    ],
)
def test_ordinary_words_near_a_name_do_not_fire(tagger, text):
    assert terms(tagger, text) == []


def test_word_that_only_looks_like_a_trigger(tagger):
    assert categories(tagger, "we ring the gong when we close a deal") == []


def test_ambiguous_name_used_as_a_product_fires(tagger):
    assert terms(tagger, "We used Chorus for call recording before.") == ["Chorus"]


def test_ambiguous_word_used_as_a_plain_noun_does_not(tagger):
    assert terms(tagger, "our outreach to new customers is slow") == []


@pytest.mark.parametrize(
    "text",
    [
        "we have no plans to cancel",
        "We're not going to cancel, relax.",
        "I don't think we'd ever cancel.",
        "If we ever cancel, what happens to our data?",
        "Nobody here wants to cancel.",
    ],
)
def test_negated_or_hypothetical_churn_does_not_fire(tagger, text):
    assert "churn_signal" not in categories(tagger, text)


@pytest.mark.parametrize(
    "text",
    [
        "If this isn't fixed, we'll cancel.",
        "if the integration is not fixed we will cancel the contract",
        "Unless support gets faster we are switching vendors.",
        "We are not going to renew.",
    ],
)
def test_conditional_threats_and_stated_intent_fire(tagger, text):
    assert "churn_signal" in categories(tagger, text)


def test_cancelling_a_meeting_is_not_churn(tagger):
    assert "churn_signal" not in categories(tagger, "Can we cancel the meeting on Tuesday?")


def test_negated_pain_point_does_not_fire(tagger):
    assert "pain_point" not in categories(tagger, "No problem at all, that works.")


def test_said_by_customer_ignores_the_rep(tagger):
    text = "If they do not fix it, we will cancel the contract."
    assert "churn_signal" not in categories(tagger, text, role="rep")
    assert "churn_signal" in categories(tagger, text, role="customer")


def test_unknown_role_still_matches_sided_trackers(tagger):
    assert "churn_signal" in categories(tagger, "We will cancel the contract.", role="unknown")


def test_one_mention_per_tracker_per_utterance(tagger):
    mentions = tag(tagger, "The price is high, the pricing page is confusing, the price went up.")
    assert [m.tracker for m in mentions].count("Pricing") == 1


def test_mention_times_come_from_word_timestamps(tagger):
    words = (Word(1.0, 1.4, " We"), Word(1.4, 1.9, " tried"), Word(2.0, 2.6, " Gong."))
    utterance = Utterance("cus", "customer", 1.0, 2.6, "We tried Gong.", words)
    (mention,) = tagger.tag([utterance])
    assert (mention.start_s, mention.end_s) == (2.0, 2.6)
    assert mention.snippet == "We tried Gong."


def test_span_times_interpolate_without_words():
    utterance = Utterance("a", "rep", 10.0, 20.0, "0123456789")
    assert span_times(utterance, 5, 10) == (15.0, 20.0)


def test_user_tracker_file_adds_a_category(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text(
        "trackers:\n"
        "  - {name: Security review, category: security, phrases: [soc 2, security review]}\n"
    )
    tagger = KeywordTagger(load_trackers(user))
    utterance = Utterance("c", "customer", 0, 1, "Legal needs the SOC 2 report first.")
    assert [m.category for m in tagger.tag([utterance])] == ["security"]


@pytest.mark.parametrize(
    "text",
    [
        "Actually, can we cancel Thursday?",
        "Luis had to cancel, he's stuck at a customer site.",
        "I had to cancel our exec sync to be on this.",
    ],
)
def test_cancelling_a_meeting_or_attendance_is_not_churn(tagger, text):
    assert "churn_signal" not in categories(tagger, text)


@pytest.mark.parametrize(
    "text",
    ["We'll cancel the contract in March.", "Honestly my VP wants to cancel.", "We might cancel."],
)
def test_cancelling_what_we_sell_is_churn(tagger, text):
    assert "churn_signal" in categories(tagger, text)


def test_inflected_phrase_does_not_widen_to_its_base(tagger):
    assert "pain_point" in categories(tagger, "The sync is broken again.")
    assert "pain_point" not in categories(tagger, "Is there a price break once we hit fifty?")


def test_base_form_phrase_matches_inflections(tagger):
    assert "pain_point" in categories(tagger, "New hires took forever to ramp.")
