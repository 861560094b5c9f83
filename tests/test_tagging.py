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


@pytest.mark.parametrize(
    "text",
    [
        "please cancel the subscription",
        "Cancel one of my accounts, the one we opened for the Denver office.",
        "I want to close two of our workspaces.",
        "shut the account down and refund what's left",
        "Shut down all my account services right now.",
        "I'd like my account to be deleted.",
        "How do I delete my account?",
        "I no longer want to keep this account.",
        "I don't want this account anymore, how do I delete it?",
        "we won't be renewing",
        "take us down to the basic tier",
        "we're gonna go down to fifteen users",
        "how do I get out of this contract",
        "I'm not satisfied with the service and no longer want to be a customer.",
        "Can you please disable my current account.",
    ],
)
def test_plain_requests_to_cancel_or_close_are_churn(tagger, text):
    assert "churn_signal" in categories(tagger, text)


@pytest.mark.parametrize(
    "text",
    [
        "I made a transfer into my account and now I need to cancel it.",
        "Why was my top up cancelled?",
        "My card payment has been cancelled.",
        "I need to cancel my order.",
        "can you cancel my reservation for tonight",
        "Oh, and the enablement session on the tenth, can we cancel that one?",
        "I was removing a dollar amount from my account.",
        "cancel",
        "can you cancel what you were doing",
        "We're cancelling our Gong contract when we sign with you.",
    ],
)
def test_cancelling_anything_but_what_we_sell_is_not_churn(tagger, text):
    assert "churn_signal" not in categories(tagger, text)


@pytest.mark.parametrize(
    "text",
    [
        "Yeah, so, short version, we're renewing. No plans to cancel, none.",
        "Clari reached out to me, like, twice last week. I told them we're all set.",
        "If we ever left, what happens to our data?",
        "Hypothetically, if we cancelled, would there be a fee?",
    ],
)
def test_affirmed_renewals_and_hypotheticals_are_not_churn(trackers, tagger, text):
    from analyzer.records import CallContext

    customer = CallContext("cs", existing_customer=True)
    found = tagger.tag([Utterance("s", "customer", 0.0, 5.0, text)], customer)
    assert "churn_signal" not in {m.category for m in found}


def test_a_renewal_that_shrinks_is_still_churn(tagger):
    text = "We're renewing, but we'll go down to fifteen users."
    assert "churn_signal" in categories(tagger, text)


def test_a_rep_asking_about_other_tools_is_not_churn(tagger):
    text = "Is usage dropping on your side, or is anyone looking at other vendors?"
    assert "churn_signal" not in categories(tagger, text, role="rep")
    assert "churn_signal" in categories(tagger, "Yeah, I saw the usage drop.", role="rep")


def test_prospects_carry_no_churn_signal(trackers, tagger):
    text = "Honestly we're not renewing Gong, and we stopped using their recorder."
    turn = [Utterance("s", "customer", 0.0, 5.0, text)]
    prospect = trackers.call_context("sales", "Discovery call", earlier_cs_call=False)
    renewal = trackers.call_context("sales", "Renewal discussion", earlier_cs_call=False)
    customer = trackers.call_context("cs", "Quarterly business review", earlier_cs_call=False)
    assert prospect.existing_customer is False
    assert "churn_signal" not in {m.category for m in tagger.tag(turn, prospect)}
    assert renewal.existing_customer and customer.existing_customer


def test_a_competitor_courting_an_existing_customer_is_churn(trackers, tagger):
    said = "Gong reached out to us with an aggressive number."
    turn = [Utterance("s", "customer", 0.0, 5.0, said)]
    customer = trackers.call_context("cs", None, earlier_cs_call=False)
    prospect = trackers.call_context("sales", "Discovery call", earlier_cs_call=False)
    assert "churn_signal" in {m.category for m in tagger.tag(turn, customer)}
    assert "churn_signal" not in {m.category for m in tagger.tag(turn, prospect)}
    assert "churn_signal" not in {m.category for m in tagger.tag(turn)}  # unknown: prospects too


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Sorry, the guy next to me just paid nine dollars for a coffee.", "pricing"),
        ("It costs us hours every week to rebuild the report.", "pricing"),
        ("Half the team is in L.A. for the Apollo documentary premiere.", "competitor"),
        ("Okay, that's more than the Chorus demo showed us.", "demo"),
        ("We didn't extend the Clari trial.", "demo"),
    ],
)
def test_look_alikes_are_not_the_topic(tagger, text, category):
    assert category not in categories(tagger, text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("We got a Gong quote last week that was way lower.", "Gong"),
        ("Otter came in and offered us three months free.", "Otter"),
    ],
)
def test_a_vendor_as_a_modifier_or_making_a_sales_move_is_named(tagger, text, name):
    assert terms(tagger, text) == [name]


def test_a_hypothetical_counts_when_the_call_shows_the_customer_leaving(trackers, tagger):
    from analyzer.combined import CombinedTagger

    combined = CombinedTagger(tagger)
    question = Utterance("c", "customer", 9.0, 12.0, "If we ever cancel, what happens to our data?")
    leaving = Utterance("c", "customer", 0.0, 5.0, "We won't be renewing in March.")
    customer = trackers.call_context("cs", None, earlier_cs_call=False)
    alone = combined.tag([question], customer)
    with_intent = combined.tag([leaving, question], customer)
    assert "churn_signal" not in {m.category for m in alone}
    assert [m.utterance_idx for m in with_intent if m.category == "churn_signal"] == [0, 1]
