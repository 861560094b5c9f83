"""Who spoke when in a one-channel recording, and who they are.

1. Speech: Whisper's word timestamps say where speech is (the ASR already ran Silero VAD over
   the audio); an enrollment clip, which has no words, goes through Silero VAD itself.
2. Voices: Resemblyzer d-vectors (its weights ship in the `resemblyzer` package) on 1.6 s
   windows sliding over each stretch of speech. A window never crosses a pause, where speakers
   usually change; a stretch shorter than a window is repeated to fill one.
3. Speakers: k-means over the windows for 2 to 6 speakers, the count chosen by silhouette
   (cosine); one speaker when the two halves of a two-way split sound alike.
4. Words: each word scores every speaker by the windows that cover it; a Viterbi pass makes a
   change of speaker cheap at a pause and dear inside a run of speech. Then each voice is
   measured again from the windows that went wholly to it, and the words are labelled again.
   Labelling words, not Whisper segments, matters: segments often span a change of speaker.
5. Names: `speakers.name_speakers` matches the voices against the reps' voice profiles.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from analyzer.config import cpu_threads
from analyzer.errors import AnalyzerError
from analyzer.records import Transcript, Voice, Word
from analyzer.sources import floats
from analyzer.speakers import Profile, name_speakers
from analyzer.transcribe import words_to_utterances

RATE = 16_000
FRAME_S = 0.01  # Resemblyzer's mel frames: 25 ms windows every 10 ms
WINDOW_FRAMES = 160  # 1.6 s, the length its encoder was trained on
HOP_FRAMES = 80  # a window every 0.8 s of speech
# Words closer than this belong to one stretch of speech; a window never spans a longer pause.
STRETCH_GAP_S = 0.3
# A stretch's edges get this much audio around the words (Whisper's timings are tight).
STRETCH_PAD_S = 0.1
MAX_SPEAKERS = 6
# One voice split in two by k-means gives halves this alike or more (cosine of their centroids):
# 0.947-0.976 for one Piper voice at 5 pitches, clean or phone line + noise; two voices 120 cents
# apart gave 0.895-0.953 on the dev calls; distinct voices 0.69-0.84. Where the ranges meet the
# call is taken for two speakers: a call has two sides.
SAME_VOICE_COSINE = 0.955
# A more-speaker split must beat a fewer-speaker one by this much silhouette to be chosen.
SILHOUETTE_MARGIN = 0.05
KMEANS_STARTS = 4
# A cluster with less than this share of the windows is an outlier (laughter, a cough, two
# people at once), not a speaker: its windows join their nearest real speaker.
MIN_CLUSTER_SHARE = 0.04
# Viterbi over standardized scores (each word's similarities, centred, in units of their spread
# over the call, so similar voices weigh as much as distinct ones): changing speaker inside a run
# of speech costs this many units; at a pause of SWITCH_FREE_GAP_S or longer it is free.
SWITCH_COST = 3.0
SWITCH_FREE_GAP_S = 0.5
ENCODER_BATCH = 256
WORD_BLOCK = 512
# After the first labelling, each voice is measured again from the windows that went wholly to
# it, and the words labelled again (dev calls, similar voices: worst call 92 % -> 94 %).
REFINE_PASSES = 1
# Filtering out what is below 100 Hz raised the dev calls' similar-voices accuracy from 86 % to
# 94 % and with noise and a phone line on top from 68 % to 84 % (150 Hz: 92 %, 250 Hz: 84 %).
MEL_CHUNK_FRAMES = 6000  # 60 s of 10 ms frames per step of mel_frames
HIGH_PASS_HZ = 100
# Enough of a rep's channel to know their voice; more only costs time.
PROFILE_SPEECH_S = 120.0


@dataclass(frozen=True)
class Diarization:
    """Speaker index per word, and each speaker's voice (mean d-vector, unit length)."""

    labels: tuple[int, ...]
    centroids: np.ndarray  # (speakers, 256)
    talk_s: tuple[float, ...]  # seconds of words per speaker

    @property
    def speakers(self) -> int:
        return len(self.centroids)


@lru_cache(maxsize=1)
def _resemblyzer():
    try:
        with warnings.catch_warnings():  # its webrtcvad import warns about pkg_resources
            warnings.simplefilter("ignore")
            import resemblyzer
    except ImportError as error:
        raise AnalyzerError(
            f"speaker separation needs the package 'resemblyzer' ({error}); "
            "reinstall the analyzer: pip install -e ."
        ) from error
    return resemblyzer


