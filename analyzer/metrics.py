"""Conversation metrics for coaching, per call and side, from utterance timings and text.

Definitions (after Gong's published ones where they exist):
- talk time: seconds a side is speaking (utterance spans merged, so silence is excluded);
  talk ratio: a side's share of all talk time.
- longest monologue (rep): the longest stretch of rep speech that customer interjections shorter
  than MONOLOGUE_BREAK_S ("yeah", "mm-hmm") do not break; a pause over MAX_PAUSE_S ends it.
- longest customer story: the same for the customer, with rep interjections under STORY_BREAK_S.
- questions: sentences that ask (a question mark, or a question shape: "what/how/why...",
  "do/can/is you..."), per call and per hour of call.
- interactivity: changes of speaker per minute of call.
- patience: mean pause (seconds) before the rep speaks after the customer stops.
- speech rate: words per minute of a side's talk time; fillers ("um", "you know", ...) per
  minute of a side's talk time.
Calls whose speakers' roles are unknown (one voice and no profile, or separation turned off) get
no metrics rather than guesses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.records import Utterance

SIDES = ("rep", "customer")
MONOLOGUE_BREAK_S = 2.0
STORY_BREAK_S = 3.0
MAX_PAUSE_S = 5.0
WH_WORDS = frozenset("what how why when where who which whom whose".split())
INVERTING_AUX = frozenset(
    "do does did can could will would should shall is are was were have has had may might".split()
)
LEAD_INS = frozenset("and so but okay ok well um uh oh then also".split())
SUBJECT_PRONOUNS = frozenset("you we they i it he she there".split())
FILLERS = re.compile(
    r"\b(?:um+|uh+|uhm|erm|er|ah|hmm+|mm+|you know|i mean|sort of|kind of|basically|literally)\b"
    r"|(?:(?<=, )|^)like(?=,)",
    re.IGNORECASE,
)
SENTENCES = re.compile(r"[^.?!]+[.?!]*")


@dataclass(frozen=True)
class SideMetrics:
    role: str
    talk_s: float
    talk_ratio: float
    longest_stretch_s: float  # monologue for the rep, story for the customer
    questions: int
    questions_per_hour: float
    words: int
    words_per_minute: float
    fillers: int
    fillers_per_minute: float


@dataclass(frozen=True)
class CallMetrics:
    sides: tuple[SideMetrics, ...]
    speaker_switches_per_minute: float
    patience_s: float | None  # None when the customer never hands over to the rep

    def side(self, role: str) -> SideMetrics:
        return next(side for side in self.sides if side.role == role)


def is_question(sentence: str) -> bool:
    """A question mark, or the shape of a question ("what do you use", "do you record calls")."""
    sentence = sentence.strip()
    if sentence.endswith("?"):
        return True
    words = re.findall(r"[a-z']+", sentence.lower())
    while words and words[0] in LEAD_INS:
        words = words[1:]
    if len(words) < 3:
        return False
    if (
        words[0] in WH_WORDS
        and words[1] not in SUBJECT_PRONOUNS
        and any(
            words[i] in INVERTING_AUX | {"'s"} and words[i - 1] not in SUBJECT_PRONOUNS
            for i in range(1, min(4, len(words)))
        )
    ):
        return True  # "what is", "how big is the team" (but not "what we do is ...")
    inverted = any(  # an auxiliary before its subject: "what tools do you", "do you record"
        words[i] in INVERTING_AUX and words[i + 1] in SUBJECT_PRONOUNS
        for i in range(min(4, len(words) - 1))
    )
    return inverted and (words[0] in WH_WORDS or words[0] in INVERTING_AUX)


def count_questions(text: str) -> int:
    return sum(is_question(sentence) for sentence in SENTENCES.findall(text))


def _merged_spans(utterances: Sequence[Utterance]) -> list[tuple[float, float]]:
    spans = sorted((u.start_s, u.end_s) for u in utterances)
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def talk_seconds(utterances: Sequence[Utterance]) -> float:
    return sum(end - start for start, end in _merged_spans(utterances))


def longest_stretch(utterances: Sequence[Utterance], role: str, break_s: float) -> float:
    """Longest run of `role` speech not broken by the other side speaking `break_s` or longer
    (or by a silence over MAX_PAUSE_S)."""
    best = 0.0
    start = end = None
    for utterance in sorted(utterances, key=lambda u: u.start_s):
        if utterance.role == role:
            if start is None or utterance.start_s - end > MAX_PAUSE_S:
                start = utterance.start_s
            end = max(end or utterance.end_s, utterance.end_s)
            best = max(best, end - start)
        elif start is not None and utterance.end_s - utterance.start_s >= break_s:
            start = end = None
    return round(best, 2)


def compute(utterances: Sequence[Utterance], duration_s: float) -> CallMetrics | None:
    """Metrics for one call, or None when its speakers' roles are not known."""
    if not utterances or any(u.role not in SIDES for u in utterances):
        return None
    ordered = sorted(utterances, key=lambda u: u.start_s)
    talk = {role: talk_seconds([u for u in ordered if u.role == role]) for role in SIDES}
    total_talk = sum(talk.values()) or 1.0
    hours = max(duration_s, 1.0) / 3600
    sides = []
    for role in SIDES:
        mine = [u for u in ordered if u.role == role]
        text = " ".join(u.text for u in mine)
        words = len(text.split())
        fillers = len(FILLERS.findall(text))
        questions = sum(count_questions(u.text) for u in mine)
        minutes = talk[role] / 60
        break_s = MONOLOGUE_BREAK_S if role == "rep" else STORY_BREAK_S
        sides.append(
            SideMetrics(
                role=role,
                talk_s=round(talk[role], 2),
                talk_ratio=round(talk[role] / total_talk, 3),
                longest_stretch_s=longest_stretch(ordered, role, break_s),
                questions=questions,
                questions_per_hour=round(questions / hours, 1),
                words=words,
                words_per_minute=round(words / minutes, 1) if minutes else 0.0,
                fillers=fillers,
                fillers_per_minute=round(fillers / minutes, 2) if minutes else 0.0,
            )
        )
    switches = sum(1 for a, b in zip(ordered, ordered[1:], strict=False) if a.role != b.role)
    pauses = [
        max(0.0, b.start_s - a.end_s)
        for a, b in zip(ordered, ordered[1:], strict=False)
        if a.role == "customer" and b.role == "rep"
    ]
    return CallMetrics(
        sides=tuple(sides),
        speaker_switches_per_minute=round(switches / max(duration_s / 60, 1 / 60), 2),
        patience_s=round(sum(pauses) / len(pauses), 2) if pauses else None,
    )
