"""Editor settings: one validated defaults table, stored as JSON in the user config folder.

``Settings(path)`` redirects the file (tests); by default it is
``paths.user_config_dir() / "editor.json"`` (itself redirected by ``STYLEPAINT_HOME``).
A value that is missing, of the wrong type or out of range in the file falls back to its
default, so a hand-edited or damaged settings file never stops the editor from starting.
What could not be read is never lost: the file is first copied beside itself
(``editor.json.unreadable-<time>``), ``problems`` says so in one sentence, and only then may
``save`` replace it. If no copy can be made, ``save`` leaves the file alone.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from stylepaint import paths
from stylepaint.errors import StylepaintError
from stylepaint.safe_read import read_json

_DEVICES = ("auto", "cpu", "cuda", "mps")


def _str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


#: name -> (default, validator)
DEFAULTS: dict[str, tuple] = {
    "device":          ("auto", lambda v: v in _DEVICES),
    "model":           (None, lambda v: v is None or isinstance(v, str)),     # last model path; None = embedded
    "clip":            (None, lambda v: v is None or isinstance(v, str)),     # CLIP spec; None = model's pairing
    "recent_models":   ([], _str_list),
    "recent_documents": ([], _str_list),                                      # .stylepaint files, newest first
    "last_document":   ("", lambda v: isinstance(v, str)),                    # reopened by a plain start
    "prompt_history":  ([], _str_list),
    "seed":            (0, lambda v: isinstance(v, int) and 0 <= v < 2**32),
    "truncation":      (0.7, lambda v: isinstance(v, (int, float)) and 0.0 <= v <= 2.0),
    "beta":            (0.1, lambda v: isinstance(v, (int, float)) and 0.0 <= v <= 1.0),
    "preview_size":    (256, lambda v: isinstance(v, int) and (v == 0 or 64 <= v <= 4096)),
    "brush_radius":    (0.06, lambda v: isinstance(v, (int, float)) and 0.005 <= v <= 0.5),
    "brush_hardness":  (0.5, lambda v: isinstance(v, (int, float)) and 0.0 <= v <= 1.0),
    "brush_opacity":   (1.0, lambda v: isinstance(v, (int, float)) and 0.01 <= v <= 1.0),
    "export_scale":    (1, lambda v: v in (1, 2, 4)),
    "export_format":   ("png", lambda v: v in ("png", "jpeg", "webp", "tiff")),
    "export_quality":  (92, lambda v: isinstance(v, int) and 1 <= v <= 100),
    "export_dir":      ("", lambda v: isinstance(v, str)),
    "optimize_steps":  (40, lambda v: isinstance(v, int) and 1 <= v <= 2000),            # latent optimizer (issue 17)
    "mapper_steps":    (2000, lambda v: isinstance(v, int) and 1 <= v <= 100000),        # latent mapper training
    "mapper_minutes":  (5.0, lambda v: isinstance(v, (int, float)) and 0.05 <= v <= 600),
    "history_limit":   (200, lambda v: isinstance(v, int) and 1 <= v <= 10000),
    "window_geometry": ("", lambda v: isinstance(v, str)),
    "window_state":    ("", lambda v: isinstance(v, str)),
}

MAX_RECENT = 8


class Settings:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else paths.user_config_dir() / "editor.json"
        self._values: dict = {}
        self.load()

    def load(self) -> None:
        self.problems: list[str] = []
        self._keep_file = False
        data, problem = {}, None
        if self.path.exists() or self.path.is_symlink():
            try:
                data = read_json(self.path, "settings")
            except StylepaintError as exc:
                problem = f"{exc}; the editor starts with default settings"
            if problem is None and not isinstance(data, dict):
                problem, data = f"{self.path}: is not a settings object; the editor starts with default settings", {}
        self._values = {}
        rejected = []
        for name, (default, valid) in DEFAULTS.items():
            value = data.get(name, default)
            if not valid(value):
                rejected.append(name)
            self._values[name] = value if valid(value) else _copy(default)
        if problem is None and rejected:
            problem = f"{self.path}: ignored invalid settings ({', '.join(rejected)}); their defaults are used"
        if problem is not None:
            self.problems.append(problem + self._back_up())

    def _back_up(self) -> str:
        """Copy the file that could not be (fully) read beside it; if that fails, never overwrite it."""
        if not self.path.is_file():
            self._keep_file = True          # a FIFO, device or folder: not ours to replace
            return ""
        backup = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            shutil.copyfile(self.path, backup)
        except OSError:
            self._keep_file = True
            return " (it could not be copied, so it will not be overwritten)"
        return f" (the file was kept as {backup.name})"

    def __getitem__(self, name: str):
        return _copy(self._values[name])

    def __setitem__(self, name: str, value) -> None:
        default, valid = DEFAULTS[name]
        if not valid(value):
            raise ValueError(f"invalid value for setting {name!r}: {value!r}")
        self._values[name] = _copy(value)

    def remember(self, name: str, item: str, limit: int = MAX_RECENT) -> None:
        """Move ``item`` to the front of a most-recent-first list setting."""
        items = [x for x in self[name] if x != item]
        self[name] = [item, *items][:limit]

    def save(self) -> bool:
        """Write atomically; returns False (and keeps running) when the folder is not writable,
        or when the file on disk could not be read and could not be kept (it is left alone)."""
        if self._keep_file:
            return False
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self._values, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
            return True
        except OSError:
            return False


def _copy(v):
    return list(v) if isinstance(v, list) else v
