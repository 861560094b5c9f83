"""Bleed: words one channel of a stereo call heard from the other.

Each leg of a two-channel recording also carries the other party faintly (echo, headset bleed,
codec leakage). `speakers.suppress_crosstalk` silences the frames where the other channel is far
louder, but bleed that is loud enough passes that gate, and Whisper, which evens out loudness,
transcribes it: the rep's sentence appears a second time, as the customer's, and its topics
with it. A copy is the same words at the same moment on both channels; the channel on which
they are quieter heard them second-hand, and loses them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer.records import Word
from analyzer.sources import SAMPLE_RATE
from analyzer.speakers import frame_levels_db

# A copied word starts within this of the word it copies (the two transcriptions of one
# sound are timed a little differently).
MAX_SHIFT_S = 0.6
# This many words in a row must match: two people do say "yeah, right" at the same moment.
MIN_RUN = 3
# Unmatched words tolerated inside a run (one side heard "sales force", the other "Salesforce").
MAX_GAP = 1
LEVEL_FRAME_S = 0.02
_NORMAL = re.compile(r"[^a-z0-9']+")


@dataclass(frozen=True)
class Copy:
    """A run of words on `copy_side` that repeat words of the other side at the same time."""

    copy_side: int
    start_s: float
    end_s: float
    words: int


def _norm(word: Word) -> str:
    return _NORMAL.sub("", word.text.lower())


def matches(words: Sequence[Word], others: Sequence[Word]) -> list[int | None]:
    """For each word, the index of a word of `others` with the same text at the same time."""
    starts = np.array([w.start_s for w in others])
    texts = [_norm(w) for w in others]
    found: list[int | None] = []
    for word in words:
        text = _norm(word)
        first = int(np.searchsorted(starts, word.start_s - MAX_SHIFT_S))
        last = int(np.searchsorted(starts, word.start_s + MAX_SHIFT_S, side="right"))
        found.append(next((j for j in range(first, last) if text and texts[j] == text), None))
    return found


def _runs(sides: list[int | None]) -> list[tuple[int, int]]:
    """(first, last) index ranges of matched words whose copy is on the same side (`sides`:
    per word, the quieter side of its match, or None), MIN_RUN or more of them, allowing
    MAX_GAP unmatched words inside. A change of side ends a run: one channel can carry its own
    words and, right after, its copy of the other's."""
    runs: list[tuple[int, int]] = []
    current: list[int] = []  # the matched words of the run being read
    for i, quieter in enumerate([*sides, None]):
        ends = i == len(sides) or (current and (
            (quieter is None and i - current[-1] > MAX_GAP)
            or (quieter is not None and quieter != sides[current[0]])
        ))  # fmt: skip
        if ends:
            if len(current) >= MIN_RUN:
                runs.append((current[0], current[-1]))
            current = []
        if i < len(sides) and quieter is not None:
            current.append(i)
    return runs


def find_copies(
    left: Sequence[Word], right: Sequence[Word], left_db: np.ndarray, right_db: np.ndarray
) -> list[Copy]:
    """Runs of words said on both channels at once; each word is the copy on the channel where
    it is quieter (levels: dB per LEVEL_FRAME_S frame, as `frame_levels_db` gives). A Copy spans
    the copied words on its own channel."""
    partners = matches(left, right)
    sides: list[int | None] = []
    for word, partner in zip(left, partners, strict=True):
        if partner is None:
            sides.append(None)
            continue
        frames = _frames(min(word.start_s, right[partner].start_s),
                         max(word.end_s, right[partner].end_s))  # fmt: skip
        sides.append(0 if _loudness(left_db[frames]) < _loudness(right_db[frames]) else 1)
    copies = []
    for first, last in _runs(sides):
        pairs = [(i, partners[i]) for i in range(first, last + 1) if partners[i] is not None]
        side = sides[first]
        copied = [left[i] if side == 0 else right[j] for i, j in pairs]
        copies.append(Copy(side, copied[0].start_s, copied[-1].end_s, len(pairs)))
    return copies


def _frames(start_s: float, end_s: float) -> slice:
    return slice(int(start_s / LEVEL_FRAME_S), int(end_s / LEVEL_FRAME_S) + 1)


def _loudness(levels_db: np.ndarray) -> float:
    """The level of a stretch: its loud frames (a word's syllables), not its pauses."""
    return float(np.percentile(levels_db, 90)) if levels_db.size else -120.0


def drop_bleed(
    words: Sequence[Sequence[Word]], channels: Sequence[np.ndarray]
) -> tuple[list[list[Word]], list[Copy]]:
    """Both sides' words without what each side copied from the other; and the copies."""
    if len(words) != 2:
        return [list(w) for w in words], []
    frame = int(LEVEL_FRAME_S * SAMPLE_RATE)
    left_db, right_db = (frame_levels_db(samples, frame) for samples in channels)
    copies = find_copies(words[0], words[1], left_db, right_db)
    kept = []
    for side, side_words in enumerate(words):
        spans = [(c.start_s, c.end_s) for c in copies if c.copy_side == side]
        kept.append([w for w in side_words if not _inside(w, spans)])
    return kept, copies


def _inside(word: Word, spans: Sequence[tuple[float, float]]) -> bool:
    """Whether the word's middle falls inside one of the spans."""
    middle = (word.start_s + word.end_s) / 2
    return any(start <= middle <= end for start, end in spans)
