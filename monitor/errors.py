"""Exceptions raised by the monitor.

    MonitorError                  root: every error this package raises on purpose
    ├── ConfigError (ValueError)     the monitor config is invalid
    ├── StorageError (OSError)       an object or prefix cannot be read or written
    │   └── NotFoundError (FileNotFoundError)   the object, prefix or bucket does not exist
    │       ├── ObjectNotFoundError              no object (or no data file under the prefix)
    │       └── BucketNotFoundError              the bucket itself is missing: a config or setup error
    ├── DataError (ValueError)       the data cannot be used as it is (schema, parse, empty)
    ├── UnknownMethodError (KeyError) a method name is not in its registry
    ├── NotifyError (RuntimeError)   the email could not be built or delivered
    └── DeadlineError (TimeoutError) a storage operation or the run exceeded its time limit (config `limits`)

Every message names the bad thing (file, key path, URI, column) and the fix.
"""

from __future__ import annotations

__all__ = [
    "MonitorError",
    "ConfigError",
    "StorageError",
    "NotFoundError",
    "ObjectNotFoundError",
    "BucketNotFoundError",
    "DataError",
    "UnknownMethodError",
    "NotifyError",
    "DeadlineError",
]


class MonitorError(Exception):
    """Root of every error the monitor raises on purpose."""


class ConfigError(MonitorError, ValueError):
    """The monitor config is invalid: the message names the file, key path and what is allowed."""


class StorageError(MonitorError, OSError):
    """An object or prefix cannot be read or written: the message names the URI."""


class NotFoundError(StorageError, FileNotFoundError):
    """The object, prefix or bucket does not exist."""


class ObjectNotFoundError(NotFoundError):
    """No object at the URI, or no data file under the prefix (e.g. a partition not written yet)."""


class BucketNotFoundError(NotFoundError):
    """The bucket does not exist: retrying will not help; fix the URI or create the bucket."""


class DataError(MonitorError, ValueError):
    """The data cannot be used as it is: the message names the column or file and the fix."""


class UnknownMethodError(MonitorError, KeyError):
    """A method name is not in its registry: the message lists the known names."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable
        return str(self.args[0]) if self.args else ""


class NotifyError(MonitorError, RuntimeError):
    """The email could not be built or delivered."""


class DeadlineError(MonitorError, TimeoutError):
    """A storage operation or the run took longer than its budget: the message names what and which limit."""
