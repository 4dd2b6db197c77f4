"""Data-parallel training on one machine's CPU cores: N processes of one torch thread each.

On a small CPU, torch's own threads scale badly as soon as anything else runs (two threads
spin-wait on each other at every operation; measured: 53 img/s on an idle 2-core machine,
12-15 img/s with a second job running), while one process per core keeps its speed. So the
caller becomes rank 0 of a gloo process group and starts ``processes - 1`` helper processes.
Every step, each rank computes the gradient of its contiguous share of the same minibatch,
the gradients (and the loss) are averaged with one all-reduce, and every rank takes the same
optimizer step, so the ranks never drift apart. Rank 0 alone writes checkpoints and reports;
helpers hold no state worth saving and are stopped when rank 0 stops.

The result equals single-process training up to float rounding (a mean of per-share means
instead of one mean); a run continued with the same number of processes is bit-for-bit the run
that was never cut (``tests/test_data_parallel.py``).
"""

from __future__ import annotations

import datetime
import multiprocessing
import os
import tempfile
from typing import Callable

import torch
import torch.distributed as dist

from stylepaint.errors import InputError

# rank 0 renders banks and scores samples while the helpers wait in a collective
TIMEOUT = datetime.timedelta(hours=2)


class ProcessGroup:
    """This process's place in the group: ``rank``, ``world``, ``shard(batch)`` and
    ``average(params, loss)``. Rank 0 owns the helper processes (``close()`` stops them)."""

    def __init__(self, rank: int, world: int, init_file: str, helpers: list | None = None, init_dir=None):
        self.rank, self.world, self.helpers = rank, world, helpers or []
        self.helper_cpu_seconds = 0.0   # on rank 0: the helpers' CPU time so far (reported every step)
        self._init_dir = init_dir       # on rank 0: the temporary folder of init_file, removed by close()
        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world,
                                timeout=TIMEOUT)

    def shard(self, idx: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a minibatch's indices."""
        return idx.chunk(self.world)[self.rank]

    def average(self, params: list[torch.Tensor], loss: torch.Tensor) -> float:
        """Replace every parameter's gradient with its mean over the ranks; returns the mean loss.
        The same all-reduce carries the helpers' CPU time to rank 0."""
        grads = [p.grad for p in params if p.grad is not None]
        if self.rank == 0:
            cpu = 0.0
        else:
            t = os.times()
            cpu = t.user + t.system
        tail = torch.tensor([float(loss.detach()), cpu], dtype=grads[0].dtype)
        flat = torch.cat([g.reshape(-1) for g in grads] + [tail])
        dist.all_reduce(flat)
        self.helper_cpu_seconds = float(flat[-1])
        flat = flat[:-1] / self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()
        return float(flat[-1])

    def barrier(self) -> None:
        dist.barrier()

    def broadcast(self, obj=None):
        """Rank 0's ``obj`` on every rank (pickled: bit-exact tensors)."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        for proc in self.helpers:
            if proc.is_alive():
                proc.terminate()
        for proc in self.helpers:
            proc.join(timeout=10)
        if dist.is_initialized():
            dist.destroy_process_group()
        if self._init_dir is not None:
            self._init_dir.cleanup()


def start(processes: int, batch: int, helper: Callable, *args) -> ProcessGroup:
    """Become rank 0 of ``processes`` ranks; each helper runs ``helper(group, *args)`` in a
    fresh (spawned) process with as many torch threads as this one."""
    if processes < 2:
        raise ValueError("a process group needs at least 2 processes")
    if batch % processes:
        raise InputError(f"the minibatch ({batch}) must split evenly over {processes} processes")
    if dist.is_initialized():
        raise InputError("this process is already training in a process group")
    init_dir = tempfile.TemporaryDirectory(prefix="stylepaint-ddp-")
    init_file = os.path.join(init_dir.name, "init")
    ctx = multiprocessing.get_context("spawn")
    helpers = [ctx.Process(target=_helper_main, args=(rank, processes, init_file, torch.get_num_threads(), helper, args),
                           daemon=True, name=f"stylepaint-train-rank{rank}")
               for rank in range(1, processes)]
    for proc in helpers:
        proc.start()
    try:
        return ProcessGroup(0, processes, init_file, helpers, init_dir)
    except BaseException:
        for proc in helpers:
            proc.terminate()
        init_dir.cleanup()
        raise


def _helper_main(rank: int, world: int, init_file: str, threads: int, helper: Callable, args: tuple) -> None:
    torch.set_num_threads(threads)
    group = ProcessGroup(rank, world, init_file)
    try:
        helper(group, *args)
    except (RuntimeError, ConnectionError):     # rank 0 went away: nothing of ours to save
        pass
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()

