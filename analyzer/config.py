"""Where things live: the database file, the bundled model assets, the default trackers."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV_VAR = "ANALYZER_DB"
THREADS_ENV_VAR = "ANALYZER_THREADS"  # threads each model may use; set per ingest worker
DEFAULT_DB_NAME = "analyzer.duckdb"

_PACKAGE_DIR = Path(__file__).resolve().parent


def models_dir() -> Path:
    """The `models/` folder: the repo's copy in a checkout, the packaged copy in a wheel."""
    for candidate in (_PACKAGE_DIR.parent / "models", _PACKAGE_DIR / "_models"):
        if (candidate / "trackers.yaml").is_file():
            return candidate
    raise FileNotFoundError("models/trackers.yaml not found next to the analyzer package")


def sample_calls_dir() -> Path:
    """The bundled sample calls (present in a checkout of the repository)."""
    return _PACKAGE_DIR.parent / "sample_calls"


def app_path() -> Path:
    return _PACKAGE_DIR.parent / "app.py"


def default_trackers_path() -> Path:
    return models_dir() / "trackers.yaml"


def topics_path() -> Path:
    """`docs/topics.md`, what each topic means: the repo's copy, else the packaged one."""
    for candidate in (_PACKAGE_DIR.parent / "docs" / "topics.md", models_dir() / "topics.md"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("docs/topics.md not found next to the analyzer package")


def default_db_path() -> Path:
    """`$ANALYZER_DB` if set, else `analyzer.duckdb` in the current directory."""
    return Path(os.environ.get(DB_ENV_VAR) or DEFAULT_DB_NAME)


def cpu_threads() -> int:
    """Threads a model may use: `$ANALYZER_THREADS`, else every core (one ingest process)."""
    return int(os.environ.get(THREADS_ENV_VAR) or os.cpu_count() or 2)


def worker_threads(workers: int) -> int:
    """Threads each of `workers` ingest processes gets: the cores shared out."""
    return max(1, cpu_threads() // workers)