@lru_cache(maxsize=1)
def load_encoder():
    """Resemblyzer's voice encoder, once per process, from the weights in its package."""
    import torch

    torch.set_num_threads(cpu_threads())
    encoder = _resemblyzer().VoiceEncoder("cpu", verbose=False)
    encoder.eval()
    return encoder


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) mel spectrogram of 16 kHz audio, as Resemblyzer's encoder expects, with the
    rumble below 100 Hz filtered out first: no voice is there, only hum and room noise.

    Worked out MEL_CHUNK_FRAMES at a time, so an hour of audio costs its 58 MB of frames
    rather than a GB of spectrogram: the filter carries its state across chunks, and each
    chunk's frames see the samples they would see in one pass (librosa's centred frames, zero
    padded at the ends). With one BLAS thread: OpenBLAS's threads spin on after a call, and on
    two cores the voice encoder run just after took 2.4x as long (92 windows: 155 ms, not 64)."""
    import librosa
    from resemblyzer import hparams
    from scipy.signal import butter, sosfilt

    sos = butter(4, HIGH_PASS_HZ, "highpass", fs=RATE, output="sos")
    n_fft = int(hparams.sampling_rate * hparams.mel_window_length / 1000)
    hop = int(hparams.sampling_rate * hparams.mel_window_step / 1000)
    filtered = np.empty(len(samples), dtype=np.float32)
    state = np.zeros((sos.shape[0], 2))
    step = MEL_CHUNK_FRAMES * hop
    for start in range(0, len(samples), step):
        piece = floats(samples[start : start + step]).astype(np.float64)
        filtered[start : start + step], state = sosfilt(sos, piece, zi=state)
    total = 1 + len(samples) // hop
    out = np.empty((total, hparams.mel_n_channels), dtype=np.float32)
    with threadpool_limits(limits=1, user_api="blas"):  # the mel filter bank's matrix product
        for first in range(0, total, MEL_CHUNK_FRAMES):
            last = min(first + MEL_CHUNK_FRAMES, total)
            begin, end = first * hop - n_fft // 2, (last - 1) * hop + n_fft // 2 + n_fft % 2
            piece = filtered[max(begin, 0) : min(end, len(filtered))]
            piece = np.pad(piece, (max(0, -begin), max(0, end - len(filtered))))
            mel = librosa.feature.melspectrogram(
                y=piece,
                sr=RATE,
                n_fft=n_fft,
                hop_length=hop,
                n_mels=hparams.mel_n_channels,
                center=False,
            )
            out[first:last] = mel.T
    return out


def embed(windows: np.ndarray) -> np.ndarray:
    """Unit d-vectors for (n, 160, 40) mel windows."""
    import torch

    from analyzer.embeddings import native_bf16

    encoder = load_encoder()
    out = []
    # bf16 on CPUs that compute it natively: 3x faster, cosine to fp32 >= 0.998.
    bf16 = native_bf16()
    with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=bf16):
        for start in range(0, len(windows), ENCODER_BATCH):
            batch = torch.from_numpy(np.ascontiguousarray(windows[start : start + ENCODER_BATCH]))
            out.append(encoder(batch).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 256), dtype=np.float32)


def stretches(words: Sequence[Word], duration_s: float) -> list[tuple[float, float]]:
    """Spans of continuous speech: words joined across pauses shorter than STRETCH_GAP_S."""
    spans: list[list[float]] = []
    for word in sorted(words, key=lambda w: w.start_s):
        if spans and word.start_s - spans[-1][1] < STRETCH_GAP_S:
            spans[-1][1] = max(spans[-1][1], word.end_s)
        else:
            spans.append([word.start_s, word.end_s])
    return [
        (max(0.0, start - STRETCH_PAD_S), min(duration_s, end + STRETCH_PAD_S))
        for start, end in spans
    ]


def windows_over(mel: np.ndarray, spans: Sequence[tuple[float, float]]):
    """Mel windows sliding over each span, and each window's (start_s, end_s) of real audio."""
    windows, times = [], []
    for start_s, end_s in spans:
        first, last = int(start_s / FRAME_S), min(len(mel), int(np.ceil(end_s / FRAME_S)))
        if last - first < 10:  # under 0.1 s: nothing to hear a voice in
            continue
        if last - first <= WINDOW_FRAMES:
            piece = mel[first:last]
            repeats = int(np.ceil(WINDOW_FRAMES / len(piece)))
            windows.append(np.tile(piece, (repeats, 1))[:WINDOW_FRAMES])
            times.append((first * FRAME_S, last * FRAME_S))
            continue
        starts = list(range(first, last - WINDOW_FRAMES + 1, HOP_FRAMES))
        if starts[-1] != last - WINDOW_FRAMES:
            starts.append(last - WINDOW_FRAMES)  # the stretch's end gets a window of its own
        for frame in starts:
            windows.append(mel[frame : frame + WINDOW_FRAMES])
            times.append((frame * FRAME_S, (frame + WINDOW_FRAMES) * FRAME_S))
    if not windows:
        return np.zeros((0, WINDOW_FRAMES, 40), dtype=np.float32), np.zeros((0, 2))
    return np.stack(windows).astype(np.float32), np.array(times)


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-9)


