"""Background ingest for the app: uploads are checked, stored in a managed folder under their
sha256, and ingested one at a time on a worker thread while the page keeps working."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pathvalidate import sanitize_filename

from analyzer.errors import AnalyzerError, InputError
from analyzer.pipeline import IngestOptions, Ingestor, Outcome
from analyzer.records import CallMeta
from analyzer.sources import kind_of, load_audio, read_transcript, sha256_of
from analyzer.store import Store
from analyzer.trackers import load_trackers

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # Streamlit's own default upload limit


def recordings_dir(store: Store) -> Path:
    return store.path.resolve().parent / "recordings"


def user_trackers_path(store: Store) -> Path:
    return store.path.resolve().parent / "trackers.yaml"


def user_examples_dir(store: Store) -> Path:
    """Examples the app's users wrote (Trackers page), one writer: this team."""
    return store.path.resolve().parent / "examples"


def user_smart_path(store: Store) -> Path:
    """Smart trackers trained from the defaults plus the team's examples, when there are some."""
    return store.path.resolve().parent / "smart_trackers.json"


def team_smart_trackers(store: Store) -> Path | None:
    """The team's trained smart trackers, or None for the defaults."""
    path = user_smart_path(store)
    return path if path.exists() else None


def accept_upload(store: Store, name: str, content: bytes) -> Path:
    """Check an upload by its content and keep it as recordings/<sha256>_<safe name>.

    Raises InputError with the reason when it is too big, of an unsupported type, or not what
    its extension claims."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise InputError(f"larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    safe = sanitize_filename(Path(name).name, replacement_text="_") or "upload"
    kind = kind_of(Path(safe))
    folder = recordings_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".incoming_{threading.get_ident()}_{safe}"
    staging.write_bytes(content)
    try:
        if kind == "audio":
            load_audio(staging)  # decodes, so text renamed .wav or a corrupt file fails here
        else:
            read_transcript(staging, kind)
        digest = sha256_of(staging)
        final = folder / f"{digest[:16]}_{safe}"
        staging.replace(final)
        return final
    finally:
        staging.unlink(missing_ok=True)


@dataclass
class Job:
    """One upload batch: its files and what happened to each so far."""

    files: list[Path]
    owner: str  # who uploaded it; only they see its progress
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.error is not None or len(self.outcomes) == len(self.files)


class JobRunner:
    """One worker thread per app process: ingest is CPU-bound and the DB has one writer."""

    def __init__(self, store: Store):
        self.store = store
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
        self.jobs: list[Job] = []
        self._ingestor: Ingestor | None = None

    def ingestor(self) -> Ingestor:
        if self._ingestor is None:
            path = user_trackers_path(self.store)
            self.store.migrate()
            options = IngestOptions(smart_trackers=team_smart_trackers(self.store))
            trackers = load_trackers(path if path.exists() else None)
            self._ingestor = Ingestor(self.store, trackers, options)
        return self._ingestor

    def submit(self, files: list[Path], meta: CallMeta, owner: str) -> Job:
        job = Job(files, owner)
        self.jobs.append(job)
        self.executor.submit(self._run, job, meta)
        return job

    def _run(self, job: Job, meta: CallMeta) -> None:
        try:
            ingestor = self.ingestor()
            ingestor.ingest_many(job.files, {}, meta, on_done=job.outcomes.append)
        except AnalyzerError as error:
            job.error = str(error)

    def jobs_of(self, owner: str) -> list[Job]:
        return [job for job in self.jobs if job.owner == owner]

    def retag(self) -> int:
        """Re-run the (possibly edited) trackers over every stored call."""
        self._ingestor = None
        return self.ingestor().retag()
