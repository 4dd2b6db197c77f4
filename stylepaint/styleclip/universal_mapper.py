"""The universal mapper (FFCLIP-style): one network for any text, no training per prompt.

    model = load_universal(path, G, clip)
    cond = condition(clip, "a portrait of a person with red hair", "a portrait of a person")   # [2·D]
    dws = model(ws, cond)                      # [N, num_ws, w_dim] ΔW+ at α = 1
    shift = model.shift(G, ws, cond)           # [N, C] the same as a StyleSpace shift (exact: A·Δw)
    out = model.read(reader_input(model, clip, ["make the hair red"]))   # the reader: target, kind, strength

Per layer group (coarse, middle, fine W+ entries) an MLP maps each w (standardised with the
generator's W statistics) to Δw; the text
condition (the target's CLIP embedding beside the unit direction from the neutral text)
modulates every hidden layer (scale and shift, FFCLIP's semantic injection), so a new prompt is
one forward pass. The *reader* shares the file: a small MLP from a text's CLIP embedding (and,
when ``sentence_dim`` > 0, its embedding by the general sentence encoder of ``sentences``, which
knows wording the portrait CLIP never saw; with ``glosses``, both also read what the rarer words
mean in WordNet, ``glosses``) to the vocabulary target it names (or "unknown"),
whether it is an instruction, and its strength.
α scales ΔW+ linearly and α = 0 changes nothing. Files are safetensors whose header holds the
architecture and identity: no code runs when one is read.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn as nn

from stylepaint import paths
from stylepaint.engine.networks import assert_shape
from stylepaint.errors import DataFileError, InputError
from stylepaint.safe_read import read_bytes
from stylepaint.safe_write import write_bytes_atomic

FORMAT = "stylepaint-universal-mapper-1"
FILE_NAME = "universal-mapper.safetensors"      # the shipped one, in resources/models/


def condition(clip, target: str, neutral: str | None = None) -> torch.Tensor:
    """[2·D] text condition: the target's embedding and the unit direction from ``neutral``
    (default: the model registry's neutral text) to it."""
    return torch.cat([clip.text.embed(target), clip.text.direction(target, neutral)])


class _GroupNet(nn.Module):
    """Standardised w -> Δw for one layer group: every hidden layer modulated by the text
    condition, plus a face-independent term of the text alone."""

    def __init__(self, w_dim: int, cond_dim: int, hidden: int, depth: int):
        super().__init__()
        self.inp = nn.Linear(w_dim, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth))
        self.films = nn.ModuleList(nn.Linear(cond_dim, 2 * hidden) for _ in range(depth))
        self.out = nn.Linear(hidden, w_dim)
        self.direct = nn.Linear(cond_dim, w_dim)
        self.act = nn.LeakyReLU(0.2)
        with torch.no_grad():               # starts near the identity, learns at full speed
            for layer in (self.out, self.direct):
                layer.weight.mul_(0.1)
                layer.bias.zero_()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x))
        for layer, film in zip(self.layers, self.films):
            gamma, beta = film(cond).chunk(2, dim=-1)
            h = self.act(layer(h) * (1 + gamma) + beta)
        return self.out(h) + self.direct(cond)


