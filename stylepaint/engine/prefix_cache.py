"""Synthesis that reuses the blocks whose styles did not change since the last render.

While a slider moves, consecutive renders differ only in some layers' styles. The features
and skip image after each block are kept, so the next render starts at the first block whose
styles changed: an edit of the fine layers re-runs only the last blocks. A preview stops at
the first block whose resolution reaches ``max_resolution`` and returns that block's skip
image: the skip architecture's intermediate RGB, exactly what the full network has at that
point. A float32 full render on release reuses a float32 preview's blocks.

``precision="bf16"`` (previews, where ``fast_precision`` says so) runs under CPU bfloat16
autocast: about twice as fast where the CPU has native bfloat16 (avx512_bf16, AMX), within
about 0.1 of the float32 pixels in [-1, 1]. bfloat16 and float32 blocks are cached apart.

A few prefixes are kept (the editor renders the edited picture and the unedited "before"
picture alternately); a render takes the one that matches it furthest. All of them together
take at most ``CACHE_SHARE`` of the memory budget (``engine.memory_budget``): the least
recently used make room first, and blocks that still do not fit are not stored. Random noise
is never cached.
"""

from __future__ import annotations

import contextlib
import functools
import threading

import torch

from stylepaint.engine.memory_budget import MemoryBudget

CACHE_SHARE = 0.25     # of the memory budget's limit the stored features may take


def stop_for(G, max_resolution: int | None) -> int:
    """Blocks to run for a picture of ``max_resolution`` (None or >= the output: all of them)."""
    resolutions = G.synthesis.block_resolutions
    if max_resolution is None:
        return len(resolutions)
    return next((i + 1 for i, r in enumerate(resolutions) if r >= max_resolution), len(resolutions))


@functools.lru_cache(maxsize=None)
def cpu_has_bf16() -> bool:
    """Whether oneDNN runs bfloat16 natively here (avx512_bf16 or AMX), so that it is faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def fast_precision(device) -> str:
    """The precision of a preview on ``device``: "bf16" where that is fast, else "fp32"."""
    return "bf16" if torch.device(device).type == "cpu" and cpu_has_bf16() else "fp32"


class _Prefix:
    def __init__(self, key):
        self.key = key
        self.styles: list[dict] = []                        # per block: its styles, as rendered
        self.outputs: list[tuple] = []                      # per block: (features, skip image) after it

    def matching(self, key, styles: dict, names: list[list[str]], stop: int) -> int:
        if key != self.key:
            return 0
        n = 0
        while n < min(stop, len(self.outputs)) and all(torch.equal(styles[k], self.styles[n][k]) for k in names[n]):
            n += 1
        return n


class PrefixCache:
    """``synthesize(G, styles, noise_mode, max_resolution)``: (image, blocks reused)."""

    def __init__(self, budget: MemoryBudget | None = None, slots: int = 3):
        self.budget = budget or MemoryBudget()
        self.slots = slots
        self._prefixes: list[_Prefix] = []                  # most recently used last
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._prefixes.clear()

    def synthesize(self, G, styles: dict, noise_mode: str = "const", max_resolution: int | None = None,
                   precision: str = "fp32") -> tuple[torch.Tensor, int]:
        """``precision`` "bf16": under CPU bfloat16 autocast (previews; see ``fast_precision``)."""
        with torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext():
            image, reused = self._synthesize(G, styles, noise_mode, max_resolution, precision)
        return image.float(), reused

    def _synthesize(self, G, styles, noise_mode, max_resolution, precision):
        synth = G.synthesis
        stop = stop_for(G, max_resolution)
        if noise_mode == "random":
            return synth.run_blocks(styles, noise_mode, 0, stop)[1], 0
        names = [[f"b{b.resolution}.{n}" for n in b.layer_names] for b in synth.blocks()]
        first = next(iter(styles.values()))
        key = (id(G), getattr(G, "model_id", None), noise_mode, tuple(first.shape), first.device, first.dtype, precision)
        with self._lock:
            best = max(self._prefixes, key=lambda p: p.matching(key, styles, names, stop), default=None)
            reuse = best.matching(key, styles, names, stop) if best is not None else 0
            if reuse == 0:                                  # start a new prefix in the oldest slot
                best = _Prefix(key)
                self._prefixes.append(best)
                if len(self._prefixes) > self.slots:
                    self._prefixes.pop(0)
            else:
                self._prefixes.remove(best)
                self._prefixes.append(best)
            del best.styles[reuse:], best.outputs[reuse:]
            x, img = best.outputs[reuse - 1] if reuse else (None, None)
            room = int(self.budget.limit(first.device) * CACHE_SHARE) - sum(
                _bytes(o) for prefix in self._prefixes for o in prefix.outputs)
            for i in range(reuse, stop):
                x, img = synth.run_blocks(styles, noise_mode, i, i + 1, x=x, img=img)
                room -= _bytes((x, img))
                while room < 0 and self._prefixes[0] is not best:   # the least recently used prefixes go first
                    room += sum(_bytes(o) for o in self._prefixes.pop(0).outputs)
                if room >= 0 and len(best.outputs) == i:
                    best.styles.append({k: styles[k].detach().clone() for k in names[i]})
                    best.outputs.append((x, img))
            return (img.clone() if reuse == stop else img), reuse


def _bytes(pair) -> int:
    return sum(t.numel() * t.element_size() for t in pair if t is not None)
