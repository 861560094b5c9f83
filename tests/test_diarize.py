"""Mono calls: speakers separated by voice, the rep found by voice profile or guessed.

The end-to-end tests use the real models (Whisper tiny.en, Resemblyzer) on Piper speech."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

from analyzer.cli import cli
from analyzer.diarize import stretches, viterbi, voice_of, windows_over
from analyzer.records import Word
from analyzer.speakers import Profile, guess_rep, match_profile, name_speakers
from analyzer.store import SCHEMA_VERSION, Store

# The customer speaks first: the fallback guess (who opened the call) is wrong here, so only
# the rep's voice profile can get the roles right.
CUSTOMER_FIRST = [
    ("customer", "Hello, this is the front desk at Globex, how can I help you?"),
    ("rep", "Hi, I'm calling about your renewal. Do you have a few minutes to talk about pricing?"),
    ("customer", "Sure. Honestly the price went up a lot, and we might cancel our contract."),
    ("rep", "I understand. Let me walk you through a discount on the annual plan."),
    ("customer", "Okay, send me the numbers and we can set up a demo for the finance team."),
    ("rep", "Great, I will send the proposal today and book the demo for Thursday."),
]
REP = "Mark Jones"


def unit(*values):
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


# --- the pieces ----------------------------------------------------------------------------------


def test_a_change_of_speaker_is_cheap_at_a_pause_and_dear_inside_speech():
    # Word 2 leans a little to speaker 1; inside a run of speech that is not enough to switch.
    scores = np.array([[1.0, -1.0], [1.0, -1.0], [-0.5, 0.5], [1.0, -1.0]])
    assert viterbi(scores, np.zeros(4)).tolist() == [0, 0, 0, 0]
    # The same evidence after long pauses switches.
    assert viterbi(scores, np.array([0.0, 0.0, 1.0, 1.0])).tolist() == [0, 0, 1, 0]
    # Strong evidence switches even without a pause.
    strong = np.array([[1.0, -1.0], [1.0, -1.0], [-3.0, 3.0], [-3.0, 3.0]])
    assert viterbi(strong, np.zeros(4)).tolist() == [0, 0, 1, 1]


def test_word_scores_a_block_at_a_time_match_all_at_once(monkeypatch):
    from analyzer import diarize

    rng = np.random.default_rng(6)
    starts = np.sort(rng.uniform(0, 120, 300))
    spoken = [Word(start, start + 0.3, " w") for start in starts]
    windows = np.sort(rng.uniform(0, 118, 140))
    times = np.stack([windows, windows + 1.6], axis=1)
    similarity = rng.uniform(-1, 1, (140, 3))
    whole = diarize.word_scores(spoken, times, similarity)  # 300 words: one block
    monkeypatch.setattr(diarize, "WORD_BLOCK", 7)
    assert np.allclose(diarize.word_scores(spoken, times, similarity), whole)


def test_windows_stay_inside_stretches_of_speech():
    words = [Word(0.0, 0.4, " Hi."), Word(0.5, 3.0, " long"), Word(6.0, 6.5, " Yes.")]
    spans = stretches(words, duration_s=10.0)
    assert spans == [(0.0, 3.1), (5.9, 6.6)]  # joined across 0.1 s, split at the 3 s pause
    windows, times = windows_over(np.random.default_rng(0).random((1000, 40)), spans)
    assert windows.shape[1:] == (160, 40)
    assert all(any(s <= a and b <= e + 0.01 for s, e in spans) for a, b in times)
    assert times[-1].tolist() == pytest.approx([5.9, 6.6])  # a short stretch fills one window


def test_the_rep_is_the_speaker_matching_their_profile():
    centroids = np.stack([unit(1, 0, 0), unit(0.2, 1, 0)])
    profile = Profile(REP, unit(0.1, 1, 0), 30.0, 1)
    assert match_profile(centroids, profile) == 1
    voices, how = name_speakers(centroids, [10.0, 20.0], ["", ""], REP, {REP: profile})
    assert how == "voice profile"
    assert [(v.speaker, v.role) for v in voices] == [
        ("Speaker 1", "customer"),
        (REP, "rep"),
    ]


def test_a_profile_that_matches_no_one_clearly_is_not_used():
    centroids = np.stack([unit(1, 0.05, 0), unit(1, -0.05, 0)])  # both equally like the profile
    profile = Profile(REP, unit(1, 0, 0), 30.0, 1)
    assert match_profile(centroids, profile) is None
    far = Profile(REP, unit(0, 0, 1), 30.0, 1)
    assert match_profile(centroids, far) is None
    voices, how = name_speakers(centroids, [1.0, 1.0], ["", ""], REP, {REP: profile})
    assert how == "guessed" and voices[0].role == "rep"


def test_guessing_the_rep_from_what_they_say():
    assert guess_rep(["Hello, front desk.", "Hi, it's Mark from Lumen."], REP) == 1
    assert guess_rep(["Mark Jones here, thanks for joining.", "Hi!"], REP) == 0
    assert guess_rep(["Thanks, Mark, good to hear from you.", "Sure."], REP) == 1
    assert guess_rep(["Hello?", "Hi there."], REP) == 0  # nothing said: who opened the call
    assert guess_rep(["Hello?", "Hi there."], None) == 0
    # A rep called Will: "will" as a word is not a self-introduction.
    assert guess_rep(["Hi, it's Will.", "They will, from what I hear."], "Will Park") == 0
    assert guess_rep(["We had a rep from Gong.", "Hi!"], "Rep Name") == 0


def test_one_voice_without_a_profile_stays_unknown():
    voices, how = name_speakers(np.stack([unit(1, 0)]), [5.0], ["Hello."], REP, {})
    assert how is None and voices[0].role == "unknown"


def test_upgrade_marks_how_old_calls_got_their_roles(store_at):
    store = store_at(
        4,
        "INSERT INTO calls (call_id, status, source_kind, channels) VALUES "
        "('stereo', 'ok', 'audio', 2), ('mono', 'ok', 'audio', 1), ('vtt', 'ok', 'vtt', 2)",
    )
    assert store.migrate() == SCHEMA_VERSION
    with duckdb.connect(str(store.path), read_only=True) as connection:
        found = dict(connection.execute("SELECT call_id, roles_from FROM calls").fetchall())
    assert found == {"stereo": "channels", "mono": None, "vtt": "names"}


# --- real models ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def customer_first(tmp_path_factory):
    """A mono MP3 where the customer speaks first, the rep's enrollment clip, the true turns."""
    from analyzer.sources import encode
    from analyzer.synth import speak, synthesize_call, write_wav

    folder = tmp_path_factory.mktemp("mono")
    stereo, truth = synthesize_call(CUSTOMER_FIRST, rep_cents=0, customer_cents=300, seed=3)
    call = encode(folder / "customer_first.mp3", stereo.mean(axis=1))
    clip = speak(
        "Hi, this is Mark. I am recording this so the analyzer knows my voice. I talk with "
        "customers about renewals, pricing and demos most days of the week.",
        0,
    )
    return call, write_wav(folder / "mark.wav", clip), truth


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def roles_by_turn(db, truth) -> list[str]:
    """The role of the utterance with most of each true turn's words."""
    with duckdb.connect(str(db), read_only=True) as connection:
        words = connection.execute(
            "SELECT w.start_s, w.end_s, u.role FROM words w JOIN utterances u "
            "ON u.call_id = w.call_id AND u.idx = w.utterance_idx"
        ).fetchall()
    found = []
    for _, start, end, _ in truth:
        inside = [role for s, e, role in words if start - 0.2 <= (s + e) / 2 <= end + 0.2]
        found.append(max(set(inside), key=inside.count))
    return found


