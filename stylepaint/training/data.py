"""Training images: a uint8 array in memory (from a .npy file or rendered with all cores).

* ``NpyImages(path)`` reads ``[N, H, W, 3]`` (or ``[N, 3, H, W]``) uint8 RGB from a ``.npy``.
* ``render_images(count, size, first_seed, workers)`` renders procedural portraits with all
  cores (``stylepaint.portraits.dataset``); ``load_images(spec)`` picks by the ``--data`` spec.
  To pre-render to disk use ``stylepaint dataset render --count N --size 128 FOLDER``.
* ``ImageBatches`` draws shuffled minibatches, epoch by epoch, from a seeded permutation, so
  the stream is a pure function of (seed, step) and resumes exactly from a step count. When
  the device is CUDA the whole array is uploaded once and indexed there.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from stylepaint.errors import InputError


def _to_nhwc(array: np.ndarray, source: str) -> np.ndarray:
    if array.dtype != np.uint8 or array.ndim != 4:
        raise InputError(f"{source}: expected uint8 images [N, H, W, 3], got {array.dtype} {list(array.shape)}")
    if array.shape[-1] != 3 and array.shape[1] == 3:
        array = array.transpose(0, 2, 3, 1)
    if array.shape[-1] != 3 or array.shape[1] != array.shape[2]:
        raise InputError(f"{source}: expected square RGB images [N, R, R, 3], got {list(array.shape)}")
    return np.ascontiguousarray(array)


def load_npy_images(path: str | os.PathLike) -> np.ndarray:
    """uint8 ``[N, R, R, 3]`` from a .npy file (NCHW files are transposed)."""
    path = Path(path)
    try:
        array = np.load(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such training data file") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a .npy image array ({exc})") from None
    return _to_nhwc(np.asarray(array), str(path))


def render_images(count: int, size: int, first_seed: int = 0, workers: int | None = None) -> Iterator[dict]:
    """Render portraits ``first_seed ..`` at ``size`` px with all cores (``portraits.dataset``).

    Yields progress dicts; the last one carries ``"images"``: uint8 ``[count, size, size, 3]``.
    Training seeds stay below ``HELD_OUT_SEED`` (the evaluation sets start there).
    """
    from stylepaint.portraits.dataset import HELD_OUT_SEED, iter_render

    if first_seed + count > HELD_OUT_SEED:
        raise InputError(f"training seeds must stay below {HELD_OUT_SEED} (held out for evaluation)")
    out = np.empty((count, size, size, 3), np.uint8)
    done = 0
    for offset, images, _ in iter_render(range(first_seed, first_seed + count), size, workers):
        out[offset:offset + len(images)] = images
        done += len(images)
        yield {"done": done, "total": count, "message": "rendering portraits"}
    yield {"done": count, "total": count, "message": "rendered", "images": out}


def load_images(spec: str, size: int | None = None, chunk: int = 0, workers: int | None = None) -> Iterator[dict]:
    """Training images from ``spec``: a ``.npy`` file, a data set folder holding ``images.npy``
    (``stylepaint dataset render``), or ``render:N`` (N fresh portraits at ``size`` px, seeds
    ``chunk * N ..``, so every resumed chunk of a run sees new images).

    Yields progress dicts; the last one carries ``"images"``.
    """
    if spec.startswith("render:"):
        try:
            count = int(spec.split(":", 1)[1])
        except ValueError:
            raise InputError(f"--data render:N needs a number of images, not {spec!r}") from None
        if size is None:
            raise InputError("render:N needs the generator's resolution")
        yield from render_images(count, size, first_seed=chunk * count, workers=workers)
        return
    path = Path(spec)
    if path.is_dir():
        path = path / "images.npy"
    images = load_npy_images(path)
    yield {"done": len(images), "total": len(images), "message": f"read {path}", "images": images}


class ImageBatches:
    """Shuffled minibatches as float tensors in [-1, 1], ``[B, 3, R, R]``, resumable by step."""

    def __init__(self, images: np.ndarray, batch: int, seed: int, device: torch.device):
        self.images = _to_nhwc(images, "training data")
        if len(self.images) < batch:
            raise InputError(f"training data holds {len(self.images)} images, fewer than one batch of {batch}")
        self.batch, self.seed, self.device = batch, seed, device
        self.resolution = self.images.shape[1]
        store = torch.from_numpy(self.images)
        if device.type == "cuda":
            store = store.to(device)  # one upload; batches are then indexed on the GPU
        self.store = store
        self._epoch, self._perm = -1, None

    def __len__(self) -> int:
        return len(self.images)

    def _permutation(self, epoch: int) -> torch.Tensor:
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm, self._epoch = torch.randperm(len(self.images), generator=gen), epoch
        return self._perm

    def indices(self, step: int) -> torch.Tensor:
        """The image indices of minibatch ``step`` (batches never straddle an epoch)."""
        per_epoch = len(self.images) // self.batch
        epoch, k = divmod(step, per_epoch)
        return self._permutation(epoch)[k * self.batch:(k + 1) * self.batch]

    def get(self, step: int) -> torch.Tensor:
        idx = self.indices(step)
        if self.store.device.type != "cpu":
            idx = idx.to(self.store.device)
        x = self.store[idx].to(self.device, non_blocking=True)
        return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
