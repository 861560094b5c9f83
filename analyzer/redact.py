"""PII redaction, opt-in per database: emails, phone numbers, payment card numbers (Luhn-checked)
and US social security numbers are masked in transcripts before anything is stored.

Whisper writes identifiers both as text ("jane.doe@acme.com", "(415) 555-0134") and as they were
said ("jane dot doe at acme dot com", "four one five, five five five, zero one three four"), so
numbers are read from digits and digit words alike. A run of digits is classified by its shape:
13-19 digits passing the Luhn check are a card; 3-2-4 groups (or 9 digits after "social
security") an SSN; phone shapes (3-3-4, 1-3-3-4, 3-4, a leading "+", 3+ short groups) a phone, with
any extension. Other numbers - prices, years, order and invoice numbers - are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from analyzer.records import Transcript, Utterance, Word
from analyzer.sources import floats

MASKS = {"email": "[email]", "phone": "[phone]", "card": "[card]", "ssn": "[ssn]"}
BEEP_HZ = 1000.0
BEEP_LEVEL = 0.2  # about -14 dBFS: clearly a beep, not painful
BEEP_PAD_S = 0.15  # word timings are approximate: cover a little either side
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_TLDS = r"(?:com|org|net|io|co|edu|gov|ai|us|uk|de|fr|ca|au|in|biz|info|me|app|dev|tech)"
_WRITTEN_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
_PART = r"[a-z0-9]+(?:\s*(?:\.|_|-|\bdot\b|\bunderscore\b|\bdash\b|\bhyphen\b)\s*[a-z0-9]+)*"
_SPOKEN_EMAIL = re.compile(
    rf"(?<![\w'])(?:[a-z]\s+)?(?<![\w']){_PART}\s+at\s+{_PART}\s*(?:\.|\bdot\b)\s*{_TLDS}\b",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"\d+|[a-z]+|\+|[(),.\-/]|\s+|\S", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*,?\s*(?:ext\.?|extension|x)\s*(\d{1,5})\b", re.IGNORECASE)
_SSN_CONTEXT = re.compile(r"social\s+security|\bssn\b|\bsocial\b", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _digit_runs(text: str):
    """(start, end, digits, group lengths, has_plus) for each run of digits and digit words."""
    runs = []
    groups: list[str] = []
    start = end = None
    plus = False
    previous = None  # "num" or "word": what the last digit token was

    def close():
        nonlocal groups, start, end, plus, previous
        if groups:
            runs.append((start, end, "".join(groups), [len(g) for g in groups], plus))
        groups, start, end, plus, previous = [], None, None, False, None

    for match in _TOKEN.finditer(text):
        token, lower = match.group(), match.group().lower()
        if token.isdigit() or lower in DIGIT_WORDS:
            kind = "num" if token.isdigit() else "word"
            digits = token if token.isdigit() else DIGIT_WORDS[lower]
            if lower in ("o", "oh") and previous is None:
                continue  # "oh" starts no number
            if groups and previous == kind == "word":
                groups[-1] += digits  # spoken digits run together until a comma or pause
            else:
                groups.append(digits)
            start = match.start() if start is None else start
            end, previous = match.end(), kind
        elif token.isspace() or token in "(),.-/":
            if token in ",.-/" and previous == "word":
                previous = "sep"  # "four one five, five..." - the comma closes a group
            if token.isspace() and len(token) > 2:
                close()
        elif token == "+" or lower == "plus":
            close()
            plus, start, end = True, match.start(), match.end()
        else:
            close()
    close()
    return runs


def _kind_of(text: str, start: int, digits: str, groups: list[int], plus: bool) -> str | None:
    count = len(digits)
    if 13 <= count <= 19 and luhn(digits):
        return "card"
    if groups == [3, 2, 4] or (
        count == 9 and _SSN_CONTEXT.search(text[max(0, start - 40) : start])
    ):
        return "ssn"
    if plus and 8 <= count <= 15:
        return "phone"
    if groups in ([3, 3, 4], [1, 3, 3, 4], [3, 4], [3, 7], [10], [7]) or (
        groups == [11] and digits[0] == "1"
    ):
        return "phone"
    if len(groups) >= 3 and all(1 <= size <= 4 for size in groups) and 10 <= count <= 13:
        years = all(_YEAR.fullmatch(part) for part in _split(digits, groups))
        return None if years else "phone"
    return None


def _split(digits: str, groups: list[int]) -> list[str]:
    parts, at = [], 0
    for size in groups:
        parts.append(digits[at : at + size])
        at += size
    return parts


def find(text: str) -> list[Span]:
    """Every identifier in `text`, as non-overlapping character spans in order."""
    spans = [Span(m.start(), m.end(), "email") for m in _WRITTEN_EMAIL.finditer(text)]
    spans += [Span(m.start(), m.end(), "email") for m in _SPOKEN_EMAIL.finditer(text)]
    for start, end, digits, groups, plus in _digit_runs(text):
        kind = _kind_of(text, start, digits, groups, plus)
        if kind == "phone" and (extension := _EXTENSION.match(text, end)):
            end = extension.end()
        if kind and start > 0 and text[start - 1] == "(":
            start -= 1  # "(415) 555-0134"
        if kind:
            spans.append(Span(start, end, kind))
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in spans:
        if merged and span.start < merged[-1].end:
            if span.end > merged[-1].end:
                merged[-1] = replace(merged[-1], end=span.end)
            continue
        merged.append(span)
    return merged


def redact_text(text: str) -> str:
    for span in reversed(find(text)):
        text = text[: span.start] + MASKS[span.kind] + text[span.end :]
    return text


def redact_words(words: tuple[Word, ...], spans: list[Span]) -> tuple[Word, ...]:
    """The words that overlap one identifier (words are Whisper tokens whose joined text, less
    leading space, is the utterance text) become one word showing its mask, timed from the
    first to the last: where the audio beeps, and what speaker separation regroups."""
    if not spans or not words:
        return words
    offset = -(len(words[0].text) - len(words[0].text.lstrip()))
    masked: list[Word] = []
    previous = None
    for word in words:
        begin, offset = offset, offset + len(word.text)
        hit = next((s for s in spans if s.start < offset and begin < s.end), None)
        if hit is None:
            masked.append(word)
        elif hit is previous:
            masked[-1] = replace(masked[-1], end_s=word.end_s)
        else:
            masked.append(replace(word, text=" " + MASKS[hit.kind]))
        previous = hit
    return tuple(masked)


def redact_utterance(utterance: Utterance) -> Utterance:
    spans = find(utterance.text)
    if not spans:
        return utterance
    return replace(
        utterance,
        text=redact_text(utterance.text),
        words=redact_words(utterance.words, spans),
    )


def redact_transcript(transcript: Transcript) -> Transcript:
    return replace(transcript, utterances=tuple(redact_utterance(u) for u in transcript.utterances))


def masked_spans(words: Iterable[Word], pad_s: float = BEEP_PAD_S):
    """(start_s, end_s) of every masked word, padded and merged: where the audio must beep."""
    masks = set(MASKS.values())
    spans = sorted(
        (max(0.0, w.start_s - pad_s), w.end_s + pad_s) for w in words if w.text.strip() in masks
    )
    merged: list[tuple[float, float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def beep(samples: np.ndarray, rate: int, spans: Sequence[tuple[float, float]]) -> np.ndarray:
    """A copy of `samples` (one channel) with a tone in place of the audio in each span."""
    out = floats(samples).copy()  # float32 samples would otherwise come back as they are
    for start, end in spans:
        first, last = int(start * rate), min(len(out), int(end * rate))
        if last > first:
            t = np.arange(last - first, dtype=np.float32) / rate
            out[first:last] = BEEP_LEVEL * np.sin(2 * np.pi * BEEP_HZ * t)
    return out
