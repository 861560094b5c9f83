from __future__ import annotations

import numpy as np
import pytest

from analyzer.records import Utterance
from analyzer.sources import Audio
from analyzer.speakers import assign_roles, is_dual_mono, parse_channel_roles, split_sides

rng = np.random.default_rng(0)
VOICE_A = rng.normal(0, 0.1, 16_000).astype(np.float32)
VOICE_B = rng.normal(0, 0.1, 16_000).astype(np.float32)


def pcm(samples: np.ndarray) -> np.ndarray:
    """16-bit samples, as `load_audio` decodes them."""
    return (samples * 32767).astype(np.int16)


def test_true_stereo_gives_one_side_per_channel():
    sides = split_sides(Audio((pcm(VOICE_A), pcm(VOICE_B)), 2, 8000))
    assert [s.role for s in sides] == ["rep", "customer"]
    assert np.array_equal(sides[0].samples, pcm(VOICE_A))  # both talk throughout: nothing gated


def test_channel_role_map_can_be_swapped():
    stereo = Audio((pcm(VOICE_A), pcm(VOICE_B)), 2, 8000)
    sides = split_sides(stereo, parse_channel_roles("customer,rep"))
    assert [s.role for s in sides] == ["customer", "rep"]


def test_identical_channels_are_mono():
    lossy_copy = VOICE_A + rng.normal(0, 0.003, VOICE_A.size).astype(np.float32)
    assert is_dual_mono(VOICE_A, lossy_copy)
    sides = split_sides(Audio((pcm(VOICE_A), pcm(lossy_copy)), 2, 44_100))
    assert [s.role for s in sides] == ["unknown"]


def test_a_loud_dual_mono_call_mixes_to_16_bit_without_wrapping():
    loud = np.full(16_000, 30_000, np.int16)
    (side,) = split_sides(Audio((loud, loud.copy()), 2, 16_000))
    assert side.samples.dtype == np.int16 and side.samples.min() == 30_000


def test_a_call_with_crosstalk_is_still_stereo():
    assert not is_dual_mono(VOICE_A + 0.2 * VOICE_B, VOICE_B + 0.2 * VOICE_A)


def test_mono_is_unknown():
    assert [s.role for s in split_sides(Audio((pcm(VOICE_A),), 1, 16_000))] == ["unknown"]


def test_bad_channel_roles():
    with pytest.raises(ValueError, match="two of"):
        parse_channel_roles("left,right")


def utterances(*speakers):
    return [Utterance(s, "unknown", i, i + 1, "hi") for i, s in enumerate(speakers)]


def test_rep_name_picks_the_rep_speaker():
    assigned = assign_roles(utterances("Priya Shah", "Dana Lee", "Sam"), "Priya Shah")
    assert [u.role for u in assigned] == ["rep", "customer", "customer"]


@pytest.mark.parametrize("label", ["Priya", "priya shah", "Priya Shah (Acme Analytics)"])
def test_rep_name_variants(label):
    assert assign_roles(utterances(label, "Dana"), "Priya Shah")[0].role == "rep"


def test_without_a_matching_rep_roles_stay_unknown():
    assigned = assign_roles(utterances("Speaker 1", "Speaker 2"), "Priya Shah")
    assert {u.role for u in assigned} == {"unknown"}


def test_crosstalk_is_silenced_but_overlapping_speech_kept():
    from analyzer.speakers import suppress_crosstalk

    rep = np.zeros(48_000, dtype=np.float32)
    customer = np.zeros(48_000, dtype=np.float32)
    rep[:32_000] = VOICE_A[:16_000].repeat(2)  # rep talks for 2 s
    customer[:16_000] = 0.03 * rep[:16_000]  # the rep bleeds into the customer leg (-30 dB)
    customer[16_000:32_000] = VOICE_B  # then both talk at once
    customer[32_000:] = VOICE_B[:16_000] * 0.5  # then the customer alone
    left, right = suppress_crosstalk(rep, customer)
    assert np.abs(right[1_000:14_000]).max() == 0  # bleed gone (word edges aside)
    assert np.allclose(right[18_000:30_000], customer[18_000:30_000])  # overlap kept
    assert np.allclose(left[:30_000], rep[:30_000])
    assert np.allclose(right[34_000:], customer[34_000:])
