"""Project-known CLIP models and prompt templates: both are data files in ``stylepaint/resources/``.

``stylepaint/resources/clip_models.json`` maps a short name ("portrait-clip") to an open_clip architecture
config and a weights file; ``stylepaint/resources/prompt_templates.json`` lists the templates that text
embeddings are averaged over and the default neutral text.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from stylepaint.errors import ClipError
from stylepaint.paths import RESOURCES

CLIP_MODELS_FILE = RESOURCES / "clip_models.json"
TEMPLATES_FILE = RESOURCES / "prompt_templates.json"


@functools.lru_cache(maxsize=8)
def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise ClipError(f"cannot read the data file {path} ({exc})") from exc


def known_models(path: Path | str = CLIP_MODELS_FILE) -> dict[str, dict]:
    """Short name -> entry (config, weights, mean, std, ...; paths made absolute)."""
    models = copy.deepcopy(_read(str(path))["models"])
    for entry in models.values():
        for key in ("config", "weights"):
            if entry.get(key):
                entry[key] = str((Path(path).parent / entry[key]).resolve())
    return models


def default_clip(path: Path | str = CLIP_MODELS_FILE) -> str:
    """The CLIP spec paired with the embedded default generator."""
    return _read(str(path))["default"]


def templates(path: Path | str = TEMPLATES_FILE) -> list[str]:
    """Prompt templates, each with one ``{}`` where the prompt goes."""
    return list(_read(str(path))["templates"])


def default_neutral(path: Path | str = TEMPLATES_FILE) -> str:
    return _read(str(path))["default_neutral"]
