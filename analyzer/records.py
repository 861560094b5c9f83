"""The plain records that cross stage boundaries (see DESIGN.md's data flow)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # metrics imports records; the annotation alone needs no import at run time
    from analyzer.metrics import CallMetrics

ROLES = ("rep", "customer", "unknown")
CALL_TYPES = ("sales", "cs")


@dataclass(frozen=True)
class Word:
    start_s: float
    end_s: float
    text: str  # as Whisper emits it, usually with a leading space
    probability: float = 1.0


@dataclass(frozen=True)
class Utterance:
    speaker: str
    role: str
    start_s: float
    end_s: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Voice:
    """One speaker's voice in a call: the mean Resemblyzer d-vector over their speech."""

    speaker: str  # as in the utterances: the rep's name, "Speaker 2", ...
    role: str
    talk_s: float
    embedding: tuple[float, ...]


# How a call's roles were decided (calls.roles_from).
ROLES_FROM = {
    "channels": "one channel per side",
    "names": "speaker names in the transcript",
    "voice profile": "the rep's voice profile",
    "guessed": "guessed: no voice profile matched",
}


@dataclass(frozen=True)
class Transcript:
    """Utterances in time order, plus how they were obtained."""

    utterances: tuple[Utterance, ...]
    duration_s: float
    source_kind: str  # "audio" or the transcript format ("vtt", "srt", "json")
    language: str = "en"
    asr_model: str | None = None
    channels: int = 1  # sides transcribed separately (2 for a true stereo call)
    roles_from: str | None = None  # a ROLES_FROM key; None while roles are unknown
    voices: tuple[Voice, ...] = ()


@dataclass(frozen=True)
class CallMeta:
    """What the user tells us about a call (flags or a manifest row)."""

    call_id: str | None = None
    rep: str | None = None
    account: str | None = None
    call_type: str | None = None
    call_date: dt.date | None = None
    title: str | None = None


@dataclass(frozen=True)
class CallContext:
    """What tagging knows about a call beyond its words (docs/topics.md: churn signals come only
    from existing customers)."""

    call_type: str | None = None  # "sales", "cs" or unknown
    existing_customer: bool | None = None  # None: unknown, judged by the words alone
    thresholds: tuple[tuple[str, float], ...] = ()  # (category, probability): the team's


@dataclass(frozen=True)
class Mention:
    utterance_idx: int
    category: str
    tracker: str
    term: str
    start_s: float
    end_s: float
    snippet: str
    score: float = 1.0  # raw: 1.0 for a phrase, name similarity, a smart head's probability
    method: str = "keyword"
    probability: float | None = None  # calibrated (analyzer/calibration.py); None: not judged


@dataclass(frozen=True)
class CallRecord:
    """One ingested call, ready for the store: everything is computed before the write begins."""

    call_id: str
    source_path: str
    content_sha256: str
    meta: CallMeta
    transcript: Transcript | None = None
    mentions: tuple[Mention, ...] = ()
    metrics: CallMetrics | None = None
    status: str = "ok"  # or "failed"
    error: str | None = None
