"""Errors that name the problem and the fix.

Every refusal ssft makes on bad input is one of these. The CLI prints the message alone (no
traceback), so each message must say what was wrong, where, and what to do about it.
"""

from __future__ import annotations


class SsftError(Exception):
    """Base class for every error ssft raises on purpose."""


class ConfigError(SsftError, ValueError):
    """A config key or value is unknown or invalid."""


class DataError(SsftError, ValueError):
    """The data is missing, unreadable or inconsistent (bad file, label out of range, ...)."""


class BackboneError(SsftError):
    """A backbone cannot be built or loaded."""


class CacheError(SsftError):
    """A feature cache is corrupt, incomplete or does not match its fingerprint."""


class TrainingError(SsftError):
    """Training cannot go on (a non-finite loss, for example)."""


class Interrupted(SsftError):
    """Training stopped on SIGTERM/SIGINT after writing a checkpoint."""
