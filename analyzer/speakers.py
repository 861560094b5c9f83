"""Who is speaking: one side per channel for stereo calls, speaker names to roles for
transcripts, and for mono calls which of the voices `diarize` found is the rep.

A mono call's rep is the speaker whose voice matches the rep's voice profile: the mean of their
enrollment clips (`analyzer reps enroll`) and of the rep channel of their stereo calls. Without a
matching profile the role is guessed (see `guess_rep`) and the call says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from rapidfuzz import fuzz

from analyzer.records import ROLES, Utterance, Voice
from analyzer.sources import SAMPLE_RATE, Audio, floats

DEFAULT_CHANNEL_ROLES = ("rep", "customer")  # left, right
# Two channels whose difference carries less than this share of their energy are one mix
# copied twice (exported MP3s do this); lossy coding leaves a little difference, real
# two-leg recordings leave almost all of it.
DUAL_MONO_RESIDUAL = 0.05
# Crosstalk: each leg of a call also picks up the other party faintly (echo, headset bleed,
# codec leakage). Whisper normalizes loudness and transcribes that whisper too, so frames where
# a channel is this much quieter than the other are silenced before ASR.
CROSSTALK_MARGIN_DB = 15.0
CROSSTALK_FRAME_S = 0.02
CROSSTALK_HOLD_FRAMES = 5  # keep a channel open 100 ms around its own speech
BLOCK = 60 * SAMPLE_RATE  # samples worked on in float32 at once


@dataclass(frozen=True)
class Side:
    """Audio that belongs to one speaker role (or to everyone, for a mono mix), 16-bit as
    `load_audio` decodes it."""

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
    energy = difference = 0.0
    for start in range(0, len(left), BLOCK):  # in float32 a block at a time
        a, b = floats(left[start : start + BLOCK]), floats(right[start : start + BLOCK])
        energy += float(np.dot(a, a) + np.dot(b, b))
        a = a - b  # not in place: float input comes back as the caller's own array
        difference += float(np.dot(a, a))
    return energy == 0.0 or difference / energy < DUAL_MONO_RESIDUAL


def frame_levels_db(samples: np.ndarray, frame: int) -> np.ndarray:
    """Loudness of each `frame`-sample frame in dB (full scale = 0)."""
    count = len(samples) // frame
    energy = np.empty(count)
    step = BLOCK // frame
    for first in range(0, count, step):  # in float32 a block at a time
        last = min(first + step, count)
        frames = floats(samples[first * frame : last * frame]).reshape(last - first, frame)
        energy[first:last] = np.einsum("ij,ij->i", frames, frames) / frame
    return 10 * np.log10(energy + 1e-12)


def suppress_crosstalk(
    left: np.ndarray,
    right: np.ndarray,
    margin_db: float = CROSSTALK_MARGIN_DB,
    *,
    overwrite: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Silence each channel where the other one is much louder, i.e. where it only carries the
    other party's bleed. When both talk at once both stay, as they are both speech. With
    `overwrite`, the arrays given are gated in place (an hour of stereo is 460 MB a copy)."""
    frame = int(CROSSTALK_FRAME_S * SAMPLE_RATE)
    left_db, right_db = frame_levels_db(left, frame), frame_levels_db(right, frame)
    # Hold the gate open a little around kept frames so word edges are not clipped.
    kernel = np.ones(2 * CROSSTALK_HOLD_FRAMES + 1)
    gated = []
    for own, other, samples in ((left_db, right_db, left), (right_db, left_db, right)):
        keep = np.convolve((own >= other - margin_db).astype(float), kernel, "same") > 0
        out = samples if overwrite else samples.copy()
        out[: len(keep) * frame].reshape(len(keep), frame)[~keep] = 0.0
        gated.append(out)
    return gated[0], gated[1]


def split_sides(
    audio: Audio, channel_roles: tuple[str, str] = DEFAULT_CHANNEL_ROLES, *, overwrite=False
) -> list[Side]:
    """One Side per channel of a true stereo call (crosstalk removed); one `unknown` Side else.
    With `overwrite`, a stereo call's channels are gated in place: `audio` is not kept."""
    if len(audio.channels) == 2:
        left, right = audio.channels
        if not is_dual_mono(left, right):
            left, right = suppress_crosstalk(left, right, overwrite=overwrite)
            return [
                Side(role, role, channel)
                for role, channel in zip(channel_roles, (left, right), strict=True)
            ]
        mixed = (left >> 1) + (right >> 1)  # 16-bit halves: the sum cannot overflow
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


