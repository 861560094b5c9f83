"""Tone of what was said: VADER's compound score, scored once per utterance when it is stored."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def tone(text: str) -> float:
    """VADER compound score, -1 (negative) to 1 (positive)."""
    return _analyzer().polarity_scores(text)["compound"]