@pytest.mark.slow
def test_a_guessed_call_is_relabelled_once_the_rep_enrolls(tmp_path, customer_first):
    call, clip, truth = customer_first
    db = tmp_path / "mono.duckdb"
    invoke("ingest", call, "--rep", REP, "--db", db)
    store = Store(db)
    (row,) = store.calls()
    assert store.call_row(row["call_id"])["roles_from"] == "guessed"
    # The customer opened the call, so the guess swapped the roles.
    assert roles_by_turn(db, truth) == ["rep", "customer"] * 3
    # Churn signals count when the customer says them: under the swapped roles, none.
    assert store.mentions(category="churn_signal") == []

    result = invoke("reps", "enroll", REP, clip, "--db", db)
    assert "1 call(s) relabelled" in result.output
    assert store.call_row(row["call_id"])["roles_from"] == "voice profile"
    assert roles_by_turn(db, truth) == [role for role, *_ in truth]
    speakers = {(u.speaker, u.role) for u in store.utterances(row["call_id"])}
    assert speakers == {(REP, "rep"), ("Speaker 1", "customer")}
    # Roles decide "said by the customer": now the churn signal is found, in the customer's turn.
    churn = store.mentions(category="churn_signal")
    assert churn and all(m["role"] == "customer" for m in churn)
    assert "Mark Jones" in invoke("reps", "list", "--db", db).output


