"""The project's exception types.

Every error a user can cause (a bad file, a bad prompt, no network) is raised as a
``StylepaintError`` whose message is one sentence that names the thing and the problem.
The CLI prints that sentence and exits 2; the GUI shows it in a message box.
"""

from __future__ import annotations


class StylepaintError(Exception):
    """Base class: a problem the user can understand and fix."""


class FileError(StylepaintError):
    """A file could not be read: ``"<path>: <problem>"``, one sentence naming both."""

    def __init__(self, path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(FileError):
    """A model file could not be read (missing, truncated, foreign, unsafe, wrong contents)."""


class UnsafePickleError(CheckpointError):
    """A pickle asked for a global outside the allowed set; nothing from it was run."""


class DeviceError(StylepaintError):
    """The requested compute device does not exist or is not available."""


class InputError(StylepaintError):
    """Bad user input: an empty prompt, an unreadable image, an out-of-range value."""


class DataFileError(FileError, InputError):
    """A file the user made or chose could not be read: a latent, recipe, favorite, settings file."""


class ClipError(StylepaintError):
    """A CLIP model could not be found or loaded (unknown name, missing file, offline hub)."""


class DownloadError(StylepaintError):
    """A download failed (HTTP error, refused connection, timeout, checksum mismatch)."""


class Cancelled(StylepaintError):
    """A long job was stopped at the user's request."""
