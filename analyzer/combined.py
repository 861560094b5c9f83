"""Keyword and smart trackers together: one mention per topic per turn, and short replies.

1. Keyword trackers run first: their spans are exact and their judgement calls (negation,
   hypotheticals, another sense of the word) come from the parse.
2. A smart tracker adds its category to a turn where no keyword found it, pointing at the sentence
   that scored highest - unless keywords found a trigger of that category in that sentence and
   rejected it ("we have no plans to cancel", "if we ever cancel", "cancel Thursday's sync"):
   such a sentence embeds close to the topic, but the parse knows what it means.
3. One mention per category per turn (per canonical name for competitors).
4. A short affirmative reply to the other side's question ("yeah, that too" to "is the CRM
   entry a headache as well?") takes the topics of that question which its speaker may raise,
   and quotes the question with it. Back-channels ("mm-hmm", "right"), replies that are not
   answers to a question, and negative answers get nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from analyzer.embeddings import load_embedder
from analyzer.errors import AnalyzerError
from analyzer.metrics import SENTENCES, is_question
from analyzer.records import CallContext, Mention, Utterance
from analyzer.smart import Sentence, SmartTagger, SmartTracker, load_calibration
from analyzer.smart import load as load_smart_trackers
from analyzer.tagging import (
    CONDITIONAL_MARKS,
    SNIPPET_CHARS,
    KeywordTagger,
    Rejected,
    in_context,
    said_by_allows,
    span_times,
)

logger = logging.getLogger(__name__)

REPLY_MAX_WORDS = 6
REPLY_OPENERS = frozenset(
    "yes yeah yep yup yah exactly definitely absolutely totally correct sure constantly always "
    "100 honestly".split()
)
REPLY_PHRASES = ("that too", "all the time", "for sure", "big time", "very much", "of course")
REPLY_LEAD_INS = frozenset("oh um uh well ah and so".split())
REPLY_NEGATIVES = frozenset("no nope nah not never n't don't didn't isn't wasn't".split())
DENIALS = frozenset({"no", "not", "never", "n't"})
CONTRACTED = {"wo": "will", "ca": "can", "sha": "shall"}  # "won't" parses as "wo" + "n't"
_WORDS = re.compile(r"[a-z0-9']+")


def load_smart_tagger(path: Path | None = None) -> SmartTagger | None:
    """The trained smart trackers (`path`, else the default file) with the embedding model
    (loaded once per process), or None when none are trained or the embedding packages are
    missing: keywords alone then."""
    trackers = load_smart_trackers(path)
    if not trackers:
        return None
    try:
        return SmartTagger(
            trackers, load_embedder(encoder=trackers[0].encoder), load_calibration(path)
        )
    except AnalyzerError as error:
        logger.warning("smart trackers off: %s", error)
        return None


class CombinedTagger:
    """Tag utterances with keyword trackers and, when given, smart trackers."""

    def __init__(self, keyword: KeywordTagger, smart: SmartTagger | None = None):
        self.keyword = keyword
        self.smart = smart
        self.trackers = keyword.trackers
        self._named = {t.name for t in keyword.trackers.trackers if t.is_name}

    @property
    def categories(self) -> tuple[str, ...]:
        smart = self.smart.categories if self.smart else ()
        return tuple(dict.fromkeys(self.trackers.categories + smart))

    def tag(
        self, utterances: Sequence[Utterance], context: CallContext | None = None
    ) -> list[Mention]:
        """Mentions for all utterances, ordered by utterance and time. `context` says whether
        the customer is an existing one (calls with prospects carry no churn signal)."""
        found, rejected = self.keyword.analyze(utterances)
        if self.smart is not None:
            found += self._semantic(utterances, found, rejected)
        found = self._one_per_topic(found)
        found += self._replies(utterances, found)
        found = self._sure_enough(in_context(found, self.trackers, context), context)
        confirmed = self._confirmed_hypotheticals(utterances, found, rejected)
        found += self._sure_enough(in_context(confirmed, self.trackers, context), context)
        return sorted(found, key=lambda m: (m.utterance_idx, m.start_s, m.category))

    def _sure_enough(self, found: list[Mention], context: CallContext | None) -> list[Mention]:
        """Each mention with its calibrated probability, kept when it reaches its topic's
        threshold (the team's, else the category's default). A category nothing labeled
        calibrates (a team's new one) keeps its raw scores and its head's own threshold."""
        if self.smart is None or not self.smart.calibration.fits:
            return found
        chosen = dict(context.thresholds) if context else {}
        calibration = self.smart.calibration

        def sure_enough(m: Mention) -> bool:
            if not calibration.covers(m.category):
                return True
            return m.probability >= chosen.get(
                m.category, self.trackers.rules_for(m.category).threshold
            )

        return [m for m in calibration.apply(found) if sure_enough(m)]

    def _semantic(
        self, utterances: Sequence[Utterance], keyword: list[Mention], rejected: list[Rejected]
    ) -> list[Mention]:
        have = {(m.utterance_idx, m.category) for m in keyword}
        careful = {c for c, r in self.trackers.rules.items() if r.negation == "suppress"}

        denied = {(r.utterance_idx, r.category) for r in rejected if r.reason == "denied"}

        def veto(sentence: Sentence, tracker: SmartTracker, probability: float) -> bool:
            category = tracker.category
            if (sentence.utterance_idx, category) in have | denied:
                return True
            if any(_inside(r, sentence) for r in rejected if r.category == category):
                return True
            return category in careful and self._denied_or_hypothetical(
                sentence.text, tracker, probability
            )

        return self.smart.tag(utterances, veto=veto)

    def _denied_or_hypothetical(self, text: str, tracker: SmartTracker, probability: float):
        """Counterfactual checks with the tracker's own head. Without its if-clause, is the
        sentence still on topic ("if we ever left, what happens to our data?" is not; "if this
        isn't fixed we'll cancel" is)? Without its negation, is it more on topic ("I don't want
        to switch" -> "I do want to switch": the sentence denies the topic; "we're not
        renewing" -> "we're renewing": the negation is what makes it one)?"""
        doc = self.keyword.nlp(text)
        variants = {}
        condition = {
            token.i
            for mark in doc
            if mark.dep_ == "mark" and mark.lower_ in CONDITIONAL_MARKS
            for token in mark.head.subtree
        }
        if condition:
            variants["condition"] = _without(doc, condition)
        negation = {t.i for t in doc if t.dep_ == "neg" or t.lower_ in DENIALS}
        if negation:
            variants["negation"] = _without(doc, negation)
        if not variants:
            return False
        scores = dict(
            zip(variants, self.smart.probabilities(tracker, list(variants.values())), strict=True)
        )
        if "condition" in scores and scores["condition"] < tracker.threshold:
            return True
        return "negation" in scores and scores["negation"] > probability

    def _one_per_topic(self, mentions: list[Mention]) -> list[Mention]:
        """Keep the first mention of each category in a turn (each name, for competitors)."""
        kept: dict[tuple, Mention] = {}
        for mention in mentions:
            name = mention.term if mention.tracker in self._named else None
            kept.setdefault((mention.utterance_idx, mention.category, name), mention)
        return list(kept.values())

    def _replies(self, utterances: Sequence[Utterance], found: list[Mention]) -> list[Mention]:
        have = {(m.utterance_idx, m.category) for m in found}
        inherited = []
        for index in range(1, len(utterances)):
            reply, before = utterances[index], utterances[index - 1]
            same_side = before.role == reply.role and reply.role != "unknown"
            if same_side or before.speaker == reply.speaker or not is_reply(reply.text):
                continue
            question = last_question(before.text)
            if question is None:
                continue
            # The question's topics whoever asks it: a rep may ask about a customer-only topic.
            asked = replace(before, text=question, role="unknown", words=())
            for mention in self.tag([asked]):
                tracker = self.keyword.by_name.get(mention.tracker)
                said_by = tracker.said_by if tracker else self._smart_said_by(mention.category)
                if (index, mention.category) in have or not said_by_allows(said_by, reply.role):
                    continue
                have.add((index, mention.category))
                inherited.append(
                    replace(
                        mention,
                        utterance_idx=index,
                        tracker=f"{mention.tracker} (reply)",
                        start_s=reply.start_s,
                        end_s=reply.end_s,
                        snippet=f'{reply.text.strip()} (answering: "{question}")'[:SNIPPET_CHARS],
                    )
                )
        return inherited

    def _confirmed_hypotheticals(
        self, utterances: Sequence[Utterance], found: list[Mention], rejected: list[Rejected]
    ) -> list[Mention]:
        """A hypothetical ("if we leave, what happens to our data?") is asked for information,
        unless the call shows it is real: then it counts, when the same side says the topic
        plainly elsewhere in the call."""
        said = {(m.category, utterances[m.utterance_idx].role) for m in found}
        confirmed, have = [], {(m.utterance_idx, m.category) for m in found}
        for r in rejected:
            role = utterances[r.utterance_idx].role
            if r.reason != "hypothetical" or (r.category, role) not in said:
                continue
            if (r.utterance_idx, r.category) in have:
                continue
            have.add((r.utterance_idx, r.category))
            start_s, end_s = span_times(utterances[r.utterance_idx], r.start_char, r.end_char)
            confirmed.append(
                Mention(
                    utterance_idx=r.utterance_idx,
                    category=r.category,
                    tracker=f"{r.tracker} (hypothetical, said for real in the call)",
                    term=r.matched,
                    start_s=start_s,
                    end_s=end_s,
                    snippet=r.text,
                    method="keyword",
                )
            )
        return confirmed

    def _smart_said_by(self, category: str) -> str:
        trackers = self.smart.trackers if self.smart else []
        return next((t.said_by for t in trackers if t.category == category), "anyone")


def _without(doc, drop: set[int]) -> str:
    """The sentence without the tokens in `drop` ("won't" loses "n't" and becomes "will")."""
    words = []
    for token in doc:
        if token.i in drop:
            continue
        text = CONTRACTED.get(token.lower_, token.text) if token.i + 1 in drop else token.text
        words.append(text + token.whitespace_)
    return "".join(words).strip()


def _inside(rejected: Rejected, sentence: Sentence) -> bool:
    return (
        rejected.utterance_idx == sentence.utterance_idx
        and sentence.start_char <= rejected.start_char < sentence.end_char
    )


def is_reply(text: str) -> bool:
    """A short affirmative answer: "yeah, that too", "exactly", "oh yes, constantly"."""
    words = _WORDS.findall(text.lower())
    if not words or len(words) > REPLY_MAX_WORDS or REPLY_NEGATIVES & set(words):
        return False
    while len(words) > 1 and words[0] in REPLY_LEAD_INS:
        words = words[1:]
    joined = " ".join(words)
    return words[0] in REPLY_OPENERS or any(phrase in joined for phrase in REPLY_PHRASES)


def last_question(text: str) -> str | None:
    """The turn's last sentence, if it asks something."""
    pieces = [piece.strip() for piece in SENTENCES.findall(text) if piece.strip()]
    if pieces and is_question(pieces[-1]):
        return pieces[-1]
    return None