@pytest.mark.slow
def test_a_profile_in_place_labels_new_mono_calls(tmp_path, customer_first):
    call, clip, truth = customer_first
    db = tmp_path / "enrolled.duckdb"
    invoke("reps", "enroll", REP, clip, "--db", db)
    invoke("ingest", call, "--rep", REP, "--db", db)
    (row,) = Store(db).calls()
    assert Store(db).call_row(row["call_id"])["roles_from"] == "voice profile"
    assert roles_by_turn(db, truth) == [role for role, *_ in truth]


@pytest.mark.slow
def test_stereo_calls_teach_the_rep_s_voice(tmp_path, stereo_call):
    db = tmp_path / "stereo.duckdb"
    invoke("ingest", stereo_call, "--rep", REP, "--db", db)
    (sample,) = Store(db).voice_samples()
    assert sample["name"] == REP and sample["source"] == "stereo call"
    assert sample["speech_s"] > 5


@pytest.mark.slow
def test_diarize_again_without_transcribing(tmp_path, customer_first, monkeypatch):
    call, clip, truth = customer_first
    db = tmp_path / "again.duckdb"
    invoke("ingest", call, "--rep", REP, "--db", db)
    store = Store(db)
    (row,) = store.calls()
    words_before = store.words(row["call_id"])
    invoke("reps", "enroll", REP, clip, "--db", db)

    def no_asr(*args, **kwargs):
        raise AssertionError("re-diarizing must not transcribe")

    monkeypatch.setattr("analyzer.transcribe.load_model", no_asr)
    result = invoke("diarize", row["call_id"], "--db", db)
    assert "roles from voice profile" in result.output
    assert [w.text for w in store.words(row["call_id"])] == [w.text for w in words_before]
    assert roles_by_turn(db, truth) == [role for role, *_ in truth]


@pytest.mark.parametrize(
    ("name", "samples", "reason"),
    [
        ("silence.wav", np.zeros(16_000 * 3), "silence only"),
        ("hiss.wav", np.random.default_rng(0).normal(0, 0.05, 16_000 * 3), "voice profile needs"),
    ],
)
def test_an_enrollment_clip_without_speech_is_refused(tmp_path, name, samples, reason):
    from analyzer.synth import write_wav

    clip = write_wav(tmp_path / name, samples.astype(np.float32))
    result = CliRunner().invoke(cli, ["reps", "enroll", REP, str(clip), "--db",
                                      str(tmp_path / "x.duckdb")])  # fmt: skip
    assert result.exit_code != 0
    assert name in result.output and reason in result.output
    assert Store(tmp_path / "x.duckdb").voice_samples() == []


def test_diarize_refuses_calls_it_cannot_redo(tmp_path):
    db = tmp_path / "t.duckdb"
    invoke("ingest", "tests/data/meeting.vtt", "--db", db)
    (row,) = Store(db).calls()
    result = CliRunner().invoke(cli, ["diarize", row["call_id"], "--db", str(db)])
    assert result.exit_code == 1
    assert "not a mono recording" in result.output


def test_voice_of_a_clip_is_a_unit_vector():
    from analyzer.synth import speak

    embedding, seconds = voice_of(speak("One two three four five, testing my voice.", 0))
    assert embedding.shape == (256,) and abs(np.linalg.norm(embedding) - 1) < 1e-4
    assert seconds > 1


def test_mel_frames_a_chunk_at_a_time_match_one_pass():
    import resemblyzer
    from scipy.signal import butter, sosfilt

    from analyzer.diarize import HIGH_PASS_HZ, MEL_CHUNK_FRAMES, mel_frames

    rng = np.random.default_rng(3)
    samples = (rng.standard_normal(MEL_CHUNK_FRAMES * 160 * 2 + 1234) * 0.1).astype(np.float32)
    filtered = sosfilt(butter(4, HIGH_PASS_HZ, "highpass", fs=16_000, output="sos"), samples)
    whole = resemblyzer.audio.wav_to_mel_spectrogram(filtered.astype(np.float32))
    assert np.allclose(mel_frames(samples), whole, rtol=1e-5, atol=1e-7)


def test_crosstalk_gated_in_place_equals_gated_copy():
    from analyzer.speakers import suppress_crosstalk

    rng = np.random.default_rng(4)
    loud, quiet = rng.standard_normal(16_000 * 3).astype(np.float32), np.zeros(16_000 * 3)
    quiet[:16_000] = 0.001 * loud[:16_000]  # bleed of the other side only
    left, right = loud.copy(), quiet.astype(np.float32)
    copies = suppress_crosstalk(left, right)
    in_place = suppress_crosstalk(left, right, overwrite=True)
    assert in_place[0] is left
    assert all(np.array_equal(a, b) for a, b in zip(copies, in_place, strict=True))
    assert not right.any()  # the bleed is gone
