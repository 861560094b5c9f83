"""Errors a user can act on. Every message names what was wrong and, where it helps, what to do."""


class AnalyzerError(Exception):
    """Base class for every error the analyzer raises on purpose."""


class InputError(AnalyzerError):
    """A file or its metadata cannot be ingested (unsupported, corrupt, empty, silent...)."""


class TrackerError(AnalyzerError):
    """The tracker definitions are malformed."""


class StoreError(AnalyzerError):
    """The database cannot be opened or written."""
