"""How much memory a batch may take: one budget for direction builds and preview rendering.

The budget is a number of bytes (default: a quarter of the machine's RAM, or of the GPU's
memory on CUDA). What a job may use is the smaller of the budget and what is free right now
(less a safety margin), and a batch is as many items as fit in that, at least one:

    budget = MemoryBudget.parse("6G")          # or "25%", or None for the default
    batch = budget.batch(per_item=est_bytes, fixed=model_bytes, device=G.device)

Free memory comes from psutil when it is installed, else /proc/meminfo (MemAvailable), else
os.sysconf; on CUDA from ``torch.cuda.mem_get_info``. Per-item estimates are computed from the
shapes the generator will produce (``synthesis_bytes``), not measured, so choosing a batch
costs nothing; ``benchmarks/bench_directions_big.py`` checks them against the real peak.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

from stylepaint.errors import InputError

DEFAULT_FRACTION = 0.25      # of total RAM (or GPU memory)
FREE_MARGIN = 0.85           # never plan on more than this share of what is free now
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _meminfo() -> dict[str, int]:
    """/proc/meminfo as bytes ({} where there is none)."""
    out = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                parts = rest.split()
                if parts and parts[0].isdigit():
                    out[name] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    except OSError:
        pass
    return out


def ram() -> tuple[int, int]:
    """(available, total) bytes of RAM: available is what a process can take now without
    swapping (MemAvailable, not MemFree)."""
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.available), int(vm.total)
    except ImportError:
        pass
    info = _meminfo()
    page = os.sysconf("SC_PAGE_SIZE")
    total = info.get("MemTotal") or page * os.sysconf("SC_PHYS_PAGES")
    free = info.get("MemAvailable") or (info["MemFree"] + info.get("Cached", 0) if "MemFree" in info else
                                        page * os.sysconf("SC_AVPHYS_PAGES"))
    return int(free), int(total)


def device_memory(device) -> tuple[int, int]:
    """(free, total) bytes on ``device``: the GPU's for CUDA, RAM otherwise."""
    device = torch.device(device)
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return int(free), int(total)
    return ram()


def parse_bytes(text: str) -> int:
    """'6G', '512M', '1.5g', '2e9' -> bytes (binary units)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)i?b?\s*", str(text).lower())
    if not m:
        raise InputError(f"cannot read {text!r} as a memory size (examples: 6G, 512M, 25%)")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class MemoryBudget:
    """At most ``nbytes`` (None: ``fraction`` of the device's total memory)."""

    nbytes: int | None = None
    fraction: float = DEFAULT_FRACTION

    @classmethod
    def parse(cls, text: str | None) -> "MemoryBudget":
        """None -> the default; '25%' -> a share of total memory; '6G' -> bytes."""
        if text is None or str(text).strip() == "":
            return cls()
        text = str(text).strip()
        if text.endswith("%"):
            try:
                share = float(text[:-1]) / 100
            except ValueError:
                raise InputError(f"cannot read {text!r} as a share of memory") from None
            if not 0 < share <= 1:
                raise InputError(f"a memory share must be above 0 % and at most 100 %, got {text}")
            return cls(None, share)
        nbytes = parse_bytes(text)
        if nbytes <= 0:
            raise InputError(f"a memory budget must be positive, got {text}")
        return cls(nbytes)

    def limit(self, device="cpu") -> int:
        """Bytes a job may use now: the budget, or less when less is free."""
        free, total = device_memory(device)
        budget = self.nbytes if self.nbytes is not None else int(total * self.fraction)
        return max(0, min(budget, int(free * FREE_MARGIN)))

    def batch(self, per_item: int, fixed: int = 0, device="cpu", cap: int | None = None) -> int:
        """Items per batch so that ``fixed + batch * per_item`` stays within ``limit``; at least 1."""
        room = self.limit(device) - fixed
        n = max(1, room // max(1, int(per_item)))
        return int(min(n, cap)) if cap else int(n)

    def describe(self, device="cpu") -> str:
        return f"{self.limit(device) / (1 << 30):.1f} GiB"


def block_shapes(G, start: int, stop: int) -> list[tuple[int, int]]:
    """(channels, resolution) of the features of blocks[start:stop] of G's synthesis."""
    synth = G.synthesis
    return [(synth.channels[r], r) for r in synth.block_resolutions[start:stop]]


def synthesis_bytes(G, start: int = 0, stop: int | None = None, grad: bool = False,
                    factor: float | None = None) -> int:
    """Estimated peak bytes of one image through blocks[start:stop] (float32).

    Without autograd a block holds a few feature maps of its own size at once (input,
    modulated copy, transposed-convolution output, blur output: ``factor`` 6 with margin for
    oneDNN's layout copies); the peak is the largest block's. With autograd every layer
    keeps its inputs and outputs for the backward pass: the sum over blocks (``factor`` 12).
    """
    stop = len(G.synthesis.block_resolutions) if stop is None else stop
    sizes = [4 * c * r * r for c, r in block_shapes(G, start, stop)] or [0]
    if grad:
        return int((factor or 12) * sum(sizes))
    return int((factor or 6) * max(sizes))


def clip_bytes(clip, grad: bool = False) -> int:
    """Estimated peak bytes of one image through CLIP's image tower (float32)."""
    size = clip.input_resolution
    pixels = 3 * size * size * 4
    width = getattr(getattr(clip.model, "visual", None), "transformer", None)
    width = getattr(width, "width", 768)
    patch = getattr(getattr(clip.model, "visual", None), "patch_size", (32, 32))
    patch = patch[0] if isinstance(patch, (tuple, list)) else int(patch)
    tokens = (size // max(patch, 1)) ** 2 + 1
    layers = getattr(getattr(getattr(clip.model, "visual", None), "transformer", None), "layers", 12)
    layers = layers if isinstance(layers, int) else 12
    per_layer = tokens * width * 4 * 8 + tokens * tokens * 4 * 12        # MLP x4 width + attention maps
    return int(8 * pixels + (layers if grad else 2) * per_layer)


def model_bytes(*modules) -> int:
    """Bytes of the parameters and buffers of ``modules`` (the fixed part of a budget)."""
    total = 0
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            total += t.numel() * t.element_size()
    return total
