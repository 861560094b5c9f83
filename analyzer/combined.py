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

from analyzer.embeddings import load_embedder
from analyzer.errors import AnalyzerError
from analyzer.metrics import is_question
from analyzer.records import Mention, Utterance
from analyzer.smart import Sentence, SmartTagger
from analyzer.smart import load as load_smart_trackers
from analyzer.tagging import KeywordTagger, Rejected, said_by_allows

logger = logging.getLogger(__name__)

REPLY_MAX_WORDS = 6
REPLY_OPENERS = frozenset(
    "yes yeah yep yup yah exactly definitely absolutely totally correct sure constantly always "
    "100 honestly".split()
)
REPLY_PHRASES = ("that too", "all the time", "for sure", "big time", "very much", "of course")
REPLY_LEAD_INS = frozenset("oh um uh well ah and so".split())
REPLY_NEGATIVES = frozenset("no nope nah not never n't don't didn't isn't wasn't".split())
SNIPPET_CHARS = 240
_WORDS = re.compile(r"[a-z0-9']+")


def load_smart_tagger() -> SmartTagger | None:
    """The trained smart trackers with the embedding model (loaded once per process), or None
    when none are trained or the embedding packages are missing: keywords alone then."""
    trackers = load_smart_trackers()
    if not trackers:
        return None
    try:
        return SmartTagger(trackers, load_embedder())
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

    def tag(self, utterances: Sequence[Utterance]) -> list[Mention]:
        """Mentions for all utterances, ordered by utterance and time."""
        found, rejected = self.keyword.analyze(utterances)
        if self.smart is not None:
            found += self._semantic(utterances, found, rejected)
        found = self._one_per_topic(found)
        found += self._replies(utterances, found)
        return sorted(found, key=lambda m: (m.utterance_idx, m.start_s, m.category))

    def _semantic(
        self, utterances: Sequence[Utterance], keyword: list[Mention], rejected: list[Rejected]
    ) -> list[Mention]:
        have = {(m.utterance_idx, m.category) for m in keyword}

        def veto(sentence: Sentence, category: str) -> bool:
            return (sentence.utterance_idx, category) in have or any(
                _inside(r, sentence) for r in rejected if r.category == category
            )

        return self.smart.tag(utterances, veto)

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

    def _smart_said_by(self, category: str) -> str:
        trackers = self.smart.trackers if self.smart else []
        return next((t.said_by for t in trackers if t.category == category), "anyone")


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
    pieces = [piece.strip() for piece in re.findall(r"[^.?!]+[.?!]*", text) if piece.strip()]
    if pieces and is_question(pieces[-1]):
        return pieces[-1]
    return None
