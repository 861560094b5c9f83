"""Mono calls: share of speech time given to the right role, and what speaker separation costs
next to transcription, on synthesized two-speaker calls with known turns.

Each call is one of the sample corpus's scripts spoken by two Piper voices (one voice shifted in
pitch), mixed to one channel, under each condition:
- distinct: the customer 350 cents from the rep;
- similar voices: 120 cents apart (the same voice, a little higher);
- phone band: distinct voices through a 300-3400 Hz, 8 kHz mu-law line;
- light noise: distinct voices with background noise at 20 dB SNR;
- all three: similar voices, phone band and noise together.
The rep is enrolled from a separate 20 s clip of their voice (other words), as
`analyzer reps enroll` does; "guessed" is the same call with no profile (the fallback).

Accuracy: every 20 ms frame with speech on a speaker's own clean channel counts as right when
an utterance covering it (give or take 0.1 s) has that speaker's role; speech no utterance covers
(ASR missed it) counts as wrong. Cost: seconds of
`label_mono` (embeddings, clustering, word labels, naming) over seconds of transcription of the
same audio, measured one after the other in this run.

    pip install -e '.[test]' && python -m bench.diarization [--calls 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from analyzer.diarize import label_mono, load_encoder, voice_of
from analyzer.records import Transcript
from analyzer.speakers import Profile, Side, frame_levels_db
from analyzer.synth import PHONE_RATE, RATE, add_noise, speak, synthesize_call, telephone
from analyzer.transcribe import load_model, transcribe

ROOT = Path(__file__).resolve().parents[1]
REP = "Jordan Avery"  # a name that is no common word (see speakers.guess_rep)
ENROLL_TEXT = (
    "Hi, this is a short recording for my voice profile. I usually talk to customers about "
    "their reporting, their pipeline and how their team runs its weekly forecast. Most of my "
    "calls are with sales leaders and operations managers, and I like to ask a lot of questions "
    "before I show anything."
)
CONDITIONS = {
    "distinct": dict(delta=350, phone=False, snr=None),
    "similar voices": dict(delta=120, phone=False, snr=None),
    "phone band": dict(delta=350, phone=True, snr=None),
    "light noise": dict(delta=350, phone=False, snr=20.0),
    "all three": dict(delta=120, phone=True, snr=20.0),
}
REP_CENTS = (0, -150, 150, 300, -300, 50)  # one rep voice per script


def condition_audio(samples: np.ndarray, phone: bool, snr: float | None, seed: int) -> np.ndarray:
    if phone:
        narrow = telephone(samples)
        samples = np.interp(
            np.arange(0, len(narrow), PHONE_RATE / RATE), np.arange(len(narrow)), narrow
        ).astype(np.float32)
    if snr is not None:
        samples = add_noise(samples, snr, seed)
    return samples


def true_speech(stereo: np.ndarray, truth: list[tuple]) -> list[tuple[float, str]]:
    """(time, role) for every 20 ms frame in which a speaker's own clean channel has speech:
    the synthesized turns include Piper's silences at their edges, which are nobody's speech."""
    frame = int(0.02 * RATE)
    frames = []
    for channel, role in ((0, "rep"), (1, "customer")):
        levels = frame_levels_db(stereo[:, channel], frame)
        active = levels > max(-50.0, float(np.percentile(levels, 95)) - 30)
        frames += [((i + 0.5) * 0.02, role) for i in np.flatnonzero(active)]
    return frames


def right_share(transcript: Transcript, frames: list[tuple[float, str]]) -> tuple[float, float]:
    """Share of speech frames whose covering utterance has the speaker's role: of all speech,
    and of the speech the ASR transcribed (that any utterance covers)."""
    starts = np.array([u.start_s for u in transcript.utterances]) - 0.1
    ends = np.array([u.end_s for u in transcript.utterances]) + 0.1
    roles = np.array([u.role for u in transcript.utterances])
    right = covered = 0
    for t, role in frames:
        inside = (starts <= t) & (t <= ends)
        covered += bool(inside.any())
        right += bool(np.any(inside & (roles == role)))
    return right / len(frames), right / max(covered, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4, help="scripts per condition (max 24)")
    args = parser.parse_args()
    scripts = sorted((ROOT / "sample_calls" / "scripts").glob("*.yaml"))[:: 24 // args.calls]
    load_model()
    load_encoder()
    results: dict[str, list[tuple]] = {name: [] for name in CONDITIONS}
    for number, path in enumerate(scripts[: args.calls]):
        script = yaml.safe_load(path.read_text(encoding="utf-8"))
        turns = [(t["who"], t["text"], bool(t.get("overlap"))) for t in script["turns"]]
        rep_cents = REP_CENTS[number % len(REP_CENTS)]
        for name, condition in CONDITIONS.items():
            customer_cents = rep_cents + condition["delta"] * (1 if number % 2 == 0 else -1)
            stereo, truth = synthesize_call(
                turns, rep_cents=rep_cents, customer_cents=customer_cents, tempo=1.15, seed=number
            )
            phone, snr = condition["phone"], condition["snr"]
            mono = condition_audio(stereo.mean(axis=1), phone, snr, number)
            # The enrollment clip was recorded on the same kind of line, without the noise.
            clip = condition_audio(speak(ENROLL_TEXT, rep_cents, 1.15), phone, None, 0)
            embedding, seconds = voice_of(clip)
            profiles = {REP: Profile(REP, embedding, seconds, 1)}
            started = time.perf_counter()
            plain = transcribe([Side("unknown", "unknown", mono)], len(mono) / RATE)
            asr_s = time.perf_counter() - started
            started = time.perf_counter()
            enrolled = label_mono(plain, mono, REP, profiles)
            diarize_s = time.perf_counter() - started
            guessed = label_mono(plain, mono, REP, {})
            frames = true_speech(stereo, truth)
            (right, right_heard), (right_guessed, _) = (
                right_share(enrolled, frames),
                right_share(guessed, frames),
            )
            row = (right, right_heard, right_guessed, diarize_s / asr_s, len(enrolled.voices))
            results[name].append(row)
            print(
                f"{script['call_id']:13s} {name:15s} rep {rep_cents:+d} cust {customer_cents:+d}: "
                f"right {right:.1%} of all speech, {right_heard:.1%} of transcribed speech, "
                f"guessed {right_guessed:.1%}; {len(enrolled.voices)} speakers, roles from "
                f"{enrolled.roles_from}; cost {diarize_s:.2f} s / ASR {asr_s:.2f} s",
                flush=True,
            )
    print(
        "\n| condition | calls | right role, of all speech (worst call) | right role, of "
        "transcribed speech (worst) | fallback, no profile | speakers found | cost / ASR |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        right, heard, guessed, cost, speakers = (np.array([r[i] for r in rows]) for i in range(5))
        print(
            f"| {name} | {len(rows)} | {right.mean():.1%} ({right.min():.1%}) | "
            f"{heard.mean():.1%} ({heard.min():.1%}) | {guessed.mean():.1%} | "
            f"{', '.join(map(str, speakers))} | {cost.mean():.1%} |"
        )


if __name__ == "__main__":
    main()