def cluster(vectors: np.ndarray, max_speakers: int = MAX_SPEAKERS) -> np.ndarray:
    """Speaker index per d-vector, the number of speakers found from the data (1 to 6).

    k-means for each count from 2 up; the count with the best silhouette wins, a larger count
    only by a clear margin (splitting one voice in two would give half the rep to the customer).
    One speaker when the two halves of the best split into two sound alike.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    count = len(vectors)
    if count < 4:
        return np.zeros(count, dtype=int)
    best, best_score = None, -1.0
    for speakers in range(2, min(max_speakers, count - 1) + 1):
        labels = KMeans(speakers, n_init=KMEANS_STARTS, random_state=0).fit_predict(vectors)
        labels = _absorb_outliers(vectors, labels)
        if len(set(labels)) < speakers:
            continue  # the extra speaker was an outlier: the same split as fewer speakers
        if speakers == 2:
            halves = centroids_of(vectors, labels)
            if float(halves[0] @ halves[1]) >= SAME_VOICE_COSINE:
                return np.zeros(count, dtype=int)
        score = float(silhouette_score(vectors, labels, metric="cosine"))
        if best is None or score > best_score + SILHOUETTE_MARGIN:
            best, best_score = labels, score
    return best if best is not None else np.zeros(count, dtype=int)


def _absorb_outliers(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Clusters too small to be a speaker give their windows to the nearest big cluster."""
    sizes = np.bincount(labels)
    keep = [k for k in range(len(sizes)) if sizes[k] >= MIN_CLUSTER_SHARE * len(labels)]
    if len(keep) == len(sizes):
        return labels
    nearest = np.array(keep)[np.argmax(vectors @ centroids_of(vectors, labels)[keep].T, axis=1)]
    labels = np.where(np.isin(labels, keep), labels, nearest)
    return np.unique(labels, return_inverse=True)[1]