# A speaker is the rep when their voice is at least this close to the rep's profile (cosine of
# d-vectors) and closer than every other speaker of the call by PROFILE_MARGIN.
PROFILE_MIN = 0.75
PROFILE_MARGIN = 0.05
# How a rep names themself ("it's Priya", "Tom Becker here", "Elena from Lumen") and how the other
# side addresses them ("hi Priya", "thanks, Tom").
# The name itself must be written as a name (Whisper capitalizes names): "Will" and "Mark" are
# also words, and "a rep from Gong" must not make anyone the rep.
_SELF = (
    r"(?i:it's|it is|this is|i'm|i am|my name is|name's)\s+{name}\b"
    r"|\b{name}(?:\s+[A-Z]\w+)?,?\s+(?i:here|from)\b"
)
_ADDRESSED = r"\b(?i:hi|hey|hello|morning|thanks|thank you)[,!]?\s+{name}\b"


@dataclass(frozen=True)
class Profile:
    """A rep's voice: the mean d-vector over every sample of it, weighted by seconds."""

    name: str
    embedding: np.ndarray
    speech_s: float
    samples: int


def build_profiles(samples: Sequence[dict]) -> dict[str, Profile]:
    """Profiles from rows of (name, speech_s, embedding), as `Store.voice_samples` gives them."""
    grouped: dict[str, list[dict]] = {}
    for row in samples:
        grouped.setdefault(row["name"], []).append(row)
    profiles = {}
    for name, rows in grouped.items():
        weights = np.array([max(row["speech_s"], 1.0) for row in rows])
        vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        mean = (weights[:, None] * vectors).sum(axis=0)
        profiles[name] = Profile(name, mean / np.linalg.norm(mean), float(weights.sum()), len(rows))
    return profiles


def profile_for(rep: str | None, profiles: dict[str, Profile]) -> Profile | None:
    """The profile of the call's rep, by name ("Priya" finds "Priya Shah")."""
    return next((p for name, p in profiles.items() if rep and is_same_person(name, rep)), None)


def match_profile(centroids: np.ndarray, profile: Profile) -> int | None:
    """The speaker whose voice is the profile's, or None when none is clearly it."""
    similarity = centroids @ profile.embedding
    best = int(np.argmax(similarity))
    others = np.delete(similarity, best)
    if similarity[best] < PROFILE_MIN or (
        others.size and similarity[best] - others.max() < PROFILE_MARGIN
    ):
        return None
    return best


def guess_rep(texts: Sequence[str], rep: str | None, opener: int = 0) -> int:
    """Which speaker (by order of first appearance) is the rep, from what they say: the one who
    introduces themself by the rep's first name; else, when one speaker greets the rep by name
    and there are two, the other one; else `opener`, who opened the call (reps open
    theirs; `diarize.opener`)."""
    if rep:
        name = re.escape(rep.split()[0])
        introduces = [i for i, text in enumerate(texts) if re.search(_SELF.format(name=name), text)]
        if len(introduces) == 1:
            return introduces[0]
        greets = [
            i for i, text in enumerate(texts) if re.search(_ADDRESSED.format(name=name), text)
        ]
        if len(texts) == 2 and len(greets) == 1:
            return 1 - greets[0]
    return opener


def name_speakers(
    centroids: np.ndarray,
    talk_s: Sequence[float],
    texts: Sequence[str],
    rep: str | None,
    profiles: dict[str, Profile],
    opener: int = 0,
) -> tuple[list[Voice], str | None]:
    """Name and role per speaker of a mono call (in order of first appearance), and how the
    roles were decided (a ROLES_FROM key, or None when they stay unknown).

    Only the call's own rep is looked for: matching every enrolled voice against every speaker
    would, with many reps enrolled, sooner or later call a customer by a rep's name."""
    count = len(centroids)
    profile = profile_for(rep, profiles)
    rep_index = match_profile(centroids, profile) if profile else None
    if rep_index is not None:
        roles_from = "voice profile"
    elif count >= 2:
        rep_index, roles_from = guess_rep(texts, rep, opener), "guessed"
    else:
        roles_from = None  # one voice, and nothing says whose
    voices = []
    for i in range(count):
        if i == rep_index:
            name, role = rep or f"Speaker {i + 1}", "rep"
        else:
            name, role = f"Speaker {i + 1}", "customer" if rep_index is not None else "unknown"
        embedding = tuple(float(x) for x in centroids[i])
        voices.append(Voice(name, role, float(talk_s[i]), embedding))
    return voices, roles_from
