"""How big the preview is while a slider moves: as big as the frame budget allows.

The "preview_size" setting is the largest preview; a 1024 px model on a laptop CPU renders even
a 256 px preview in several hundred milliseconds, and a drag that shows two frames a second does
not follow the mouse. So the size adapts to what this model and this machine deliver: a preview
that took longer than ``BUDGET_MS`` halves the next one (down to ``SMALLEST``); one that took
little enough that one twice as big would still fit (``GROWTH_COST``, with a margin) doubles it
again, up to the setting. Full-size pictures, on release, are not affected.
Pure Python: the controller feeds it the worker's timings.
"""

from __future__ import annotations

BUDGET_MS = 100.0       # a preview frame should render within this (the canvas and the queue add the rest)
SMALLEST = 32           # below this a preview says too little to be worth it
GROWTH_COST = 3.0       # a preview twice as big costs about this many times as much (config-f 1024, 2-core
                        # CPU, bf16: 32 -> 64 px 2.9x, 64 -> 128 px 1.9x: the small blocks cost little)
MARGIN = 1.2            # grow only when the bigger one would stay this far inside the budget


class AdaptivePreview:
    def __init__(self, budget_ms: float = BUDGET_MS):
        self.budget_ms = float(budget_ms)
        self.size: int | None = None          # the size the next preview asks for (None: the setting)
        self._resolution: int | None = None

    def next_size(self, largest: int, resolution: int) -> int | None:
        """The preview size to ask for; None where no preview is smaller than the picture."""
        if resolution != self._resolution:    # another model: start again from the setting
            self._resolution, self.size = resolution, None
        if not largest:
            return None
        size = min(self.size or largest, largest)
        return size if size < resolution else None

    def observe(self, size: int, render_ms: float, largest: int) -> None:
        """A preview of ``size`` took ``render_ms``; ``largest``: the setting, the ceiling."""
        if render_ms > self.budget_ms and size // 2 >= SMALLEST:
            self.size = size // 2
        elif render_ms * GROWTH_COST * MARGIN < self.budget_ms and size * 2 <= largest:
            self.size = size * 2
        else:
            self.size = size