def centroids_of(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return _unit(np.stack([vectors[labels == k].mean(axis=0) for k in range(labels.max() + 1)]))


def word_scores(words: Sequence[Word], times: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """(words, speakers): mean similarity of the windows that cover each word's middle, the
    nearer a window's centre the more it counts; the nearest window when none covers it.
    Worked out WORD_BLOCK words at a time: an hour's words × windows would be GBs at once."""
    middles = np.array([(w.start_s + w.end_s) / 2 for w in words])
    centres = times.mean(axis=1)
    scores = np.empty((len(middles), similarity.shape[1]))
    for first in range(0, len(middles), WORD_BLOCK):
        block = middles[first : first + WORD_BLOCK, None]
        covers = (times[None, :, 0] <= block) & (block <= times[None, :, 1])
        distance = np.abs(block - centres[None, :])
        weights = np.where(covers, 1.0 / (0.2 + distance), 0.0)
        lonely = ~covers.any(axis=1)
        weights[lonely, np.argmin(distance[lonely], axis=1)] = 1.0
        weights /= weights.sum(axis=1, keepdims=True)
        scores[first : first + WORD_BLOCK] = weights @ similarity
    return scores


def viterbi(scores: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Best speaker sequence: maximize summed scores minus a cost per change of speaker, which
    falls to nothing as the pause before the word grows to SWITCH_FREE_GAP_S."""
    count, speakers = scores.shape
    switch = SWITCH_COST * np.clip(1 - gaps / SWITCH_FREE_GAP_S, 0, 1)
    total = scores[0].copy()
    back = np.zeros((count, speakers), dtype=int)
    for i in range(1, count):
        stay = total
        best_other = np.argmax(total)
        moves = total[best_other] - switch[i]
        back[i] = np.where(stay >= moves, np.arange(speakers), best_other)
        total = np.maximum(stay, moves) + scores[i]
    path = np.zeros(count, dtype=int)
    path[-1] = int(np.argmax(total))
    for i in range(count - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def _window_centroids(vectors, times, starts, ends, per_word, centroids) -> np.ndarray:
    """Each speaker's voice again, from the windows whose words all went to them."""
    refined = centroids.copy()
    for speaker in range(len(centroids)):
        theirs = starts[per_word == speaker], ends[per_word == speaker]
        others = starts[per_word != speaker], ends[per_word != speaker]
        inside = [
            np.any((theirs[0] < end) & (theirs[1] > start))
            and not np.any((others[0] < end) & (others[1] > start))
            for start, end in times
        ]
        if sum(inside) >= 2:
            refined[speaker] = _unit(vectors[np.array(inside)].mean(axis=0))
    return refined


def diarize(samples: np.ndarray, words: Sequence[Word], max_speakers: int = MAX_SPEAKERS):
    """Speaker per word (words in time order) for one-channel 16 kHz audio."""
    words = sorted(words, key=lambda w: w.start_s)
    if not words:
        return Diarization((), np.zeros((0, 256), dtype=np.float32), ())
    duration_s = len(samples) / RATE
    mel = mel_frames(samples)
    windows, times = windows_over(mel, stretches(words, duration_s))
    if len(windows) == 0:
        windows, times = windows_over(mel, [(0.0, duration_s)])
    vectors = embed(windows)
    labels = cluster(vectors, max_speakers)
    centroids = centroids_of(vectors, labels)
    if len(centroids) == 1:
        per_word = np.zeros(len(words), dtype=int)
    else:
        starts, ends = np.array([w.start_s for w in words]), np.array([w.end_s for w in words])
        gaps = np.concatenate([[0.0], starts[1:] - ends[:-1]])
        for _ in range(1 + REFINE_PASSES):
            scores = word_scores(words, times, vectors @ centroids.T)
            centred = scores - scores.mean(axis=1, keepdims=True)
            per_word = viterbi(centred / max(float(centred.std()), 1e-6), gaps)
            centroids = _window_centroids(vectors, times, starts, ends, per_word, centroids)
    # Speakers in order of first appearance; one left without words is dropped.
    order = list(dict.fromkeys(per_word.tolist()))
    remap = {old: new for new, old in enumerate(order)}
    talk = np.zeros(len(order))
    for word, speaker in zip(words, per_word, strict=True):
        talk[remap[speaker]] += word.end_s - word.start_s
    return Diarization(
        tuple(remap[s] for s in per_word.tolist()),
        centroids[order],
        tuple(round(float(t), 2) for t in talk),
    )


def speech_spans(samples: np.ndarray) -> list[tuple[float, float]]:
    """Where a clip without words has speech: Silero VAD, bundled in faster-whisper."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(floats(samples), VadOptions(min_silence_duration_ms=300))
    return [(chunk["start"] / RATE, chunk["end"] / RATE) for chunk in chunks]


def voice_of(samples: np.ndarray, spans: Sequence[tuple[float, float]] | None = None):
    """One speaker's voice: the mean d-vector over their speech, and the seconds it covers."""
    spans = speech_spans(samples) if spans is None else spans
    windows, _ = windows_over(mel_frames(samples), spans)
    if len(windows) == 0:
        return None, 0.0
    seconds = sum(end - start for start, end in spans)
    return _unit(embed(windows).mean(axis=0)), round(seconds, 2)


def opener(labels: Sequence[int]) -> int:
    """Who opened the call: the speaker of its first two words in a row (a lone first word
    given to the wrong voice must not decide it)."""
    for first, second in itertools.pairwise(labels):
        if first == second:
            return first
    return labels[0] if labels else 0


def label_mono(
    transcript: Transcript, samples: np.ndarray, rep: str | None, profiles: dict[str, Profile]
) -> Transcript:
    """A one-channel transcript split by speaker: utterances break at every change of voice,
    each speaker named and given a role (see `speakers.name_speakers`)."""
    words = sorted((w for u in transcript.utterances for w in u.words), key=lambda w: w.start_s)
    if not words:
        return transcript
    found = diarize(samples, words)
    texts = [
        "".join(w.text for w, label in zip(words, found.labels, strict=True) if label == k)
        for k in range(found.speakers)
    ]
    voices, roles_from = name_speakers(
        found.centroids, found.talk_s, texts, rep, profiles, opener=opener(found.labels)
    )
    utterances = []
    for label, run in itertools.groupby(zip(words, found.labels, strict=True), lambda p: p[1]):
        voice = voices[label]
        utterances.extend(words_to_utterances([w for w, _ in run], voice.speaker, voice.role))
    return replace(
        transcript, utterances=tuple(utterances), roles_from=roles_from, voices=tuple(voices)
    )


def rep_voice(transcript: Transcript, samples: np.ndarray) -> Voice | None:
    """The rep's voice from their own channel of a stereo call (its first two minutes of words)."""
    spans, total = [], 0.0
    rep_words = [w for u in transcript.utterances if u.role == "rep" for w in u.words]
    for start, end in stretches(rep_words, len(samples) / RATE):
        if total >= PROFILE_SPEECH_S:
            break
        spans.append((start, end))
        total += end - start
    # Only the audio up to the last span: the whole channel's spectrogram would cost a GB an hour.
    head = samples[: int((spans[-1][1] + 1.0) * RATE)] if spans else samples
    embedding, seconds = voice_of(head, spans) if spans else (None, 0.0)
    if embedding is None:
        return None
    speaker = next(u.speaker for u in transcript.utterances if u.role == "rep")
    return Voice(speaker, "rep", seconds, tuple(float(x) for x in embedding))
