"""Ingest: one file through sources -> speakers -> transcribe -> tagging -> store.

Every stage runs before the database is touched, so a crash or a bad file never leaves a half
written call: the store commits a finished call in one transaction, or a `failed` row.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from pathvalidate import sanitize_filename
from threadpoolctl import threadpool_limits

from analyzer.combined import CombinedTagger, load_smart_tagger
from analyzer.config import THREADS_ENV_VAR, worker_threads
from analyzer.diarize import label_mono, rep_voice, voice_of
from analyzer.errors import AnalyzerError, InputError
from analyzer.metrics import compute as compute_metrics
from analyzer.records import CallContext, CallMeta, CallRecord, Transcript, Utterance, Word
from analyzer.redact import beep, masked_spans, redact_text, redact_transcript, redact_utterance
from analyzer.sources import (
    SAMPLE_RATE,
    SUPPORTED_EXTENSIONS,
    encode,
    kind_of,
    load_audio,
    read_json_meta,
    read_manifest,
    read_transcript,
    sha256_of,
)
from analyzer.speakers import (
    DEFAULT_CHANNEL_ROLES,
    assign_roles,
    build_profiles,
    name_speakers,
    profile_for,
    split_sides,
)
from analyzer.store import Store
from analyzer.tagging import KeywordTagger
from analyzer.trackers import TrackerSet
from analyzer.transcribe import transcribe, vocabulary_prompt

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
MIN_ENROLL_SPEECH_S = 5.0
REDACT_SETTING = "redact_pii"
BEEP_SETTING = "redact_audio"


def redaction(store: Store) -> tuple[bool, bool]:
    """(text redaction on, audio beeped too) for this database, read afresh each time so a
    running app follows `analyzer pii` at once."""
    if not store.path.exists():
        return False, False
    text = store.setting(REDACT_SETTING) == "on"
    return text, text and store.setting(BEEP_SETTING) == "on"


def redacted_audio_dir(store: Store) -> Path:
    return store.path.resolve().parent / "redacted"


def redacted_audio_path(store: Store, call_id: str) -> Path:
    """The beeped copy of a call's recording, the only one the app plays while audio redaction
    is on."""
    return redacted_audio_dir(store) / f"{sanitize_filename(call_id, replacement_text='_')}.ogg"


def write_redacted_audio(source: Path, words: Iterable[Word], out: Path) -> int:
    """Write `source` with a beep over every masked word to `out` (Opus), atomically; returns
    how many stretches were beeped."""
    spans = masked_spans(words)
    channels = [beep(channel, SAMPLE_RATE, spans) for channel in load_audio(source).channels]
    samples = np.stack(channels, axis=1) if len(channels) == 2 else channels[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial.ogg")
    encode(partial, samples, bit_rate=32_000)
    partial.replace(out)
    return len(spans)


@dataclass(frozen=True)
class IngestOptions:
    model: str | None = None
    force: bool = False
    smart: bool = True  # add the smart trackers to the keyword trackers
    smart_trackers: Path | None = None  # trained file; default models/smart_trackers.json
    channel_roles: tuple[str, str] = DEFAULT_CHANNEL_ROLES
    diarize: bool = True  # separate the speakers of mono recordings by voice


@dataclass(frozen=True)
class Outcome:
    """What happened to one input file."""

    path: Path
    status: str  # "ok", "skipped" or "failed"
    call_id: str | None = None
    detail: str = ""
    utterances: int = 0
    mentions: int = 0
    duration_s: float = 0.0


@dataclass
class BatchSummary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(outcome.status == status for outcome in self.outcomes)

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "failed"]


def collect_inputs(
    paths: Iterable[Path], manifest_path: Path | None = None
) -> tuple[list[Path], dict[str, CallMeta]]:
    """Expand folders into the files to ingest, and read the manifest that describes them.

    A folder with a `manifest.csv` (or the one given) contributes exactly the files the manifest
    lists; a folder without one contributes every supported file in it, recursively.
    """
    manifest = read_manifest(manifest_path) if manifest_path else {}
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            folder_manifest = path / MANIFEST_NAME
            if manifest_path is None and folder_manifest.is_file():
                listed = read_manifest(folder_manifest)
                manifest.update(listed)
                files.extend(path / name for name in listed)
            elif manifest:
                files.extend(path / name for name in manifest)
            else:
                files.extend(
                    sorted(
                        child
                        for child in path.rglob("*")
                        if child.is_file() and child.suffix.lower() in SUPPORTED_EXTENSIONS
                    )
                )
        else:
            files.append(path)
    return list(dict.fromkeys(files)), manifest


def default_call_id(path: Path, sha256: str) -> str:
    return f"{path.stem}-{sha256[:8]}"


class Ingestor:
    """Holds the loaded tagger and the store; ingests files one at a time."""

    def __init__(self, store: Store, trackers: TrackerSet, options: IngestOptions | None = None):
        self.store = store
        self.trackers = trackers
        self.options = options or IngestOptions()
        smart = load_smart_tagger(self.options.smart_trackers) if self.options.smart else None
        self.tagger = CombinedTagger(KeywordTagger(trackers), smart)
        self.prompt = vocabulary_prompt(trackers.names())

    def ingest(self, path: Path, meta: CallMeta) -> Outcome:
        """Ingest one file. Never raises for a bad input: the failure is stored and returned."""
        if not path.is_file():
            return Outcome(path, "failed", detail="file not found")
        try:
            sha256 = sha256_of(path)
        except OSError as error:
            return Outcome(path, "failed", detail=f"cannot read file ({error.strerror or error})")
        if path.suffix.lower() == ".json":
            try:
                meta = merge_meta(meta, read_json_meta(path))
            except AnalyzerError as error:
                return self._fail(path, sha256, default_call_id(path, sha256), meta, str(error))
        call_id = meta.call_id or default_call_id(path, sha256)
        with self.store.reading():  # the lookups before the work, on one connection
            existing = self.store.find_by_sha(sha256)
            if existing and existing["call_id"] != call_id:
                call_id = existing["call_id"]  # re-ingesting the same content keeps its id
            taken = self.store.find_call(call_id)
            redact, beeped = redaction(self.store)
            context = self.trackers.call_context(*self.store.context_inputs(call_id, meta))
        if existing and existing["status"] == "ok" and not self.options.force:
            return Outcome(path, "skipped", call_id, "already ingested (same sha256)")
        replaced = taken and taken["source_path"] == str(path)  # the same file, edited since
        if taken and taken["status"] == "ok" and taken["content_sha256"] != sha256 and not replaced:
            # Never store anything under this id: that would replace another recording's call.
            reason = (
                f"call_id '{call_id}' already belongs to {taken['source_path']} (different "
                "content); give this file another call_id"
            )
            return Outcome(path, "failed", call_id, reason)
        try:
            transcript = self._transcript(path, meta, redact)
            if redact:  # before anything is tagged or stored (mono calls also before separation)
                transcript = redact_transcript(transcript)
            if beeped and transcript.source_kind == "audio":  # before the call can be opened
                out = redacted_audio_path(self.store, call_id)
                words = (word for u in transcript.utterances for word in u.words)
                write_redacted_audio(path, words, out)
            mentions = tuple(self.tagger.tag(transcript.utterances, context))
            metrics = compute_metrics(transcript.utterances, transcript.duration_s)
        except AnalyzerError as error:
            return self._fail(path, sha256, call_id, meta, str(error))
        except Exception as error:  # a decoder or model bug on odd input must not stop a batch
            logger.exception("unexpected error ingesting %s", path)
            return self._fail(path, sha256, call_id, meta, f"internal error ({error!r})")
        record = CallRecord(call_id, str(path), sha256, meta, transcript, mentions, metrics)
        self.store.save_call(record)
        return Outcome(
            path,
            "ok",
            call_id,
            utterances=len(transcript.utterances),
            mentions=len(mentions),
            duration_s=transcript.duration_s,
        )

    def _fail(self, path: Path, sha256: str, call_id: str, meta: CallMeta, reason: str) -> Outcome:
        record = CallRecord(call_id, str(path), sha256, meta, status="failed", error=reason)
        self.store.save_call(record)
        return Outcome(path, "failed", call_id, reason)

    def _transcript(self, path: Path, meta: CallMeta, redact: bool = False) -> Transcript:
        kind = kind_of(path)
        if kind != "audio":
            utterances = assign_roles(read_transcript(path, kind), meta.rep)
            return Transcript(
                utterances=tuple(utterances),
                duration_s=max(u.end_s for u in utterances),
                source_kind=kind,
                channels=len({u.speaker for u in utterances}),
                roles_from="names" if any(u.role != "unknown" for u in utterances) else None,
            )
        audio = load_audio(path)
        duration_s = audio.duration_s
        sides = split_sides(audio, self.options.channel_roles, overwrite=True)
        del audio  # the sides hold what is needed; an hour of stereo is 460 MB a copy
        if meta.rep:
            sides = [replace(s, speaker=meta.rep) if s.role == "rep" else s for s in sides]
        transcript = transcribe(
            sides, duration_s, model_name=self.options.model, prompt=self.prompt
        )
        if len(sides) == 2:
            rep_side = next((s for s in sides if s.role == "rep"), None)
            voice = rep_voice(transcript, rep_side.samples) if rep_side else None
            return replace(transcript, roles_from="channels", voices=(voice,) if voice else ())
        if not self.options.diarize:
            return transcript
        if redact:  # before separation can cut an identifier in two (and again after it)
            transcript = redact_transcript(transcript)
        return label_mono(transcript, sides[0].samples, meta.rep, self.profiles())

    def enroll(self, name: str, path: Path) -> tuple[float, int]:
        """Add a clip of `name` speaking alone to their voice profile; relabels the calls it now
        identifies. Returns the seconds of speech heard and the number of calls relabelled."""
        try:
            audio = load_audio(path)
        except InputError as error:
            raise InputError(f"{path}: {error}") from error
        embedding, seconds = voice_of(split_sides(audio)[0].samples)
        if embedding is None or seconds < MIN_ENROLL_SPEECH_S:
            raise InputError(
                f"{path}: {seconds:.0f} s of speech; a voice profile needs at least "
                f"{MIN_ENROLL_SPEECH_S:.0f} s of the rep talking"
            )
        self.store.add_voice_profile(name, str(path), sha256_of(path), seconds, embedding)
        return seconds, self.reidentify()

    def rediarize(self, call_id: str) -> Transcript:
        """Separate a stored mono call's speakers again, from its audio and stored words (no
        re-transcription), and replace its utterances, mentions and metrics."""
        row = self.store.call_row(call_id)
        if row is None or row["status"] != "ok":
            raise InputError(f"{call_id}: no such call")
        path = Path(row["source_path"])
        if row["source_kind"] != "audio" or row["roles_from"] == "channels":
            raise InputError(f"{call_id}: not a mono recording; its speakers come from {path.name}")
        if not path.is_file() or sha256_of(path) != row["content_sha256"]:
            raise InputError(f"{call_id}: the recording {path} is gone or has changed")
        words = tuple(self.store.words(call_id))
        if not words:
            raise InputError(f"{call_id}: no stored words to label")
        meta = CallMeta(**{key: row[key] for key in CallMeta.__dataclass_fields__})
        transcript = Transcript(
            utterances=(
                Utterance("unknown", "unknown", words[0].start_s, words[-1].end_s, "", words),
            ),
            duration_s=row["duration_s"],
            source_kind="audio",
            language=row["language"],
            asr_model=row["asr_model"],
        )
        samples = split_sides(load_audio(path))[0].samples
        transcript = label_mono(transcript, samples, meta.rep, self.profiles())
        mentions = tuple(self.tagger.tag(transcript.utterances, self.stored_context(call_id)))
        metrics = compute_metrics(transcript.utterances, transcript.duration_s)
        self.store.save_call(
            CallRecord(
                call_id, str(path), row["content_sha256"], meta, transcript, mentions, metrics
            )
        )
        return transcript

    def set_redaction(self, on: bool, *, audio: bool = False) -> tuple[int, int, list[str]]:
        """Turn PII redaction on or off for this database, with beeped audio copies or not.
        Turning it on also masks every call already stored (text, words, snippets), and with
        `audio` writes a beeped copy of each stored recording; turning audio off deletes the
        copies. Returns (utterances masked, recordings beeped, calls whose recording is gone)."""
        self.store.set_setting(REDACT_SETTING, "on" if on else "off")
        self.store.set_setting(BEEP_SETTING, "on" if on and audio else "off")
        if not (on and audio):
            shutil.rmtree(redacted_audio_dir(self.store), ignore_errors=True)
        if not on:
            return 0, 0, []
        masked = sum(
            self.store.rewrite_call_text(call_id, redact_utterance, redact_text)
            for call_id in self.store.call_ids()
        )
        self.store.refresh_search_index()  # search must not find what was masked
        beeped, missing = 0, []
        for row in self.store.recordings() if audio else []:
            source = Path(row["source_path"] or "")
            if not source.is_file():
                missing.append(row["call_id"])
                continue
            out = redacted_audio_path(self.store, row["call_id"])
            write_redacted_audio(source, self.store.words(row["call_id"]), out)
            beeped += 1
        return masked, beeped, missing

    def profiles(self):
        """The reps' voice profiles as the database knows them now."""
        return build_profiles(self.store.voice_samples())

    def reidentify(self) -> int:
        """Calls whose rep was guessed, or stayed unknown, whose rep now has a voice profile that
        matches one of the call's voices: relabel their speakers from the stored voices (no audio
        needed) and redo the mentions and metrics that depend on roles. Returns how many."""
        profiles = self.profiles()
        changed = 0
        for row in self.store.calls_needing_roles():
            if profile_for(row["rep"], profiles) is None:
                continue  # nothing new to match: skip reading the call
            voices = self.store.voices(row["call_id"])
            centroids = np.array([v.embedding for v in voices], dtype=np.float32)
            utterances = self.store.utterances(row["call_id"])
            texts = [" ".join(u.text for u in utterances if u.speaker == v.speaker) for v in voices]
            talk = [v.talk_s for v in voices]
            named, roles_from = name_speakers(centroids, talk, texts, row["rep"], profiles)
            if roles_from != "voice profile":
                continue
            mapping = {
                old.speaker: (new.speaker, new.role) for old, new in zip(voices, named, strict=True)
            }
            utterances = [
                replace(u, speaker=mapping[u.speaker][0], role=mapping[u.speaker][1])
                if u.speaker in mapping
                else u
                for u in utterances
            ]
            mentions = self.tagger.tag(utterances, self.stored_context(row["call_id"]))
            metrics = compute_metrics(utterances, self.store.duration_s(row["call_id"]))
            self.store.relabel_speakers(row["call_id"], mapping, roles_from, mentions, metrics)
            changed += 1
        return changed

    def stored_context(self, call_id: str) -> CallContext:
        """What tagging knows of a stored call beyond its words (is the customer an existing
        one?), from its type, title and its account's other calls."""
        return self.trackers.call_context(*self.store.context_inputs(call_id))

    def ingest_many(
        self,
        files: Sequence[Path],
        metas: dict[str, CallMeta],
        default: CallMeta,
        on_done: Callable[[Outcome], None] | None = None,
        on_start: Callable[[Path], None] | None = None,
        workers: int = 1,
    ) -> BatchSummary:
        """Ingest files (in order, or with `workers` processes side by side); one bad file
        never stops the batch."""
        summary = BatchSummary()
        jobs = [
            (path, merge_meta(metas[path.name], default) if path.name in metas else default)
            for path in files
        ]
        if workers > 1 and len(jobs) > 1:
            outcomes = self._ingest_in_workers(jobs, workers)
        else:
            outcomes = (self._ingest_announced(path, meta, on_start) for path, meta in jobs)
        for outcome in outcomes:
            summary.outcomes.append(outcome)
            if on_done:
                on_done(outcome)
        if summary.count("ok"):
            self.reidentify()  # a stereo call in this batch may have taught us a rep's voice
            self.store.refresh_search_index()
        return summary

    def _ingest_announced(
        self, path: Path, meta: CallMeta, on_start: Callable[[Path], None] | None
    ) -> Outcome:
        if on_start:
            on_start(path)
        return self.ingest(path, meta)

    def _ingest_in_workers(
        self, jobs: list[tuple[Path, CallMeta]], workers: int
    ) -> Iterator[Outcome]:
        """Outcomes as worker processes finish them. Each worker loads the models once, uses
        cores / workers threads, and stores its calls itself (the store serialises writers).
        A file whose content repeats an earlier one in the batch waits for the pool, so it is
        recognised as already ingested rather than transcribed twice at once."""
        first, repeats, seen = [], [], set()
        for path, meta in jobs:
            sha256 = sha256_of(path) if path.is_file() else str(path)
            (repeats if sha256 in seen else first).append((path, meta))
            seen.add(sha256)
        threads = worker_threads(workers)
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # no forked copies of loaded models
            initializer=_start_worker,
            initargs=(str(self.store.path), self.trackers, self.options, threads),
        )
        with pool:
            futures = {pool.submit(_ingest_in_worker, path, meta): path for path, meta in first}
            for future in as_completed(futures):
                try:
                    yield future.result()
                except BrokenProcessPool as error:  # a worker died (killed, out of memory)
                    yield Outcome(futures[future], "failed", detail=f"worker died ({error})")
        for path, meta in repeats:
            yield self.ingest(path, meta)

    def retag(self, on_done: Callable[[str, int], None] | None = None) -> int:
        """Re-run the trackers and metrics over every stored transcript (no re-transcription);
        returns the number of calls."""
        call_ids = self.store.call_ids()
        for call_id in call_ids:
            utterances = self.store.utterances(call_id)
            mentions = self.tagger.tag(utterances, self.stored_context(call_id))
            duration = self.store.duration_s(call_id)
            self.store.replace_analysis(call_id, mentions, compute_metrics(utterances, duration))
            if on_done:
                on_done(call_id, len(mentions))
        return len(call_ids)


_worker: Ingestor | None = None  # in a worker process: its own models, loaded once


def _start_worker(store_path: str, trackers: TrackerSet, options: IngestOptions, threads: int):
    global _worker
    os.environ[THREADS_ENV_VAR] = str(threads)  # read when each model loads
    threadpool_limits(threads)  # numpy's BLAS
    _worker = Ingestor(Store(store_path), trackers, options)


def _ingest_in_worker(path: Path, meta: CallMeta) -> Outcome:
    return _worker.ingest(path, meta)


def merge_meta(meta: CallMeta, fallback: CallMeta) -> CallMeta:
    """`meta` wins; `fallback` fills what it leaves empty (manifest row over flags, flags over
    the metadata inside a JSON transcript)."""
    return CallMeta(
        call_id=meta.call_id or fallback.call_id,
        rep=meta.rep or fallback.rep,
        account=meta.account or fallback.account,
        call_type=meta.call_type or fallback.call_type,
        call_date=meta.call_date or fallback.call_date,
        title=meta.title or fallback.title,
    )
