"""Resolve a CLIP spec to local files before anything is built, failing fast and clearly.

A spec is ``NAME[:TAG|FILE]``:

- ``portrait-clip``                      a project-known name (``stylepaint/resources/clip_models.json``)
- ``ViT-B-32:laion2b_s34b_b79k``         an open_clip architecture with a pretrained tag
- ``ViT-B-32:/path/weights.pt``          an open_clip architecture with a local weights file
- ``/path/arch.json:/path/weights.pt``   an open_clip-style architecture config with weights
- ``ViT-B-32:random`` / ``arch.json:random``  random weights, the same each time (tests and benchmarks only)
- ``hf-hub:org/repo``, ``local-dir:/path``  open_clip's own schemas

``preflight(spec)`` never lets open_clip talk to a hub: pretrained weights are looked up in the
local caches only. A tag that is not cached raises "not downloaded" (or, when a download was
asked for and the hub cannot be reached within a second, "offline"). Every failure is a
``ClipError`` naming the spec and the problem, raised in well under 2 s.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json
import os
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from stylepaint import paths
from stylepaint.clip import registry
from stylepaint.errors import ClipError

RANDOM_TAG = "random"
WEIGHT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt")
CONNECT_TIMEOUT_S = 1.0
HF_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


@dataclass
class ClipSource:
    """Where a CLIP model's architecture and weights come from, all local."""

    spec: str                           # as the user wrote it
    arch: str                           # open_clip model name, or "local-dir:<folder>"
    config: dict | None = None          # architecture dict for configs that open_clip lacks
    weights: str | None = None          # local weights file; None = random init (or in local-dir)
    preprocess: dict = field(default_factory=dict)  # mean/std/interpolation/resize_mode overrides
    quick_gelu: bool = False
    download: dict | None = None        # open_clip pretrained cfg still to download (download=True)


def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split ``NAME[:TAG|FILE]`` into name and rest; schema prefixes stay in the name."""
    if not isinstance(spec, str) or not spec.strip():
        raise ClipError("no CLIP model given: expected NAME[:TAG|FILE], e.g. ViT-B-32:openai")
    spec = spec.strip()
    for schema in ("hf-hub:", "local-dir:"):
        if spec.startswith(schema):
            return spec, None
    # A Windows drive letter ("C:\...") is part of a path, not a separator.
    start = 2 if len(spec) > 2 and spec[1] == ":" and spec[0].isalpha() and spec[2] in "\\/" else 0
    cut = spec.find(":", start)
    if cut < 0:
        return spec, None
    name, rest = spec[:cut], spec[cut + 1:]
    return name, (rest or None)


def _looks_like_file(text: str) -> bool:
    return os.sep in text or "/" in text or text.lower().endswith(WEIGHT_SUFFIXES + (".json",))


def _builtin_names() -> list[str]:
    """open_clip's architecture names, read from its config folder without importing it."""
    found = importlib.util.find_spec("open_clip")
    if found is None or not found.origin:
        raise ClipError("open_clip is not installed (pip install open_clip_torch)")
    folder = Path(found.origin).parent / "model_configs"
    return sorted(p.stem for p in folder.glob("*.json"))


def _unknown_name(name: str) -> ClipError:
    candidates = list(registry.known_models()) + _builtin_names()
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    hint = (f"; did you mean {', '.join(close)}?" if close else
            "; expected a project name (portrait-clip), an open_clip name with a tag (ViT-B-32:openai) "
            "or CONFIG.json:WEIGHTS")
    return ClipError(f"unknown CLIP model {name!r}{hint}")


def _existing_file(path: str, what: str, spec: str) -> str:
    p = Path(path).expanduser()
    if not p.is_file():
        raise ClipError(f"{spec}: the {what} file {p} is missing")
    return str(p.resolve())


def _read_config(path: str, spec: str) -> dict:
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ClipError(f"{spec}: cannot read the CLIP config {path} ({exc})") from exc
    cfg = cfg.get("model_cfg", cfg)
    if not all(k in cfg for k in ("embed_dim", "vision_cfg", "text_cfg")):
        raise ClipError(f"{spec}: {path} is not an open_clip config (needs embed_dim, vision_cfg, text_cfg)")
    return cfg


def config_arch_name(cfg: dict) -> str:
    """A stable open_clip registry name for a config that open_clip does not ship."""
    digest = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]
    return f"stylepaint-{digest}"


