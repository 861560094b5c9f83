"""Inputs: recognise a file, hash it, decode its audio or parse its transcript, read a manifest.

Audio goes through PyAV (the decoder faster-whisper itself uses), so anything FFmpeg reads works:
wav (PCM, 8-bit, mu-law), mp3, m4a/aac, ogg/opus, flac, webm, mp4. Transcripts come as WebVTT
(Zoom/Teams/Meet exports, speakers from `<v Name>` tags or a `Name:` prefix), SRT, or our JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from analyzer.errors import InputError
from analyzer.records import CALL_TYPES, ROLES, CallMeta, Utterance

SAMPLE_RATE = 16_000
AUDIO_EXTENSIONS = frozenset(
    [
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".flac",
        ".webm",
        ".mp4",
        ".mkv",
        ".mov",
        ".wma",
        ".amr",
    ]
)
TRANSCRIPT_EXTENSIONS = frozenset({".vtt", ".srt", ".json"})
SUPPORTED_EXTENSIONS = AUDIO_EXTENSIONS | TRANSCRIPT_EXTENSIONS
MANIFEST_COLUMNS = ("file", "call_id", "rep", "account", "call_type", "date", "title")

# Below this peak amplitude (about -60 dBFS) a recording carries no usable speech.
SILENCE_PEAK = 1e-3
# Shorter than this there is nothing to transcribe.
MIN_DURATION_S = 0.5


@dataclass(frozen=True)
class Audio:
    """Decoded audio at 16 kHz, 16-bit as most recordings are, one array per channel (at most
    two: left, right). Code that computes on it takes float32 a stretch at a time (`floats`):
    an hour of stereo is 230 MB held as 16-bit, 460 MB as float32."""

    channels: tuple[np.ndarray, ...]
    source_channels: int
    source_sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.channels[0]) / SAMPLE_RATE


def floats(samples: np.ndarray) -> np.ndarray:
    """`samples` as float32 in [-1, 1]: 16-bit samples scaled (a copy), float ones as they are."""
    if samples.dtype == np.int16:
        return np.multiply(samples, 1 / 32768, dtype=np.float32)
    return np.asarray(samples, dtype=np.float32)


def peak(samples: np.ndarray) -> float:
    """The largest absolute sample, in full scale (1.0), without a copy of the audio."""
    if not samples.size:
        return 0.0
    scale = 32768 if samples.dtype == np.int16 else 1
    return max(-float(samples.min()), float(samples.max())) / scale


def kind_of(path: Path) -> str:
    """'audio', 'vtt', 'srt' or 'json'; raises InputError for anything else."""
    suffix = path.suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return "audio"
    if suffix in TRANSCRIPT_EXTENSIONS:
        return suffix[1:]
    expected = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    raise InputError(f"unsupported file type '{suffix or '(none)'}'; expected one of: {expected}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_audio(path: Path) -> Audio:
    """Decode any PyAV-readable file to 16 kHz 16-bit, keeping left and right apart for stereo.

    More than two channels are mixed down to one, each counted equally: multi-track exports have
    no fixed side order.
    Raises InputError for an empty, unreadable, silent or too-short file.
    """
    if path.stat().st_size == 0:
        raise InputError("empty file (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InputError("no audio stream in the file")
            stream = container.streams.audio[0]
            source_channels = stream.codec_context.channels or 1
            source_rate = stream.codec_context.sample_rate or 0
            layout = "stereo" if source_channels == 2 else "mono"
            if source_channels > 2:
                channels = (_mix_down(_decode(container, None), source_channels),)
            else:
                channels = _decode_channels(container, layout, 2 if layout == "stereo" else 1)
    except InputError:
        raise
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError(f"not a readable audio or video file ({reason})") from error
    if channels[0].size == 0:
        raise InputError("no audio could be decoded (empty or corrupt stream)")
    audio = Audio(channels, source_channels, source_rate)
    if audio.duration_s < MIN_DURATION_S:
        raise InputError(f"too short to transcribe ({audio.duration_s:.2f} s)")
    if max(peak(channel) for channel in channels) < SILENCE_PEAK:
        raise InputError("silence only (no signal above -60 dBFS)")
    return audio


def _decode_channels(
    container: av.container.InputContainer, layout: str, channels: int
) -> tuple[np.ndarray, ...]:
    """One contiguous 16-bit array per channel, filled as the file decodes into room sized
    from the container's duration: no interleaved copy of the whole call is ever held (a
    60-minute stereo call is 230 MB; every extra copy counts)."""
    seconds = float(container.duration or 0) / av.time_base
    out = np.empty((channels, int(seconds * SAMPLE_RATE * 1.01) + SAMPLE_RATE), dtype=np.int16)
    filled = 0
    for chunk in _resampled(container, layout):
        frames = len(chunk) // channels
        if filled + frames > out.shape[1]:  # the duration was missing or short: grow
            grown = np.empty((channels, 2 * (filled + frames)), dtype=np.int16)
            grown[:, :filled] = out[:, :filled]
            out = grown
        for index in range(channels):
            out[index, filled : filled + frames] = chunk[index::channels][:frames]
        filled += frames
    return tuple(out[:, :filled])


def _mix_down(interleaved: np.ndarray, channels: int) -> np.ndarray:
    """Every channel counted equally (FFmpeg's own downmix drops a 7.1 file's LFE channel, and
    in a multi-track export that may be someone's microphone), as loud as the loudest one."""
    tracks = interleaved[: len(interleaved) // channels * channels].reshape(-1, channels)
    mixed = tracks.mean(axis=1, dtype=np.float32)  # in 16-bit units, as `tracks` is
    loudest = peak(mixed)
    if loudest > 0:
        mixed *= min(peak(tracks) * 32768 / loudest, channels)
    return np.clip(mixed, -32768, 32767).astype(np.int16)


def _resampled(container: av.container.InputContainer, layout: str | None):
    """Interleaved 16-bit chunks at 16 kHz, as they decode."""
    resampler = av.AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE)
    for frame in container.decode(audio=0):
        for resampled in resampler.resample(frame):
            yield resampled.to_ndarray().reshape(-1)
    for resampled in resampler.resample(None):  # flush
        yield resampled.to_ndarray().reshape(-1)


def _decode(container: av.container.InputContainer, layout: str | None) -> np.ndarray:
    chunks = list(_resampled(container, layout))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


# --- transcripts -------------------------------------------------------------------------------

_NAME_PREFIX = re.compile(r"^\s*([A-Z][\w.'\- ]{0,40}?)\s*:\s+(.+)$", re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")


def read_transcript(path: Path, kind: str) -> list[Utterance]:
    """Parse a transcript file into utterances with speakers (roles are assigned later)."""
    try:
        utterances = _read_json(path) if kind == "json" else _read_captions(path, kind)
    except InputError:
        raise
    except UnicodeDecodeError as error:
        raise InputError("transcript is not UTF-8 text") from error
    except Exception as error:  # each parser has its own exception types
        raise InputError(f"malformed {kind.upper()} transcript ({error})") from error
    if not utterances:
        raise InputError(f"{kind.upper()} transcript has no spoken text")
    return utterances


def _read_captions(path: Path, kind: str) -> list[Utterance]:
    import srt
    import webvtt

    if kind == "vtt":
        captions = [
            (
                c.start_time.in_milliseconds() / 1000,
                c.end_time.in_milliseconds() / 1000,
                c.voice,
                c.raw_text,
            )
            for c in webvtt.read(str(path))
        ]
    else:
        text = path.read_text(encoding="utf-8-sig")
        captions = [
            (c.start.total_seconds(), c.end.total_seconds(), None, c.content)
            for c in srt.parse(text)
        ]
    utterances = []
    for start, end, voice, raw in captions:
        body = " ".join(_TAGS.sub("", raw).split())
        speaker = voice.strip() if voice else None
        if speaker is None:
            prefixed = _NAME_PREFIX.match(body)
            if prefixed:  # Zoom writes "Name: text" instead of a voice tag
                speaker, body = prefixed.group(1).strip(), prefixed.group(2).strip()
        if body:
            utterances.append(
                Utterance(speaker or "unknown", "unknown", float(start), float(end), body)
            )
    return _merge_continuations(utterances)


def _merge_continuations(utterances: list[Utterance]) -> list[Utterance]:
    """Caption files cut one turn into many cues; join consecutive cues of one speaker."""
    merged: list[Utterance] = []
    for utterance in utterances:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.speaker == utterance.speaker
            and utterance.speaker != "unknown"
            and utterance.start_s - previous.end_s < 1.0
            and not previous.text.rstrip().endswith(("?", "!"))
        ):
            merged[-1] = Utterance(
                previous.speaker,
                previous.role,
                previous.start_s,
                utterance.end_s,
                f"{previous.text} {utterance.text}",
            )
        else:
            merged.append(utterance)
    return merged


def read_json_meta(path: Path) -> CallMeta:
    """Call metadata a JSON transcript may carry at its top level (call_id, rep, account, ...)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise InputError(f"malformed JSON transcript ({error})") from error
    if not isinstance(data, dict):
        return CallMeta()
    return make_meta(**{key: data.get(key) for key in MANIFEST_COLUMNS if key != "file"})


def _read_json(path: Path) -> list[Utterance]:
    """Our JSON: `{"utterances": [{speaker, role?, start, end, text}, ...]}` or just the list.

    The object may also carry call metadata (see `read_json_meta`) and other keys, such as gold
    labels, which are ignored here.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data.get("utterances") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise InputError('JSON transcript needs a list of utterances or {"utterances": [...]}')
    utterances = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or "text" not in item:
            raise InputError(f"JSON utterance {number} has no 'text'")
        start = float(item.get("start_s", item.get("start", 0.0)))
        end = float(item.get("end_s", item.get("end", start)))
        role = str(item.get("role") or "unknown").lower()
        if role not in ROLES:
            raise InputError(f"JSON utterance {number}: role '{role}' is not one of {ROLES}")
        text = " ".join(str(item["text"]).split())
        if text:
            speaker = str(item.get("speaker") or "unknown")
            utterances.append(Utterance(speaker, role, start, max(start, end), text))
    return utterances


# --- metadata ----------------------------------------------------------------------------------


def make_meta(
    *,
    call_id: str | None = None,
    rep: str | None = None,
    account: str | None = None,
    call_type: str | None = None,
    date: str | dt.date | None = None,
    title: str | None = None,
) -> CallMeta:
    """Validate user-given metadata; empty strings count as missing."""
    call_type = (call_type or "").strip().lower() or None
    if call_type is not None and call_type not in CALL_TYPES:
        raise InputError(f"call_type '{call_type}' is not one of: {', '.join(CALL_TYPES)}")
    call_date = date
    if isinstance(date, str):
        try:
            call_date = dt.date.fromisoformat(date.strip()) if date.strip() else None
        except ValueError as error:
            raise InputError(f"date '{date}' is not an ISO date (YYYY-MM-DD)") from error
    return CallMeta(
        call_id=(call_id or "").strip() or None,
        rep=(rep or "").strip() or None,
        account=(account or "").strip() or None,
        call_type=call_type,
        call_date=call_date,
        title=(title or "").strip() or None,
    )


def read_manifest(path: Path) -> dict[str, CallMeta]:
    """Manifest CSV (`file,call_id,rep,account,call_type,date,title`) keyed by file name."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or ())
            if "file" not in columns:
                raise InputError(f"manifest {path.name} has no 'file' column")
            unknown = columns - set(MANIFEST_COLUMNS)
            if unknown:
                raise InputError(
                    f"manifest {path.name} has unknown columns {sorted(unknown)}; "
                    f"expected: {', '.join(MANIFEST_COLUMNS)}"
                )
            rows = list(reader)
    except UnicodeDecodeError as error:
        raise InputError(f"manifest {path.name} is not UTF-8 text") from error
    manifest: dict[str, CallMeta] = {}
    for line, row in enumerate(rows, start=2):
        name = Path((row.get("file") or "").strip()).name
        if not name:
            raise InputError(f"manifest {path.name} line {line}: empty 'file'")
        try:
            manifest[name] = make_meta(
                call_id=row.get("call_id"),
                rep=row.get("rep"),
                account=row.get("account"),
                call_type=row.get("call_type"),
                date=row.get("date"),
                title=row.get("title"),
            )
        except InputError as error:
            raise InputError(f"manifest {path.name} line {line}: {error}") from error
    return manifest


def encode(
    path: Path,
    samples: np.ndarray,
    rate: int = SAMPLE_RATE,
    codec: str | None = None,
    sample_format: str | None = None,
    bit_rate: int | None = None,
) -> Path:
    """Write `samples` ((n,) or (n, 2)) with PyAV in the container `path`'s suffix implies."""
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
    data = floats(np.atleast_2d(samples.T if samples.ndim == 2 else samples))
    layout = "stereo" if data.shape[0] == 2 else "mono"
    out_rate = 48_000 if codec == "libopus" else rate
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=out_rate, layout=layout)
        if sample_format:
            stream.format = sample_format
        if bit_rate:
            stream.bit_rate = bit_rate
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
