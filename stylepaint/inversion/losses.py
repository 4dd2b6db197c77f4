"""Reconstruction losses for inversion, pluggable by name.

Each loss is a callable ``loss(image, target) -> scalar tensor`` on float images
``[N, 3, H, W]`` in [-1, 1] (``image`` at the generator's resolution, ``target`` the same size):

* ``"pixel"``: mean squared error plus an L1 term at 1, 1/2, 1/4 and 1/8 scale (always there).
* ``"oracle"``: the portrait oracle's conv stages as a perceptual network, LPIPS-style (unit
  channel normalisation, squared differences averaged over positions and stages), plus ``pixel``.
  For the embedded portrait domain; needs ``stylepaint/resources/models/oracle.safetensors``.
* ``"lpips"``: the ``lpips`` package when installed and its backbone weights are on disk, plus ``pixel``.

``make_loss("auto", domain)`` picks oracle for portraits and lpips for photos when available,
else pixel; ``describe`` says what was picked.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stylepaint.errors import InputError


class PixelLoss:
    """MSE plus multi-scale L1: fine detail and overall colour/shape both count."""

    name = "pixel"

    def __init__(self, scales: int = 4, l1_weight: float = 0.5):
        self.scales = scales
        self.l1_weight = l1_weight

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = F.mse_loss(image, target)
        a, b = image, target
        for i in range(self.scales):
            loss = loss + self.l1_weight / self.scales * F.l1_loss(a, b)
            if min(a.shape[-2:]) < 8:
                break
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        return loss


class FeatureLoss:
    """LPIPS-style distance on a conv net's intermediate feature maps, plus the pixel loss."""

    def __init__(self, stages, input_size: int | None, name: str, weight: float = 1.0, pixel_weight: float = 1.0):
        self.stages = stages  # list of modules applied in sequence; each output is compared
        self.input_size = input_size
        self.name = name
        self.weight = weight
        self.pixel = PixelLoss()
        self.pixel_weight = pixel_weight

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.input_size and x.shape[-1] != self.input_size:
            mode = "area" if x.shape[-1] > self.input_size else "bilinear"
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode=mode,
                              **({} if mode == "area" else {"align_corners": False}))
        out = []
        for stage in self.stages:
            x = stage(x)
            out.append(x / (x.norm(dim=1, keepdim=True) + 1e-6))
        return out

    def __call__(self, image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        fa = self._feats(image)
        with torch.no_grad():
            fb = self._feats(target)
        perceptual = sum(((a - b) ** 2).sum(1).mean() for a, b in zip(fa, fb)) / len(fa)
        return self.weight * perceptual + self.pixel_weight * self.pixel(image, target)


def oracle_loss(device="cpu", path=None) -> FeatureLoss:
    """The portrait oracle's conv stages as the perceptual network (raises CheckpointError without it)."""
    from stylepaint.portraits.oracle import load_oracle

    oracle = load_oracle(path, device=str(device))
    net = oracle.net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    layers = list(net.trunk)
    stages = [torch.nn.Sequential(*layers[i : i + 2]) for i in range(0, len(layers), 2)]
    return FeatureLoss(stages, net.image_size, "oracle", weight=1.0)


def lpips_loss(device="cpu") -> FeatureLoss:
    """The lpips package's network (raises ImportError/OSError when it or its weights are missing)."""
    import lpips  # optional dependency

    net = lpips.LPIPS(net="alex", verbose=False).to(device).eval()
    for p in net.parameters():
        p.requires_grad_(False)

    class _Lpips(FeatureLoss):
        def __call__(self, image, target):
            return net(image, target).mean() + self.pixel(image, target)

    return _Lpips([], None, "lpips")


def make_loss(name: str = "auto", domain: str = "photo", device="cpu"):
    """A loss by name: "auto", "pixel", "oracle" or "lpips"."""
    if name == "pixel":
        return PixelLoss()
    if name == "oracle":
        return oracle_loss(device)
    if name == "lpips":
        return lpips_loss(device)
    if name != "auto":
        raise InputError(f"unknown inversion loss {name!r}; use auto, pixel, oracle or lpips.")
    tries = [oracle_loss] if domain == "portrait" else [lpips_loss]
    for make in tries:
        try:
            return make(device)
        except Exception:  # missing weights or package: the pixel loss still works
            continue
    return PixelLoss()
