from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from analyzer.errors import InputError
from analyzer.sources import encode, kind_of, load_audio, make_meta, read_manifest, read_transcript
from analyzer.synth import speak, write_wav


@pytest.fixture(scope="module")
def speech():
    return speak("Hello, this is a short test of the audio decoders.")


@pytest.mark.parametrize("name", ["a.mp3", "a.ogg", "a.flac", "a.m4a", "a.webm", "a.mp4", "a.opus"])
def test_compressed_formats_decode_to_16k(tmp_path, speech, name):
    audio = load_audio(encode(tmp_path / name, speech))
    assert len(audio.channels) == 1
    assert abs(audio.duration_s - len(speech) / 16_000) < 0.2


def test_stereo_keeps_both_channels(tmp_path, speech):
    stereo = np.stack([speech, np.zeros_like(speech)], axis=1)
    audio = load_audio(encode(tmp_path / "s.flac", stereo))
    left, right = audio.channels
    assert audio.source_channels == 2
    assert left.dtype == np.int16 and np.abs(left).max() > 0.05 * 32768 and not right.any()


@pytest.mark.parametrize("codec", ["pcm_mulaw", "pcm_u8"])
def test_telephone_audio_8k_8bit(tmp_path, speech, codec):
    audio = load_audio(encode(tmp_path / "phone.wav", speech[::2], rate=8000, codec=codec))
    assert audio.source_sample_rate == 8000
    assert abs(audio.duration_s - len(speech) / 16_000) < 0.2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"this is a text file, not audio" * 10, "not a readable audio"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "not a readable audio"),
    ],
)
def test_bad_bytes_give_a_reason(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(InputError, match=reason):
        load_audio(path)


def test_silence_is_rejected(tmp_path):
    with pytest.raises(InputError, match="silence only"):
        load_audio(write_wav(tmp_path / "quiet.wav", np.zeros(32_000, dtype=np.float32)))


def test_too_short_is_rejected(tmp_path, speech):
    with pytest.raises(InputError, match="too short"):
        load_audio(write_wav(tmp_path / "blip.wav", speech[:3200]))


def test_unsupported_extension():
    with pytest.raises(InputError, match="unsupported file type '.docx'"):
        kind_of(__import__("pathlib").Path("notes.docx"))


def test_vtt_voice_tags_and_zoom_prefixes(tmp_path):
    path = tmp_path / "meet.vtt"
    path.write_text(
        "WEBVTT\n\n"
        "00:00:01.000 --> 00:00:03.000\n<v Priya Shah>Thanks for joining.</v>\n\n"
        "00:00:03.500 --> 00:00:06.000\nDana Lee: We use Gong today.\n\n"
        "00:00:06.200 --> 00:00:08.000\nDana Lee: It is expensive.\n"
    )
    utterances = read_transcript(path, "vtt")
    assert [(u.speaker, u.text) for u in utterances] == [
        ("Priya Shah", "Thanks for joining."),
        ("Dana Lee", "We use Gong today. It is expensive."),  # consecutive cues joined
    ]
    assert utterances[1].start_s == 3.5 and utterances[1].end_s == 8.0


def test_srt(tmp_path):
    path = tmp_path / "call.srt"
    path.write_text(
        "1\n00:00:01,000 --> 00:00:02,500\nRep: Hello there\n\n"
        "2\n00:00:03,000 --> 00:00:05,000\nCustomer: Hi, what does it cost?\n"
    )
    utterances = read_transcript(path, "srt")
    assert [u.speaker for u in utterances] == ["Rep", "Customer"]
    assert utterances[1].end_s == 5.0


def test_json_transcript(tmp_path):
    path = tmp_path / "call.json"
    path.write_text(
        '{"utterances": [{"speaker": "A", "role": "rep", "start": 0, "end": 2,'
        ' "text": "Hi"}, {"speaker": "B", "start": 2, "end": 3, "text": "Hello"}]}'
    )
    utterances = read_transcript(path, "json")
    assert [(u.speaker, u.role) for u in utterances] == [("A", "rep"), ("B", "unknown")]


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("x.json", "{not json", "malformed JSON"),
        ("x.json", '{"utterances": [{"speaker": "A"}]}', "has no 'text'"),
        ("x.vtt", "not a vtt file at all", "malformed VTT"),
        ("x.srt", "1\nnonsense\n", "(malformed SRT|no spoken text)"),
    ],
)
def test_malformed_transcripts(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=reason):
        read_transcript(path, path.suffix[1:])


def test_non_utf8_transcript(tmp_path):
    path = tmp_path / "latin.vtt"
    path.write_bytes("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nCafé\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8|malformed"):
        read_transcript(path, "vtt")


def test_manifest_rows_by_file_name(tmp_path):
    path = tmp_path / "manifest.csv"
    path.write_text(
        "file,call_id,rep,account,call_type,date,title\n"
        "calls/a.wav,,Priya Shah,Acme,sales,2026-10-02,Discovery\n"
    )
    meta = read_manifest(path)["a.wav"]
    assert (meta.rep, meta.call_type, meta.call_date) == (
        "Priya Shah",
        "sales",
        dt.date(2026, 10, 2),
    )
    assert meta.call_id is None


@pytest.mark.parametrize(
    ("csv_text", "reason"),
    [
        ("name,rep\na.wav,x\n", "no 'file' column"),
        ("file,rep,colour\na.wav,x,red\n", "unknown columns"),
        ("file,call_type\na.wav,webinar\n", "line 2: call_type 'webinar'"),
        ("file,date\na.wav,02/10/2026\n", "line 2: date '02/10/2026'"),
    ],
)
def test_bad_manifest(tmp_path, csv_text, reason):
    path = tmp_path / "manifest.csv"
    path.write_text(csv_text)
    with pytest.raises(InputError, match=reason):
        read_manifest(path)


def test_meta_rejects_unknown_call_type():
    with pytest.raises(InputError, match="not one of: sales, cs"):
        make_meta(call_type="demo")
