"""The attribute oracle: a small CNN that predicts every attribute group of a portrait.

It scores generated and edited images in tests and benchmarks: an edit succeeds when the
target attribute flips, and is disentangled when the other attributes stay.

    oracle = load_oracle(device="cpu")
    probs = oracle.predict(images)      # images: float [N, 3, H, W] in [-1, 1], any size
    probs["hair_color"]                 # [N, 8] probabilities, columns in oracle.groups order
    feats = oracle.features(images)     # [N, F] penultimate features

Weights live in ``stylepaint/resources/models/oracle.safetensors``; the architecture and the group
vocabulary are stored in the file's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylepaint.errors import CheckpointError
from stylepaint.paths import MODELS_DIR

ORACLE_FILE = MODELS_DIR / "oracle.safetensors"


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class OracleNet(nn.Module):
    """A 4x4 patchifying stem, conv stages (a stride-2 conv then a stride-1 conv each), then,
    because renders are aligned, a flattening bottleneck that keeps where things are, and one
    linear head per group."""

    def __init__(self, groups: dict[str, list[str]], image_size: int = 64, widths: tuple[int, ...] = (32, 64, 128),
                 feature_dim: int = 256, dropout: float = 0.1):
        super().__init__()
        self.groups = {g: list(v) for g, v in groups.items()}
        self.image_size = int(image_size)
        self.widths = tuple(int(w) for w in widths)
        self.feature_dim = int(feature_dim)
        w0 = self.widths[0]
        layers = [nn.Sequential(nn.Conv2d(3, w0, 4, 4, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True)),
                  _block(w0, w0, 1)]
        cin, res = w0, self.image_size // 4
        for i, w in enumerate(self.widths[1:]):
            layers += [_block(cin, w, 2)] + ([_block(w, w, 1)] if i < len(self.widths) - 2 else [])
            cin, res = w, (res + 1) // 2
        self.trunk = nn.Sequential(*layers)
        self.neck = nn.Sequential(nn.Flatten(), nn.Linear(cin * res * res, self.feature_dim), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({g: nn.Linear(self.feature_dim, len(v)) for g, v in self.groups.items()})

    @property
    def config(self) -> dict:
        return {"groups": self.groups, "image_size": self.image_size, "widths": list(self.widths),
                "feature_dim": self.feature_dim}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: [N, 3, image_size, image_size] in [-1, 1] -> [N, F]."""
        return self.neck(self.trunk(x))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.dropout(self.features(x))
        return {g: head(f) for g, head in self.heads.items()}


def resize_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """Area-resize (the way the training renders were made) or bilinear-upsample to ``size``."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [N, 3, H, W], got {tuple(images.shape)}")
    images = images.float()
    if images.shape[-2:] == (size, size):
        return images
    if images.shape[-1] > size:
        return F.interpolate(images, size=(size, size), mode="area")
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=False)


class Oracle:
    """A loaded oracle: ``predict`` and ``features`` on images of any size in [-1, 1]."""

    def __init__(self, net: OracleNet, device: str = "cpu"):
        self.net = net.eval().to(device)
        self.device = torch.device(device)
        self.groups = net.groups

    def _prep(self, images: torch.Tensor) -> torch.Tensor:
        return resize_input(images.to(self.device), self.net.image_size)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 256) -> dict[str, torch.Tensor]:
        """Group -> probabilities ``[N, n_values]`` (on CPU)."""
        out: dict[str, list[torch.Tensor]] = {g: [] for g in self.groups}
        for i in range(0, len(images), batch_size):
            logits = self.net(self._prep(images[i : i + batch_size]))
            for g, v in logits.items():
                out[g].append(v.softmax(-1).cpu())
        return {g: torch.cat(v) if v else torch.zeros(0, len(self.groups[g])) for g, v in out.items()}

    @torch.no_grad()
    def labels(self, images: torch.Tensor) -> list[dict[str, str]]:
        """The most likely value of every group, one dict per image."""
        probs = self.predict(images)
        idx = {g: p.argmax(-1).tolist() for g, p in probs.items()}
        return [{g: self.groups[g][idx[g][i]] for g in self.groups} for i in range(len(images))]

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Penultimate features ``[N, F]`` (on CPU)."""
        feats = [self.net.features(self._prep(images[i : i + batch_size])).cpu() for i in range(0, len(images), batch_size)]
        return torch.cat(feats) if feats else torch.zeros(0, self.net.feature_dim)


ORACLE_FORMAT = "stylepaint-oracle-1"


def save_oracle(net: OracleNet, path: Path | str, extra: dict | None = None, fmt: str = ORACLE_FORMAT) -> None:
    """Weights and config of an attribute reader (``fmt`` tags what it is for: the oracle, a critic)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {"config": json.dumps(net.config), "format": fmt}
    if extra:
        meta["extra"] = json.dumps(extra)
    save_file(state, str(path), metadata=meta)


def load_oracle(path: Path | str | None = None, device: str = "cpu") -> Oracle:
    """Load the oracle (default: the shipped ``stylepaint/resources/models/oracle.safetensors``)."""
    path = Path(path) if path else ORACLE_FILE
    if not path.exists():
        raise CheckpointError(path, "no oracle file there; train one with 'stylepaint train oracle'")
    return Oracle(load_reader_net(path), device)


def load_reader_net(path: Path, fmt: str | None = None, what: str = "oracle") -> OracleNet:
    """The network in a file :func:`save_oracle` wrote (its ``format`` must be ``fmt`` when given)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        if fmt is not None and meta.get("format") != fmt:
            raise ValueError(f"its format is {meta.get('format')!r}, not {fmt!r}")
        config = json.loads(meta["config"])
        net = OracleNet(config["groups"], config["image_size"], tuple(config["widths"]), config["feature_dim"])
        net.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    except Exception as exc:  # safetensors raises its own error type for foreign files
        raise CheckpointError(path, f"not a valid {what} file ({exc})") from exc
    return net
