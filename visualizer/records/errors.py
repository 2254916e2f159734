"""Errors of the records: each message names the field and the value at fault.

All are :class:`visualizer.errors.InjectVizError`, so the command line prints the message and
exits with code 2; the service raises them *before* anything is written.
"""

from visualizer.errors import InjectVizError


class RecordError(InjectVizError):
    """A request the rules refuse (bad value, missing lot, over a cap without an override, ...)."""


class NotFoundError(RecordError):
    """No patient or visit with that code or id."""


class StaleRecordError(RecordError):
    """Someone else saved the record since it was read (optimistic locking)."""


class DatabaseError(InjectVizError):
    """The database cannot be opened, created, upgraded or backed up."""
