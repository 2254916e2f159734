"""Exceptions for bad input; every message names the file, field and value at fault."""


class InjectVizError(Exception):
    """Base class for every error caused by bad input."""


class ProtocolError(InjectVizError):
    """A protocol file or id is missing, malformed or invalid."""


class LandmarkError(InjectVizError):
    """A landmark is missing, unknown or unusable."""


class MeshError(InjectVizError):
    """A mesh file is unreadable or unusable."""


class PainError(InjectVizError):
    """A pain origin (region name or point) is invalid."""
