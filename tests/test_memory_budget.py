"""The memory budget: parsing, free-memory sources, batch arithmetic, and the direction
build picking its batches from it (never above the budget, never below one)."""

from __future__ import annotations

import pytest
import torch

from stylepaint.engine import memory_budget as mb
from stylepaint.engine.memory_budget import MemoryBudget
from stylepaint.engine.networks import Generator
from stylepaint.errors import InputError

GiB = 1 << 30


@pytest.fixture
def ram(monkeypatch):
    """A machine with 16 GiB of RAM of which `free` bytes are available."""
    state = {"free": 12 * GiB}
    monkeypatch.setattr(mb, "device_memory", lambda device: (state["free"], 16 * GiB))
    return state


def test_parse_sizes_and_shares():
    assert MemoryBudget.parse(None) == MemoryBudget()
    assert MemoryBudget.parse("6G").nbytes == 6 * GiB
    assert MemoryBudget.parse("512M").nbytes == 512 << 20
    assert MemoryBudget.parse("1.5GiB").nbytes == int(1.5 * GiB)
    assert MemoryBudget.parse("30%") == MemoryBudget(None, 0.3)
    for bad in ("lots", "-1G", "0", "0%", "150%", "x%"):
        with pytest.raises(InputError):
            MemoryBudget.parse(bad)


def test_limit_is_the_budget_or_less_when_less_is_free(ram):
    assert MemoryBudget().limit() == 4 * GiB                       # a quarter of 16 GiB
    assert MemoryBudget(6 * GiB).limit() == 6 * GiB
    ram["free"] = 2 * GiB
    assert MemoryBudget(6 * GiB).limit() == int(2 * GiB * mb.FREE_MARGIN)


def test_batch_fits_the_limit_and_is_at_least_one(ram):
    budget = MemoryBudget(1 * GiB)
    n = budget.batch(per_item=100 << 20, fixed=200 << 20)
    assert n == (1 * GiB - (200 << 20)) // (100 << 20)
    assert 200 * (1 << 20) + n * (100 << 20) <= 1 * GiB
    assert budget.batch(per_item=100 << 20, fixed=200 << 20, cap=3) == 3
    assert budget.batch(per_item=4 * GiB) == 1                     # one item always runs


def test_free_memory_is_read_from_proc_meminfo_without_psutil(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_psutil(name, *args, **kwargs):
        if name == "psutil":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psutil)
    free, total = mb.ram()
    assert 0 < free <= total
    info = mb._meminfo()
    if info:
        assert total == info["MemTotal"]


def test_estimates_grow_with_resolution_and_autograd():
    with torch.device("meta"):
        small = Generator(z_dim=8, w_dim=8, img_resolution=64, mapping_layers=1, channel_base=256, channel_max=16)
        big = Generator(z_dim=8, w_dim=8, img_resolution=256, mapping_layers=1, channel_base=1024, channel_max=16)
    assert mb.synthesis_bytes(big) > mb.synthesis_bytes(small) > 0
    assert mb.synthesis_bytes(small, grad=True) > mb.synthesis_bytes(small)
    # up to block 2 (16 px) only: the largest feature map is 16 x 16 x 16 floats
    assert mb.synthesis_bytes(small, 0, 3) == 6 * 4 * 16 * 16 * 16


def test_directions_build_batches_follow_the_budget(ram):
    from stylepaint.directions.precompute import BuildParams, finite_batch

    class Clip:        # only what the estimate reads
        input_resolution = 32
        model = torch.nn.Linear(2, 2)

    torch.manual_seed(0)
    G = Generator(z_dim=8, w_dim=8, img_resolution=32, mapping_layers=1, channel_base=256, channel_max=16)
    layer = G.style_layers[0]
    params = BuildParams(n_images=2, n_stats=10)
    big = finite_batch(G, Clip(), layer, params, MemoryBudget(4 * GiB))
    small = finite_batch(G, Clip(), layer, params, MemoryBudget(8 << 20))
    tiny = finite_batch(G, Clip(), layer, params, MemoryBudget(1))
    assert big == 256                                              # the CPU cap: more is not faster
    assert 1 < small < big and tiny == 1
    per_item = mb.synthesis_bytes(G, 0, len(G.synthesis.block_resolutions)) + mb.clip_bytes(Clip())
    assert mb.model_bytes(G, Clip.model) + small * per_item <= 8 << 20