class UniversalMapper(nn.Module):
    """(W+, text condition) -> ΔW+ per layer group; plus the reader of instructions."""

    def __init__(self, num_ws: int, w_dim: int, groups: list[list[int]], embed_dim: int, targets: list,
                 depth: int = 2, hidden: int = 128, scale: float = 1.0, reader_hidden: int = 256,
                 sentence_dim: int = 0, reader_members: int = 1, glosses: bool = False, info: dict | None = None):
        super().__init__()
        self.num_ws, self.w_dim, self.groups, self.embed_dim = num_ws, w_dim, groups, embed_dim
        self.targets = [tuple(t) for t in targets]       # (group, value); the reader's last class is "unknown"
        self.depth, self.hidden, self.scale, self.reader_hidden = depth, hidden, scale, reader_hidden
        self.sentence_dim = int(sentence_dim)            # 0: the reader reads the CLIP embedding only
        self.glosses = bool(glosses)                     # the sentence part ends with the words' glosses (``glosses``)
        self.nets = nn.ModuleList(_GroupNet(w_dim, 2 * embed_dim, hidden, depth) for _ in groups)
        self.reader_members = int(reader_members)       # readers trained apart whose readings are averaged
        self.reader = make_reader(embed_dim + self.sentence_dim, reader_hidden, len(self.targets) + 1 + 2,
                                  self.reader_members)
        self.register_buffer("w_mean", torch.zeros(w_dim))    # W statistics of the generator:
        self.register_buffer("w_std", torch.ones(w_dim))      # inputs are standardised with them
        # per target, the strength at which its edit lands on the true one (``calibrate_gains``)
        self.register_buffer("gains", torch.ones(len(self.targets)))
        self._register_load_state_dict_pre_hook(_ones_for_missing_gains, with_module=True)
        self.info = dict(info or {})    # model, clip, training figures

    @torch.no_grad()
    def fit_inputs(self, G, samples: int = 2000, seed: int = 0) -> None:
        """Set the input standardisation from ``samples`` random w of ``G``."""
        z = torch.randn([samples, G.z_dim], generator=torch.Generator().manual_seed(seed))
        w = G.mapping(z.to(G.device))[:, 0].float()
        self.w_mean.copy_(w.mean(0))
        self.w_std.copy_(w.std(0).clamp_min(1e-3))

    def config(self) -> dict:
        return {"num_ws": self.num_ws, "w_dim": self.w_dim, "groups": self.groups, "embed_dim": self.embed_dim,
                "targets": [list(t) for t in self.targets], "depth": self.depth, "hidden": self.hidden,
                "scale": self.scale, "reader_hidden": self.reader_hidden, "sentence_dim": self.sentence_dim,
                "reader_members": self.reader_members, "glosses": self.glosses}

    def forward(self, ws: torch.Tensor, cond: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """ΔW+ [N, num_ws, w_dim] for faces ``ws`` and conditions ``cond`` ([2·D] or [N, 2·D])."""
        assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        n = ws.shape[0]
        cond = cond.to(ws.device, ws.dtype).expand(n, 2 * self.embed_dim) if cond.ndim == 1 else cond.to(ws.device, ws.dtype)
        assert_shape(cond, [n, 2 * self.embed_dim], "text condition")
        out = torch.zeros_like(ws)
        for idx, net in zip(self.groups, self.nets):
            if idx:
                c = cond[:, None].expand(n, len(idx), cond.shape[1]).reshape(-1, cond.shape[1])
                x = (ws[:, idx].reshape(-1, self.w_dim) - self.w_mean) / self.w_std
                out[:, idx] = net(x, c).reshape(n, len(idx), self.w_dim)
        return out * (self.scale * alpha)

    def shift(self, G, ws: torch.Tensor, cond: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """[N, C] StyleSpace shift of the edit (exact: the style affines are linear in w)."""
        from stylepaint.styleclip.objective import ws_shift

        param = next(self.parameters())
        return ws_shift(G, self(ws.to(param.device, torch.float32), cond, alpha))

    def gain_of(self, group: str, value: str) -> float:
        """The calibrated strength of target (``group``, ``value``): multiplies α; 1 before calibration."""
        return float(self.gains[self.targets.index((group, value))])

    def read(self, emb: torch.Tensor, members: bool = False) -> dict:
        """Reader inputs [N, D (+ sentence_dim)] (``reader_input``) -> {"logits" [N, K+1] (last:
        unknown), "kind" [N] (logit of "instruction"), "strength" [N]}. With several reader
        members, "logits" are the log of their mean probabilities and "kind" and "strength" their
        means; ``members=True`` gives each member's own, with a leading [M] dimension (training)."""
        emb = emb[None] if emb.ndim == 1 else emb
        assert_shape(emb, [None, self.embed_dim + self.sentence_dim], "reader input")
        x = emb.to(next(self.parameters()).device, torch.float32)
        out = self.reader(x)
        out = out[None] if out.ndim == 2 else out         # [M, N, K+1+2]
        k = len(self.targets) + 1
        if members:
            return {"logits": out[..., :k], "kind": out[..., k], "strength": out[..., k + 1]}
        logits = out[..., :k].log_softmax(-1).logsumexp(0) - math.log(len(out))     # log of the mean probability
        return {"logits": logits, "kind": out[..., k].mean(0), "strength": out[..., k + 1].mean(0)}


def _ones_for_missing_gains(module, state_dict, prefix, *args):
    """Files written before the gains were calibrated have none: their edits keep strength 1."""
    if prefix + "gains" not in state_dict and prefix + "w_mean" in state_dict:
        state_dict[prefix + "gains"] = torch.ones(len(module.targets))


def make_reader(inputs: int, hidden: int, outputs: int, members: int = 1) -> nn.Module:
    """One reader MLP, or ``members`` of them (``ReaderMembers``)."""
    if members > 1:
        return ReaderMembers([make_reader(inputs, hidden, outputs) for _ in range(members)])
    return nn.Sequential(nn.Linear(inputs, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                         nn.Linear(hidden, outputs))


class ReaderMembers(nn.Module):
    """Readers trained apart (other seeds, other batches): [N, I] -> [M, N, O], one row per member."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members])


@torch.no_grad()
def reader_input(model: UniversalMapper, clip, texts: list[str]) -> torch.Tensor:
    """[N, D (+ sentence_dim)]: what ``model``'s reader reads of ``texts``: their CLIP embedding,
    the sentence encoder's, and the sentence encoder's of their words' meanings (``glosses``)."""
    return torch.cat([clip_input(clip, texts, model.glosses), sentence_input(texts, model.sentence_dim, model.glosses)],
                     dim=1)


def clip_input(clip, texts: list[str], glosses: bool = False, hide=()) -> torch.Tensor:
    """[N, D]: the CLIP's part of the reader's input: the text's embedding, with ``glosses`` the
    embedding of the text with its rarer words' other names beside them (``glosses.expand``)."""
    if glosses:
        from stylepaint.styleclip import glosses as meanings

        texts = [meanings.expand(t, hide) for t in texts]
    return torch.stack([clip.text.embed(t) for t in texts]).float().cpu()


def sentence_input(texts: list[str], dim: int, glosses: bool = False, hide=()) -> torch.Tensor:
    """[N, dim]: the sentence encoder's part of the reader's input (nothing when ``dim`` is 0):
    the text's embedding, with ``glosses`` beside that of its words' meanings (``glosses.embed``).
    ``hide``: words no meaning may hold (training hides the held-out wording)."""
    if not dim:
        return torch.zeros(len(texts), 0)
    from stylepaint.styleclip import glosses as meanings, sentences

    parts = [sentences.embed(texts)] + ([meanings.embed(texts, hide)] if glosses else [])
    return torch.cat(parts, dim=1)


# ---- files --------------------------------------------------------------------------------

def universal_path(G, clip) -> Path:
    """Where ``stylepaint mapper train-universal`` saves the model of ``G`` and ``clip``."""
    from stylepaint.directions.cache import generator_id

    return paths.user_cache_dir() / "mappers" / f"universal-{generator_id(G)}-{clip.model_id}.safetensors"


def save_universal(model: UniversalMapper, path) -> Path:
    from safetensors.torch import save

    meta = {"format": FORMAT, "config": json.dumps(model.config()), "info": json.dumps(model.info)}
    data = save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, metadata=meta)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_bytes_atomic(path, data)


def load_universal(path, G, clip) -> UniversalMapper:
    """Read a universal mapper for ``G`` and ``clip``; a damaged file or one made for another
    model or CLIP is one ``DataFileError`` naming the file and saying which."""
    from stylepaint.styleclip.mapper import _header, check_owner, fill_weights

    data = read_bytes(path, "directions")
    meta = _header(data, path, FORMAT, "stylepaint universal mapper")
    try:
        config, info = json.loads(meta["config"]), json.loads(meta["info"])
        config["groups"] = [[int(i) for i in g] for g in config["groups"]]
    except (ValueError, KeyError, TypeError):
        raise DataFileError(path, "is not a stylepaint universal mapper (its description cannot be read)") from None
    check_owner(path, info, (config.get("num_ws"), config.get("w_dim")), G, clip, "universal mapper",
                "stylepaint mapper train-universal")
    model = fill_weights(path, lambda: UniversalMapper(info=info, **config), data, "universal mapper")
    return model.eval().requires_grad_(False).to(G.device)


def find_universal(G, clip) -> Path | None:
    """The universal mapper file for ``G`` and ``clip``: the user's trained one, else the
    shipped one when it was made for this model and CLIP; None when there is none."""
    cached = universal_path(G, clip)
    if cached.is_file():
        return cached
    shipped = paths.MODELS_DIR / FILE_NAME
    if shipped.is_file():
        try:
            load_universal(shipped, G, clip)
        except DataFileError:
            return None
        return shipped
    return None


def ship_universal(run_file, G, clip, metrics: dict | None = None, command: str | None = None) -> dict:
    """Install a trained universal mapper (``run_file``, made for ``G`` and ``clip``) as the shipped
    one beside the embedded default in ``resources/models/`` and list it in the manifest with its
    training time, size and ``metrics``; returns the manifest entry."""
    import time

    from stylepaint.portraits.manifest import update_entry

    model = load_universal(run_file, G, clip)  # one clear error for a file of another model or CLIP
    source = Path(getattr(G, "source_path", "") or "")
    if source.parent.resolve() != Path(paths.MODELS_DIR).resolve():
        raise InputError(f"only the embedded default model carries a shipped universal mapper; "
                         f"{source or 'this model'} is not in {paths.MODELS_DIR}")
    target = Path(paths.MODELS_DIR) / FILE_NAME
    write_bytes_atomic(target, read_bytes(run_file, "directions"))
    info = model.info
    return update_entry(target, role="universal-mapper", generator=source.name, clip=clip.spec,
                        train_seconds=info.get("seconds"), steps=info.get("steps"), params=info.get("params"),
                        first_loss=info.get("first_loss"), last_loss=info.get("last_loss"),
                        metrics=metrics or {}, shipped=time.strftime("%Y-%m-%d"), device="cpu",
                        command=command or "stylepaint mapper train-universal --out RUN")


def require_universal(G, clip) -> UniversalMapper:
    path = find_universal(G, clip)
    if path is None:
        model = getattr(G, "source_path", None) or "MODEL"
        raise InputError(f"no universal mapper is trained for this model and CLIP; "
                         f"run: stylepaint mapper train-universal {model}")
    return load_universal(path, G, clip)
