"""Where things live: packaged resources and the platform's user folders.

Tests redirect every user folder by setting ``STYLEPAINT_HOME`` (one folder that then holds
``data/``, ``cache/`` and ``config/``).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

import platformdirs

APP_NAME = "stylepaint"


def resources_dir() -> Path:
    """The package's own ``stylepaint/resources`` folder (embedded models, data registries),
    found through ``importlib.resources``: the same code serves a checkout, an installed wheel
    and a PyInstaller bundle. It must be a real folder (safetensors maps files, open_clip
    reads a config folder), so a zipped install of the package is refused here."""
    folder = importlib.resources.files("stylepaint").joinpath("resources")
    if not isinstance(folder, Path):
        raise RuntimeError(f"stylepaint's resources are not a folder on disk ({folder!r}): install the package unzipped")
    return folder


#: ``resources_dir()``, once: embedded models, catalogue, CLIP configs, prompt templates, vocabulary.
RESOURCES = resources_dir()
MODELS_DIR = RESOURCES / "models"


def _home_override() -> Path | None:
    home = os.environ.get("STYLEPAINT_HOME")
    return Path(home) if home else None


def user_data_dir() -> Path:
    """Favorites, recipes and other things the user made."""
    home = _home_override()
    path = home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_cache_dir() -> Path:
    """Downloaded models, precomputed directions: can be rebuilt, safe to delete."""
    home = _home_override()
    path = home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_config_dir() -> Path:
    """Settings and window layout."""
    home = _home_override()
    path = home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def clip_url_cache_dir() -> Path:
    """open_clip's own cache for weights fetched by URL (``download_pretrained_from_url``):
    where ``create_model(name, pretrained=tag)`` looks, the CLIP preflight checks and the model
    catalogue downloads. Under ``STYLEPAINT_HOME`` when that is set (not created here)."""
    home = _home_override()
    return home / "cache" / "clip" if home else Path("~/.cache/clip").expanduser()
