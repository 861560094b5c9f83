"""Calibrated probabilities: how sure each kind of mention is, fitted on labeled calls."""

import numpy as np
import pytest

from analyzer import smart
from analyzer.calibration import fit, kind_of
from analyzer.records import Mention


def mention(category="churn_signal", score=1.0, method="keyword", tracker="Leaving us"):
    return Mention(0, category, tracker, "cancel", 0.0, 1.0, "we will cancel", score, method)


def test_each_kind_of_mention_is_told_apart():
    assert kind_of(mention()) == "phrase"
    assert kind_of(mention(method="semantic", tracker="churn_signal (smart)")) == "smart"
    assert kind_of(mention(tracker="Pricing (reply)")) == "reply"
    assert kind_of(mention("competitor", 0.8, tracker="Gong")) == "name"
    assert kind_of(mention("competitor", 1.0, tracker="Gong")) == "phrase"


def test_probabilities_are_monotone_in_the_raw_score():
    rng = np.random.default_rng(0)
    labeled = []
    for _ in range(300):
        raw = float(rng.uniform(0.3, 1.0))
        right = bool(rng.uniform() < raw**2)  # higher scores are right more often
        labeled.append((mention(score=raw, method="semantic", tracker="x (smart)"), right))
    calibration = fit(labeled)
    grid = [mention(score=s, method="semantic", tracker="x (smart)") for s in np.linspace(0, 1, 41)]
    probabilities = [calibration.probability(m) for m in grid]
    assert probabilities == sorted(probabilities)
    assert probabilities[-1] > probabilities[0] + 0.3


def test_a_score_that_predicts_worse_does_not_turn_probabilities_upside_down():
    labeled = [(mention(score=s, method="semantic", tracker="x (smart)"), s < 0.6)
               for s in np.linspace(0.3, 1.0, 60)]  # fmt: skip
    calibration = fit(labeled)
    low, high = (calibration.probability(mention(score=s, method="semantic")) for s in (0.3, 1))
    assert low == high  # slope held at zero: one figure for the kind


def test_a_keyword_phrase_gets_its_share_of_right_mentions_shrunk_to_its_category():
    labeled = [(mention(), True)] * 8 + [(mention(), False)] * 2
    labeled += [(mention(tracker="Pricing (reply)"), False)]
    calibration = fit(labeled)
    phrase = calibration.probability(mention())
    reply = calibration.probability(mention(tracker="Pricing (reply)"))
    assert 0.65 < phrase < 0.85  # 8 of 10, pulled a little toward the category's 8 of 11
    assert reply < phrase  # one wrong reply, but not 0: the category's share is its prior


def test_without_a_fit_a_mention_keeps_its_raw_score():
    assert fit([]).probability(mention("demo", 0.42, "semantic")) == pytest.approx(0.42)


def test_the_shipped_calibration_is_monotone_for_every_smart_tracker():
    shipped = smart.load_calibration()
    assert shipped.fits, "run `analyzer train --calibrate-only`"
    for category in ("pricing", "demo", "pain_point", "churn_signal"):
        tracker = f"{category} (smart)"
        grid = [mention(category, s, "semantic", tracker) for s in np.linspace(0, 1, 21)]
        probabilities = [shipped.probability(m) for m in grid]
        assert probabilities == sorted(probabilities), category
