"""Training and evaluating the attribute oracle on rendered portrait data sets.

``train_oracle(...)`` is a long job: a generator yielding progress dicts; its last dict has
``"result"`` with the saved path, the held-out metrics and the training time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylepaint.errors import InputError
from stylepaint.portraits.dataset import HELD_OUT_SEED, label_matrix, read_images, read_records
from stylepaint.portraits.oracle import Oracle, OracleNet, save_oracle
from stylepaint.portraits.vocabulary import load_vocabulary


def to_float(batch_u8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [-1, 1]."""
    return batch_u8.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def augment(x: torch.Tensor, gen: torch.Generator, shift: int = 2) -> torch.Tensor:
    """Random horizontal flips, a small translation, brightness/contrast jitter and noise."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if shift:
        dx, dy = (int(v) for v in torch.randint(-shift, shift + 1, (2,), generator=gen))
        x = F.pad(x, (shift, shift, shift, shift), mode="replicate")
        s = x.shape[-1] - 2 * shift
        x = x[..., shift + dy : shift + dy + s, shift + dx : shift + dx + s]
    gain = 1 + 0.06 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    bias = 0.06 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    x = x * gain + bias + 0.02 * torch.randn(x.shape, generator=gen)
    return x.clamp_(-1, 1)


def load_split(folder: Path | str, groups: dict[str, list[str]], split: str) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """A data set folder as (uint8 NHWC images, label matrix, records), checked to hold only
    ``split`` seeds: "train" below HELD_OUT_SEED, "heldout" from it on, so the two never mix."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    records = read_records(folder)
    if split == "train" and any(r["seed"] >= HELD_OUT_SEED for r in records):
        raise InputError(f"{folder} holds held-out seeds (>= {HELD_OUT_SEED}); train on seeds below it")
    if split == "heldout" and any(r["seed"] < HELD_OUT_SEED for r in records):
        raise InputError(f"{folder} holds training seeds (< {HELD_OUT_SEED})")
    images = read_images(folder)
    if len(images) > len(records):  # a data set cut short: its written prefix
        images = images[: len(records)]
    images = torch.from_numpy(np.array(images))  # a private, writable copy of the memory map
    if len(images) != len(records):
        raise InputError(f"{folder}: {len(images)} images but {len(records)} records")
    return images, torch.from_numpy(label_matrix(records, groups)), records


def training_setup(data: Path | str, threads: int | None, seed: int):
    """What every portrait-model training starts with: torch threads, seeds, and the training
    split. Returns ``(generator, groups, uint8 images, labels, records)``."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    groups = load_vocabulary()
    images, labels, records = load_split(data, groups, "train")
    return gen, groups, images, labels, records


def classifier_step(net: OracleNet, opt, sched, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """One optimiser step of an attribute reader: summed cross-entropy over its groups."""
    logits = net(x)
    loss = sum(F.cross_entropy(logits[g], y[:, k], label_smoothing=0.02) for k, g in enumerate(net.groups))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()
    return loss


@torch.no_grad()
def evaluate(oracle: Oracle, images_u8: torch.Tensor, labels: torch.Tensor, batch_size: int = 500) -> dict[str, float]:
    """Accuracy per group (fraction) on uint8 NHWC images with label matrix ``[N, n_groups]``."""
    correct = torch.zeros(len(oracle.groups))
    for i in range(0, len(images_u8), batch_size):
        probs = oracle.predict(to_float(images_u8[i : i + batch_size]))
        for k, g in enumerate(oracle.groups):
            correct[k] += (probs[g].argmax(-1) == labels[i : i + batch_size, k]).sum()
    return {g: float(correct[k] / len(images_u8)) for k, g in enumerate(oracle.groups)}


def train_oracle(
    data: Path | str,
    out: Path | str,
    heldout: Path | str | None = None,
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 3e-3,
    image_size: int = 64,
    widths: tuple[int, ...] = (32, 64, 128),
    threads: int | None = 2,
    device: str = "cpu",
    seed: int = 0,
    init: Path | str | None = None,
) -> Iterator[dict]:
    """Train (or, from ``init``, continue training) an oracle; ``data``/``heldout`` are data set folders."""
    gen, groups, images, labels, records = training_setup(data, threads, seed)
    if images.shape[1] != image_size:
        raise InputError(f"{data} holds {images.shape[1]} px images; the oracle trains on {image_size} px")
    if init:
        from stylepaint.portraits.oracle import load_oracle

        net = load_oracle(init).net.to(device)
        if net.groups != groups:
            raise InputError(f"{init} predicts other groups than the vocabulary")
    else:
        net = OracleNet(groups, image_size, widths).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    steps_per_epoch = len(images) // batch_size
    total = steps_per_epoch * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    t0, cpu0 = time.time(), time.process_time()
    step, running = 0, 0.0
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(len(images), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            loss = classifier_step(net, opt, sched, augment(to_float(images[idx]), gen).to(device),
                                   labels[idx].to(device))
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()  # across epochs
            if step % 20 == 0 or step == total:
                yield {"done": step, "total": total, "message": f"epoch {epoch + 1}/{epochs} loss {running:.3f}",
                       "loss": running, "elapsed_s": time.time() - t0}
    train_seconds = time.time() - t0
    cpu_seconds = time.process_time() - cpu0
    net.eval()
    metrics = {}
    if heldout:
        h_images, h_labels, h_records = load_split(heldout, groups, "heldout")
        metrics = evaluate(Oracle(net, device), h_images, h_labels)
        metrics = {"heldout_accuracy": metrics, "heldout_count": len(h_images),
                   "heldout_seeds": [h_records[0]["seed"], h_records[-1]["seed"]]}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_oracle(net.cpu(), out, extra={"train_seconds": round(train_seconds, 1), "epochs": epochs, "train_count": len(images)})
    yield {"done": total, "total": total, "message": "saved", "result": {
        "path": str(out), "metrics": metrics, "train_seconds": round(train_seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1), "config": net.config,
        "hyper": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "threads": threads,
                  "train_count": len(images), "train_seeds": [records[0]["seed"], records[-1]["seed"]],
                  "init": str(init) if init else None}}}
