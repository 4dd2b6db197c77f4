"""A perceptual critic for the decoder route: features of a network that reads portrait attributes.

The decoder's L1 loss lets the small attributes (blush, lipstick, eye colour, the mouth of a
smile) fade in very slowly: they are a few pixels of low contrast each. A perceptual term,
the L1 distance between the *features* of the generated image and of the render of the same
code, weighs pixels by how much they tell an attribute reader. The reader is trained here, from
the training bank and the labels its codes decode to, with its own seed and another
architecture than the evaluation oracle (the bank's 128 px instead of 64 px input, four
stages of 16-128 channels instead of three of 32-128): the shipped oracle stays a measurement only.

The critic is trained once per run (a few CPU minutes), saved in the run folder beside the
checkpoint and frozen; the loss compares features of two images, never a label, so it asks
the generator for the render's pixels as the reader sees them rather than for whatever makes a
classifier say "blush".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylepaint.errors import InputError
from stylepaint.portraits.oracle import OracleNet, load_reader_net, save_oracle

CRITIC_FILE = "critic.safetensors"
CRITIC_FORMAT = "stylepaint-critic-1"
WIDTHS = (16, 32, 64, 128)


def trunk_features(net: OracleNet, x: torch.Tensor) -> list[torch.Tensor]:
    """The activations after each stage of ``net``'s trunk (its stem included)."""
    out = []
    for layer in net.trunk:
        x = layer(x)
        out.append(x)
    return out


def perceptual_loss(net: OracleNet, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over stages of the L1 distance between ``net``'s features of ``fake`` and ``real``
    (both ``[N, 3, R, R]`` in [-1, 1], resized to the critic's input), each stage divided by
    the mean magnitude of the real features so every stage counts alike."""
    size = net.image_size
    if fake.shape[-1] != size:
        fake = F.interpolate(fake, size=(size, size), mode="bilinear", align_corners=False)
        real = F.interpolate(real, size=(size, size), mode="bilinear", align_corners=False)
    with torch.no_grad():
        targets = trunk_features(net, real)
    loss = fake.new_zeros(())
    for f, t in zip(trunk_features(net, fake), targets):
        loss = loss + (f - t).abs().mean() / (t.abs().mean() + 1e-6)
    return loss / len(targets)


def train_critic(images_u8: torch.Tensor, labels: torch.Tensor, groups: dict[str, list[str]], seed: int = 1,
                 epochs: int = 2, batch: int = 64, lr: float = 3e-3) -> Iterator[dict]:
    """Train a critic on uint8 NHWC images (any size >= 16 px; it reads them at that size) with
    label matrix ``[N, groups]``;
    yields progress dicts, the last with ``"critic"`` (frozen, eval mode) and ``"accuracy"``
    (per group, on the last 5 % of the images, which it never trained on)."""
    from stylepaint.portraits.train_oracle import augment, classifier_step, to_float

    if images_u8.ndim != 4 or images_u8.shape[3] != 3 or images_u8.shape[1] != images_u8.shape[2] \
            or images_u8.shape[1] < 16:
        raise InputError(f"the critic trains on square [N, R, R, 3] images of at least 16 px, got {list(images_u8.shape)}")
    if len(labels) != len(images_u8):
        raise InputError(f"{len(images_u8)} images but {len(labels)} label rows")
    gen = torch.Generator().manual_seed(int(seed))
    torch.manual_seed(int(seed))
    held = max(1, len(images_u8) // 20)
    n = len(images_u8) - held
    net = OracleNet(groups, images_u8.shape[1], WIDTHS)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=5e-4)
    per_epoch = max(1, n // batch)
    total = per_epoch * epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=total, pct_start=0.15)
    t0 = time.perf_counter()
    step = 0
    net.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for b in range(per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            loss = classifier_step(net, opt, sched, augment(to_float(images_u8[idx]), gen), labels[idx])
            step += 1
            if step % 20 == 0 or step == total:
                yield {"done": step, "total": total, "message": f"training the critic, loss {loss.item():.3f}",
                       "seconds": time.perf_counter() - t0}
    net.eval().requires_grad_(False)
    correct = torch.zeros(len(groups))
    with torch.no_grad():
        for i in range(n, len(images_u8), 256):
            logits = net(to_float(images_u8[i:i + 256]))
            for k, g in enumerate(groups):
                correct[k] += (logits[g].argmax(-1) == labels[i:i + 256, k]).sum()
    accuracy = {g: float(correct[k] / held) for k, g in enumerate(groups)}
    yield {"done": total, "total": total, "message": "critic trained", "critic": net, "accuracy": accuracy,
           "seconds": time.perf_counter() - t0}


def save_critic(net: OracleNet, path: Path, extra: dict) -> None:
    save_oracle(net, path, extra, fmt=CRITIC_FORMAT)


def load_critic(path: Path) -> OracleNet:
    return load_reader_net(path, CRITIC_FORMAT, "critic").eval().requires_grad_(False)


def labels_of_codes(code, codes: np.ndarray, groups: dict[str, list[str]]) -> torch.Tensor:
    """Label matrix ``[N, n_groups]`` of the attributes ``codes`` decode to."""
    from stylepaint.portraits.dataset import label_matrix

    return torch.from_numpy(label_matrix(code.decode(codes), groups))