def hub_reachable(url: str, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """True when a TCP connection to the URL's host opens within ``timeout`` seconds.

    Honours HF_HUB_OFFLINE. DNS is resolved in a helper thread so a hanging resolver cannot
    hold the caller longer than the timeout.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    result = []

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.2)
    return bool(result and result[0])


def _hf_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def _hf_cached(repo_id: str, filenames) -> str | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    for filename in filenames:
        hit = try_to_load_from_cache(repo_id=repo_id, filename=filename)
        if isinstance(hit, str) and os.path.isfile(hit):
            return hit
    return None


def _cached_pretrained(cfg: dict) -> str | None:
    """The local file of an open_clip pretrained cfg, if some earlier download left one."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        repo_id, filename = os.path.split(hub)
        names = [filename] if filename else list(HF_WEIGHT_FILES)
        if filename.endswith((".bin", ".pth")):
            names.insert(0, filename[:-4] + ".safetensors")
        hit = _hf_cached(repo_id, names)
        if hit:
            return hit
    url = cfg.get("url", "")
    if url:
        target = paths.clip_url_cache_dir() / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def _tag_list(tags: list[str], most: int = 6) -> str:
    if not tags:
        return "none"
    return ", ".join(tags[:most]) + (f", ... ({len(tags)} in all)" if len(tags) > most else "")


def _download_url(cfg: dict) -> str:
    if cfg.get("hf_hub"):
        return _hf_endpoint()
    return cfg.get("url", "")


def _not_local(spec: str, url: str, download: bool) -> ClipError | None:
    if not download:
        return ClipError(f"CLIP weights {spec} are not downloaded (nothing was fetched; "
                         f"download them once with --download while online)")
    if not url or not hub_reachable(url):
        host = urlparse(url).hostname or "the model hub"
        return ClipError(f"CLIP weights {spec} are not downloaded and {host} cannot be reached (offline)")
    return None


def _tag_source(spec: str, arch: str, tag: str, download: bool) -> ClipSource:
    from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model

    cfg = get_pretrained_cfg(arch, tag)
    if not cfg:
        listed = _tag_list(list_pretrained_tags_by_model(arch))
        raise ClipError(f"{spec}: {arch} has no pretrained tag {tag!r} and no such file exists (tags: {listed})")
    preprocess = {k: cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    source = ClipSource(spec=spec, arch=arch, preprocess=preprocess, quick_gelu=bool(cfg.get("quick_gelu")))
    source.weights = _cached_pretrained(cfg)
    if source.weights is None:
        error = _not_local(spec, _download_url(cfg), download)
        if error:
            raise error
        source.download = dict(cfg)
    return source


def _hub_source(spec: str, download: bool) -> ClipSource:
    repo_id = spec[len("hf-hub:"):]
    config = _hf_cached(repo_id, ["open_clip_config.json"])
    if config is None:
        error = _not_local(spec, _hf_endpoint(), download)
        if error:
            raise error
        return ClipSource(spec=spec, arch=spec, download={"hf_hub_repo": repo_id})
    folder = str(Path(config).parent)
    if not any((Path(folder) / name).is_file() for name in HF_WEIGHT_FILES):
        raise ClipError(f"{spec}: the cached copy has a config but no weights file")
    return ClipSource(spec=spec, arch=f"local-dir:{folder}")


def preflight(spec: str, download: bool = False) -> ClipSource:
    """Check that ``spec`` names a CLIP whose files are all here; raise ``ClipError`` if not.

    Touches no network unless ``download`` is true, and then only to test, with a 1 s
    timeout, whether the hub answers.
    """
    name, rest = parse_spec(spec)
    spec = spec.strip()

    if name.startswith("hf-hub:"):
        return _hub_source(spec, download)
    if name.startswith("local-dir:"):
        folder = Path(name[len("local-dir:"):]).expanduser()
        _existing_file(str(folder / "open_clip_config.json"), "open_clip_config.json", spec)
        return ClipSource(spec=spec, arch=f"local-dir:{folder.resolve()}")

    known = registry.known_models()
    if name in known:
        entry = known[name]
        config = _read_config(_existing_file(entry["config"], "architecture config", spec), spec)
        if rest == RANDOM_TAG:
            weights = None
        else:
            weights = _existing_file(rest or entry["weights"], "weights", spec)
        preprocess = {k: entry[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in entry}
        return ClipSource(spec=spec, arch=config_arch_name(config), config=config, weights=weights,
                          preprocess=preprocess, quick_gelu=bool(entry.get("quick_gelu")))

    if name.lower().endswith(".json") or (_looks_like_file(name) and not name.startswith("hf-hub")):
        config = _read_config(_existing_file(name, "architecture config", spec), spec)
        if rest is None:
            raise ClipError(f"{spec}: give a weights file after the config (CONFIG.json:WEIGHTS) or ':random'")
        weights = None if rest == RANDOM_TAG else _existing_file(rest, "weights", spec)
        return ClipSource(spec=spec, arch=config_arch_name(config), config=config, weights=weights)

    arch = name.replace("/", "-")
    if arch not in _builtin_names():
        raise _unknown_name(name)
    if rest is None:
        from open_clip.pretrained import list_pretrained_tags_by_model

        tags = _tag_list(list_pretrained_tags_by_model(arch))
        raise ClipError(f"{spec}: say which weights, as {arch}:TAG or {arch}:FILE (tags: {tags})")
    if rest == RANDOM_TAG:
        return ClipSource(spec=spec, arch=arch)
    if _looks_like_file(rest) or Path(rest).expanduser().exists():
        return ClipSource(spec=spec, arch=arch, weights=_existing_file(rest, "weights", spec))
    return _tag_source(spec, arch, rest, download)
