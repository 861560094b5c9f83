"""Bleed on stereo calls: utterances that repeat the other channel's words, before and after.

    python -m bench.bleed [FILE ...]

Each two-channel recording is split and gated as ingest does, each side transcribed (bundled
tiny.en, vocabulary prompt), and the sides' utterances compared before and after
`analyzer.bleed.drop_bleed`: an utterance is a duplicate when at least half of its words (and
three or more) are said on the other channel at the same time (the original and its copy both
count). For sample calls the gold turns say who really spoke: a dropped run is right when the
other side was speaking then. Defaults to the stereo sample calls and, when `../shared` is
beside the checkout, the public dual-channel call.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analyzer.bleed import drop_bleed, matches
from analyzer.evaluate import read_gold_call
from analyzer.sources import load_audio
from analyzer.speakers import split_sides
from analyzer.trackers import load_trackers
from analyzer.transcribe import (
    load_model,
    transcribe_words,
    vocabulary_prompt,
    words_to_utterances,
)

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_CALL = (
    ROOT.parent
    / "shared/data/real/aws_dual_channel_call"
    / ("Auto_Repairs_40_stereo_L-agent_R-caller.flac")
)
MIN_WORDS = 3


def duplicates(sides_words: list[list]) -> tuple[int, int, list[str]]:
    """(duplicated utterances, utterances, their texts) over both sides."""
    found, total, texts = 0, 0, []
    for side, words in enumerate(sides_words):
        others = sides_words[1 - side]
        for utterance in words_to_utterances(words, str(side), "unknown"):
            total += 1
            matched = sum(m is not None for m in matches(utterance.words, others))
            if matched >= MIN_WORDS and matched >= len(utterance.words) / 2:
                found += 1
                texts.append(f"side {side} at {utterance.start_s:.0f} s: {utterance.text[:90]}")
    return found, total, texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    files = args.files or sorted((ROOT / "sample_calls").glob("*.ogg"))
    if not args.files and PUBLIC_CALL.exists():
        files.append(PUBLIC_CALL)
    model, prompt = load_model(None), vocabulary_prompt(load_trackers().names())
    print("| call | utterances | duplicated before | after | runs dropped | from the right side |")
    print("|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0]
    for path in files:
        sides = split_sides(load_audio(path))
        if len(sides) != 2:
            print(f"| {path.name} | one mix on both channels: transcribed once | - | - | - |")
            continue
        words = [transcribe_words(side.samples, model, prompt) for side in sides]
        before, count, texts = duplicates(words)
        kept, copies = drop_bleed(words, [side.samples for side in sides])
        after, _, _ = duplicates(kept)
        right = rightly_dropped(path, copies)
        print(
            f"| {path.name} | {count} | {before} | {after} | {len(copies)} | "
            f"{'-' if right is None else right} |",
            flush=True,
        )
        for text in texts:
            print(f"  duplicated: {text}")
        row = [count, before, after, len(copies), right or 0]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
    print(f"| all | {' | '.join(map(str, totals))} |")


def rightly_dropped(path: Path, copies) -> int | None:
    """How many dropped runs fell while the gold says the other side spoke (sample calls:
    rep on the left channel)."""
    gold = ROOT / "sample_calls" / "gold" / f"{path.stem.split('_', 1)[-1]}.json"
    if not gold.exists():
        return None
    turns = read_gold_call(gold).utterances
    right = 0
    for copy in copies:
        said = {"rep": 0.0, "customer": 0.0}
        for turn in turns:
            overlap = min(turn.end_s, copy.end_s) - max(turn.start_s, copy.start_s)
            said[turn.role] += max(overlap, 0.0)
        copied_role = ("rep", "customer")[copy.copy_side]
        other = ("customer", "rep")[copy.copy_side]
        right += said[other] > said[copied_role]
    return right


if __name__ == "__main__":
    main()
