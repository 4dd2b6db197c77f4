"""Editor settings: one validated defaults table, stored as JSON in the user config folder.

``Settings(path)`` redirects the file (tests); by default it is
``paths.user_config_dir() / "editor.json"`` (itself redirected by ``STYLEPAINT_HOME``).
A value that is missing, of the wrong type or out of range in the file falls back to its
default, so a hand-edited or damaged settings file never stops the editor from starting.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from stylepaint import paths

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
    "export_scale":    (1, lambda v: v in (1, 2, 4)),
    "export_dir":      ("", lambda v: isinstance(v, str)),
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
        data = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        if not isinstance(data, dict):
            data = {}
        self._values = {}
        for name, (default, valid) in DEFAULTS.items():
            value = data.get(name, default)
            self._values[name] = value if valid(value) else _copy(default)

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
        """Write atomically; returns False (and keeps running) when the folder is not writable."""
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
