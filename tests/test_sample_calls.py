"""The bundled sample corpus is complete and consistent (no ASR here: see test_demo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.evaluate import read_gold_call
from analyzer.sources import load_audio, read_manifest

SAMPLES = Path(__file__).parents[1] / "sample_calls"
CATEGORIES = {"competitor", "pricing", "demo", "pain_point", "churn_signal"}


@pytest.fixture(scope="module")
def manifest():
    return read_manifest(SAMPLES / "manifest.csv")


def test_shape_of_the_corpus(manifest):
    metas = list(manifest.values())
    assert len(metas) >= 24
    assert len({m.rep for m in metas}) == 4
    assert len({m.account for m in metas}) == 8
    assert {m.call_type for m in metas} == {"sales", "cs"}
    dates = sorted(m.call_date for m in metas)
    assert 70 <= (dates[-1] - dates[0]).days <= 100  # about twelve weeks


def test_folder_stays_small():
    size = sum(path.stat().st_size for path in SAMPLES.rglob("*") if path.is_file())
    assert size < 30 * 1024 * 1024


def test_every_call_has_audio_and_gold(manifest):
    accounts_with_cs_calls = {m.account for m in manifest.values() if m.call_type == "cs"}
    for name, meta in manifest.items():
        assert (SAMPLES / name).is_file(), name
        gold = read_gold_call(SAMPLES / "gold" / f"{meta.call_id}.json")
        assert gold.call_id == meta.call_id
        labels = {label for u in gold.utterances for label in u.labels}
        assert labels <= CATEGORIES
        for utterance in gold.utterances:
            assert ("competitor" in utterance.labels) == bool(utterance.competitors)
        if meta.account not in accounts_with_cs_calls:  # prospects (docs/topics.md)
            assert "churn_signal" not in labels, meta.call_id


def test_every_category_is_covered():
    counts = {category: 0 for category in CATEGORIES}
    for path in (SAMPLES / "gold").glob("*.json"):
        for utterance in json.loads(path.read_text())["utterances"]:
            for label in utterance["labels"]:
                counts[label] += 1
    assert min(counts.values()) >= 20, counts


def test_recordings_are_two_to_five_minutes_with_stereo_and_mono(manifest):
    channels = set()
    for name in manifest:
        audio = load_audio(SAMPLES / name)
        assert 110 <= audio.duration_s <= 300, (name, audio.duration_s)
        channels.add(len(audio.channels))
    assert channels == {1, 2}
