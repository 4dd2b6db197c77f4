"""The model catalogue: a data file of published generators and CLIP weights.

``resources/catalogue.json`` lists what can be downloaded; ``STYLEPAINT_CATALOGUE`` (or an
explicit path) points at another file, which is how tests serve a loopback catalogue.
Loading validates every entry and resolves licence ids, so the rest of the code can trust
the fields. Entries are frozen dataclasses; nothing here touches the network or torch.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stylepaint import paths
from stylepaint.errors import StylepaintError

DEFAULT_PATH = paths.RESOURCES / "catalogue.json"
ENV_VAR = "STYLEPAINT_CATALOGUE"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")
_FILENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Licence:
    id: str
    name: str
    url: str
    commercial_use: bool
    notice: str


@dataclass(frozen=True)
class Entry:
    """One downloadable file: a generator (kind "generator") or CLIP weights (kind "clip")."""

    kind: str
    name: str
    title: str
    urls: tuple[str, ...]
    filename: str
    size: int | None               # exact bytes when published
    approx_size_mb: float | None   # display estimate only
    sha256: str | None             # published checksum, lower-case hex
    licence: Licence
    domain: str = ""
    resolution: int | None = None
    format: str = ""
    neutral_prompt: str = ""
    clip: str | None = None        # default CLIP pairing, "NAME:TAG"
    directions_url: str | None = None
    directions_sha256: str | None = None
    model: str = ""                # CLIP architecture name (clip entries)
    pretrained: str = ""           # CLIP pretrained tag (clip entries)
    source: str = ""

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def expected_bytes(self) -> int | None:
        """Best size guess for the free-space check: exact size, else the estimate."""
        if self.size is not None:
            return self.size
        if self.approx_size_mb is not None:
            return int(self.approx_size_mb * 1e6)
        return None


class Catalogue:
    """Validated entries by name; generators first, then CLIP weights."""

    def __init__(self, entries: list[Entry], path: Path):
        self.path = path
        self._entries = {e.name: e for e in entries}

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    @property
    def generators(self) -> list[Entry]:
        return [e for e in self if e.kind == "generator"]

    @property
    def clips(self) -> list[Entry]:
        return [e for e in self if e.kind == "clip"]

    def get(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise StylepaintError(
                f"'{name}' is not in the model catalogue {self.path} (known: {known})"
            ) from None


def catalogue_path(path: str | os.PathLike | None = None) -> Path:
    """The catalogue file to use: the argument, else $STYLEPAINT_CATALOGUE, else the packaged one."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else DEFAULT_PATH


def load_catalogue(path: str | os.PathLike | None = None) -> Catalogue:
    path = catalogue_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StylepaintError(f"model catalogue {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StylepaintError(f"model catalogue {path} could not be read: {exc}") from None
    return parse_catalogue(data, path)


def parse_catalogue(data, path: Path) -> Catalogue:
    def fail(where: str, problem: str):
        raise StylepaintError(f"model catalogue {path}: {where}: {problem}")

    if not isinstance(data, dict) or data.get("version") != 1:
        fail("top level", "expected an object with \"version\": 1")
    licences = {}
    for lid, raw in (data.get("licences") or {}).items():
        if not isinstance(raw, dict):
            fail(f"licence '{lid}'", "must be an object")
        for key in ("name", "url", "notice"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                fail(f"licence '{lid}'", f"'{key}' must be a non-empty string")
        if not isinstance(raw.get("commercial_use"), bool):
            fail(f"licence '{lid}'", "'commercial_use' must be true or false")
        licences[lid] = Licence(lid, raw["name"], raw["url"], raw["commercial_use"], raw["notice"])

    entries: list[Entry] = []
    seen_names, seen_files = set(), set()
    for kind, key in (("generator", "generators"), ("clip", "clip")):
        items = data.get(key, [])
        if not isinstance(items, list):
            fail(key, "must be a list")
        for i, raw in enumerate(items):
            where = f"{key}[{i}]"
            if not isinstance(raw, dict):
                fail(where, "must be an object")
            entry = _parse_entry(kind, raw, licences, lambda p, w=where: fail(w, p))
            if entry.name in seen_names:
                fail(where, f"duplicate name '{entry.name}'")
            if entry.filename in seen_files:
                fail(where, f"duplicate filename '{entry.filename}'")
            seen_names.add(entry.name)
            seen_files.add(entry.filename)
            entries.append(entry)
    return Catalogue(entries, path)


def _parse_entry(kind: str, raw: dict, licences: dict, fail) -> Entry:
    def text(key, required=True):
        value = raw.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value):
            fail(f"'{key}' must be a non-empty string")
        return value

    def optional_url(key):
        value = raw.get(key)
        if value is not None and not _is_url(value):
            fail(f"'{key}' must be an http(s) URL or null")
        return value

    def optional_sha(key):
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not _SHA256.match(value.lower()):
            fail(f"'{key}' must be 64 hex digits or null (leave it null when no checksum is published)")
        return value.lower()

    name = text("name")
    if not _NAME.match(name):
        fail(f"name '{name}' may hold only letters, digits and . _ : + -")
    urls = raw.get("urls")
    if not isinstance(urls, list) or not urls or not all(_is_url(u) for u in urls):
        fail("'urls' must be a non-empty list of http(s) URLs")
    filename = text("filename")
    if not _FILENAME.match(filename) or filename.endswith((".part", ".lock", ".json")):
        fail(f"filename '{filename}' must be a plain file name")
    size = raw.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
        fail("'size' must be a positive number of bytes or null")
    approx = raw.get("approx_size_mb")
    if approx is not None and (not isinstance(approx, (int, float)) or isinstance(approx, bool) or approx <= 0):
        fail("'approx_size_mb' must be a positive number or null")
    lid = text("licence")
    if lid not in licences:
        fail(f"licence '{lid}' is not defined under \"licences\"")
    fields = dict(
        kind=kind, name=name, title=text("title", required=False) or name, urls=tuple(urls),
        filename=filename, size=size, approx_size_mb=approx, sha256=optional_sha("sha256"),
        licence=licences[lid], source=text("source", required=False),
    )
    if kind == "generator":
        resolution = raw.get("resolution")
        if not isinstance(resolution, int) or resolution < 4 or resolution & (resolution - 1):
            fail("'resolution' must be a power of two")
        clip = raw.get("clip")
        if clip is not None and (not isinstance(clip, str) or not clip):
            fail("'clip' must be a CLIP spec such as \"ViT-B-32:openai\" or null")
        fields.update(
            domain=text("domain"), resolution=resolution, format=text("format"),
            neutral_prompt=text("neutral_prompt"), clip=clip,
            directions_url=optional_url("directions_url"),
            directions_sha256=optional_sha("directions_sha256"),
        )
    else:
        fields.update(model=text("model"), pretrained=text("pretrained", required=False))
    return Entry(**fields)


def _is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 8
