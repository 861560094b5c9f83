"""Who is speaking: one side per channel for stereo calls, speaker names to roles for transcripts.

Mono diarization comes later; until then a mono recording's speech has role `unknown`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz

from analyzer.records import ROLES, Utterance
from analyzer.sources import Audio

DEFAULT_CHANNEL_ROLES = ("rep", "customer")  # left, right
# Two channels whose difference carries less than this share of their energy are one mix
# copied twice (exported MP3s do this); lossy coding leaves a little difference, real
# two-leg recordings leave almost all of it.
DUAL_MONO_RESIDUAL = 0.05


@dataclass(frozen=True)
class Side:
    """Audio that belongs to one speaker role (or to everyone, for a mono mix)."""

    role: str
    speaker: str
    samples: np.ndarray


def parse_channel_roles(text: str) -> tuple[str, str]:
    """'rep,customer' -> ('rep', 'customer'): the role of the left and the right channel."""
    roles = tuple(part.strip().lower() for part in text.split(","))
    if len(roles) != 2 or any(role not in ROLES for role in roles):
        raise ValueError(f"channel roles must be two of {ROLES} separated by a comma, got '{text}'")
    return roles  # type: ignore[return-value]


def is_dual_mono(left: np.ndarray, right: np.ndarray) -> bool:
    """True when both channels carry the same audio, so the file is really mono."""
    energy = float(np.dot(left, left) + np.dot(right, right))
    if energy == 0.0:
        return True
    difference = left - right
    return float(np.dot(difference, difference)) / energy < DUAL_MONO_RESIDUAL


def split_sides(audio: Audio, channel_roles: tuple[str, str] = DEFAULT_CHANNEL_ROLES) -> list[Side]:
    """One Side per channel of a true stereo call; a single `unknown` Side otherwise."""
    if len(audio.channels) == 2:
        left, right = audio.channels
        if not is_dual_mono(left, right):
            return [
                Side(role, role, channel)
                for role, channel in zip(channel_roles, (left, right), strict=True)
            ]
        mixed = (left + right) / 2
    else:
        mixed = audio.channels[0]
    return [Side("unknown", "unknown", mixed)]


def is_same_person(speaker: str, rep: str) -> bool:
    """'Priya', 'priya shah' and 'Priya Shah (Acme)' all name the rep 'Priya Shah'."""
    speaker_tokens = speaker.lower().replace("(", " ").replace(")", " ").split()
    rep_tokens = rep.lower().split()
    if not speaker_tokens or not rep_tokens:
        return False
    if speaker_tokens[0] == rep_tokens[0] and len(speaker_tokens) == 1:
        return True
    return fuzz.token_set_ratio(speaker.lower(), rep.lower()) >= 90


def assign_roles(utterances: list[Utterance], rep: str | None) -> list[Utterance]:
    """Roles for a transcript's named speakers: the rep's name -> rep, every other name -> customer.

    Roles already given (our JSON may carry them) are kept. Without a rep name, or when no speaker
    matches it, roles stay `unknown`: guessing would put words in the wrong mouth.
    """
    if rep is None:
        return utterances
    speakers = {u.speaker for u in utterances if u.speaker != "unknown"}
    rep_speakers = {speaker for speaker in speakers if is_same_person(speaker, rep)}
    if not rep_speakers:
        return utterances
    assigned = []
    for utterance in utterances:
        role = utterance.role
        if role == "unknown" and utterance.speaker != "unknown":
            role = "rep" if utterance.speaker in rep_speakers else "customer"
        assigned.append(replace(utterance, role=role))
    return assigned
