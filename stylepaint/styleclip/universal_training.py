"""Training the universal mapper: a job that yields progress, stops when asked, resumes exactly.

    job = train_universal(G, clip, "runs/universal", UniversalParams(steps=3000))
    for info in job: ...               # {"done", "total", "loss", "parts", "elapsed_s", "message"}
    model = info["mapper"]             # the last info: the trained UniversalMapper (also in the run folder)
    train_universal(G, clip, "runs/universal", resume=True)       # carries on where it stopped

Each step adds three losses (weights in ``UniversalParams``):

* **reader**: a batch of training phrasings (``phrasings.phrasings("train")``: instructions and
  descriptions from the vocabulary's words and templates) -> cross-entropy on the target they
  name (or "unknown"), on instruction vs description, and the strength;
* **CLIP**: one vocabulary description on ``batch`` random faces, the StyleCLIP objective
  (directional CLIP loss + content + L2, ``objective.Objective``); any generator;
* **pairs** (generators whose mapping computes the portrait code, ``tag_faces.portrait_code``):
  for each random face a random target; the same face with that one attribute changed is exact
  (``CodeLayout.z_for``), so the mapper's ΔW+ is pulled onto the true one (L2 in W+) and its
  picture onto the true picture (pixel L2 at ``pixel_resolution``).

The run folder holds a training checkpoint (``training.checkpoint``: model, Adam state, the
random generator's state, the step) every ``snap_steps`` and when the job stops or is closed;
``resume=True`` continues it bit for bit. ``universal-mapper.safetensors`` there is the result;
with pairs, its per-target strengths are calibrated on them at the end (``calibrate_gains``).
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylepaint.errors import InputError
from stylepaint.styleclip.objective import LossWeights, Objective
from stylepaint.styleclip.phrasings import (UNKNOWN, absences, canonical, caption_phrasings, hidden_wording,
                                            masked_text, phrasings, targets)
from stylepaint.styleclip.universal_mapper import (FILE_NAME, ReaderMembers, UniversalMapper, clip_input, condition,
                                                  save_universal, sentence_input)
from stylepaint.training import checkpoint as ckpt

METHOD = "universal-mapper"
MASK_SEED = 0                      # the made-up words of the reader's masked phrasings
LR_FLOOR = 0.05                    # the learning rate at the last step of a decaying run, as a share of ``lr``


def learning_rate(params: "UniversalParams", step: int) -> float:
    """Adam's rate for training step ``step`` (0-based): ``lr``, then a linear fall from ``decay_from``."""
    if params.decay_from is None or step < params.decay_from:
        return params.lr
    share = (step - params.decay_from) / max(params.steps - params.decay_from, 1)
    return params.lr * (1 - (1 - LR_FLOOR) * min(share, 1.0))


@dataclass(frozen=True)
class UniversalParams:
    steps: int = 3000              # training steps (``minutes`` may stop a run earlier; resume continues)
    batch: int = 4                 # faces per step, for the CLIP loss and for the pairs each
    lr: float = 1e-3               # Adam learning rate
    decay_from: int | None = None  # from this step the rate falls linearly to lr x LR_FLOOR at ``steps`` (None: constant)
    truncation: float = 0.7        # psi of the training faces
    depth: int = 2                 # modulated hidden layers per group net
    hidden: int = 128              # their width
    scale: float = 1.0             # ΔW+ = scale · net(w, text) (its output layer starts at 0.1 x default init)
    reader_batch: int = 64         # phrasings per step for the reader
    clip_every: int = 1            # a CLIP-loss batch every this many steps (0: none, pairs only)
    clip_absences: bool = False    # the CLIP loss on "no X" targets too (CLIP reads "no bangs" much as bangs)
    pair: float = 1.0              # weight of the W+ pair loss
    pixel: float = 1.0             # weight of the pixel pair loss
    pixel_resolution: int = 32     # pictures compared at most this size
    reader: float = 1.0            # weight of the reader's loss
    sentence_reader: bool = False  # the reader also reads the sentence encoder's embedding (``sentences``)
    groups: tuple | None = None    # vocabulary groups to learn (None: all)
    snap_steps: int = 100          # checkpoint every this many steps
    seed: int = 0
    weights: LossWeights = field(default_factory=LossWeights)

    def __post_init__(self):
        if not (isinstance(self.steps, int) and self.steps >= 1) or self.batch < 1 or not self.lr > 0:
            raise InputError("universal mapper training needs at least one step, a batch of at least 1 and lr > 0")
        if self.decay_from is not None and not (isinstance(self.decay_from, int) and 0 <= self.decay_from < self.steps):
            raise InputError("the learning-rate decay must start at a step before the last")
        if self.groups is not None:
            object.__setattr__(self, "groups", tuple(self.groups))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["groups"] = None if self.groups is None else list(self.groups)     # as JSON has it
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "UniversalParams":
        data = dict(data)
        data["weights"] = LossWeights(**data.get("weights", {}))
        return cls(**data)


class _Corpus:
    """The training phrasings with their reader labels, and the text conditions of the mapper
    (each target's canonical prompt, and every training description with its group's neutral).

    ``masked`` (with ``sentence``): that share of the phrasings a second time, the CLIP reading it
    with the word that names its attribute made up (``phrasings.masked_text``) and the sentence
    encoder reading the real text, so the reader learns to read from the sentence encoder alone
    what the CLIP does not know."""

    def __init__(self, clip, groups, sentence: bool = False, captions: bool = False, masked: float = 0.0,
                 glosses: bool = False):
        from stylepaint.styleclip import sentences

        self.targets = targets(groups)
        index = {t: i for i, t in enumerate(self.targets)}
        rows = phrasings("train", groups)
        if captions:           # the reader also learns from the CLIP's own one-group captions
            known = {p.text for p in rows}
            reading = rows + [p for p in caption_phrasings(groups) if p.text not in known]
        else:
            reading = rows
        clip_texts = [p.text for p in reading]
        sentence_texts = list(clip_texts)
        if masked > 0 and sentence:
            rng = random.Random(MASK_SEED)
            chosen = [p for p in reading if rng.random() < masked]
            twins = [(p, t) for p, t in ((p, masked_text(p, rng)) for p in chosen) if t is not None]
            reading = reading + [p for p, _ in twins]
            clip_texts += [t for _, t in twins]
            sentence_texts += [p.text for p, _ in twins]
        self.texts = clip_texts
        # what the reader reads: the CLIP embedding, then the sentence encoder's; the meanings of
        # the words (``glosses``) never hold held-out wording, as no training text does
        hide = hidden_wording() if glosses else frozenset()
        self.emb = clip_input(clip, clip_texts, glosses, hide)
        self.embed_dim = int(self.emb.shape[1])
        if sentence:
            self.emb = torch.cat([self.emb, sentence_input(sentence_texts, sentences.DIM, glosses, hide)], dim=1)
        self.label = torch.tensor([index.get((p.group, p.value), len(self.targets)) if p.group != UNKNOWN
                                   else len(self.targets) for p in reading])
        self.kind = torch.tensor([float(p.kind == "instruction") for p in reading])
        self.strength = torch.tensor([p.strength for p in reading])
        self.known = self.label < len(self.targets)
        # the mapper's texts: canonical prompts first, then training descriptions
        self.cond_texts = [canonical(g, v) for g, v in self.targets]
        self.cond_target = list(range(len(self.targets)))
        for p in rows:
            if p.kind == "description" and p.group != UNKNOWN:
                self.cond_texts.append((p.text, canonical(p.group, p.value)[1]))
                self.cond_target.append(index[(p.group, p.value)])
        self.cond = torch.stack([condition(clip, t, n) for t, n in self.cond_texts])
        self.cond_target = torch.tensor(self.cond_target)
        absent = absences()
        self.cond_present = [i for i, t in enumerate(self.cond_target.tolist()) if self.targets[t] not in absent]


def _pick(gen: torch.Generator, n: int, k: int = 1) -> torch.Tensor:
    return torch.randint(0, n, (k,), generator=gen)


def train_universal(G, clip, run_dir, params: UniversalParams | None = None, resume: bool = False,
                    minutes: float | None = None, steps: int | None = None, decay_from: int | None = None,
                    batch: int | None = None, lr: float | None = None, clip_every: int | None = None):
    """Job: yield progress dicts; the last has ``finished`` and ``mapper`` (also saved as
    ``run_dir/universal-mapper.safetensors``). ``resume`` continues the run's checkpoint with its
    own settings; ``steps`` may extend it, ``decay_from`` start its learning-rate decay, and
    ``batch``, ``lr`` and ``clip_every`` change them for the steps still to come (a fine-tuning
    phase: more pairs per step at a lower rate, with or without the CLIP loss). Bad input raises
    before the first yield."""
    from stylepaint.directions.cache import generator_id
    from stylepaint.tag_faces import portrait_code

    run_dir = Path(run_dir)
    state, tensors = None, None
    if resume:
        tensors, state = ckpt.load_checkpoint(run_dir)
        if state.get("method") != METHOD:
            raise InputError(f"{run_dir} holds a {state.get('method')!r} run, not a universal mapper's")
        if state["model"] != generator_id(G) or state["clip"] != clip.model_id:
            raise InputError(f"{run_dir} was trained for another model or CLIP; start a new run folder")
        params = UniversalParams.from_dict(state["params"])
    elif ckpt.has_checkpoint(run_dir):
        raise InputError(f"{run_dir} already holds a training run: resume it, or pick a new folder")
    params = params or UniversalParams()
    if steps is not None:
        params = replace(params, steps=int(steps))
    if decay_from is not None:
        params = replace(params, decay_from=int(decay_from))
    changed = {k: v for k, v in (("batch", batch), ("lr", lr), ("clip_every", clip_every)) if v is not None}
    if changed:
        params = replace(params, **changed)
    if minutes is not None and not minutes > 0:
        raise InputError("the time limit must be positive")
    unknown = sorted(set(params.groups or ()) - {g for g, _ in targets()})
    if unknown:
        raise InputError(f"unknown attribute groups: {', '.join(unknown)}")
    return _train(G, clip, run_dir, params, state, tensors, minutes, portrait_code(G))


def _train(G, clip, run_dir: Path, params: UniversalParams, state, tensors, minutes, code):
    from stylepaint.directions.cache import generator_id
    from stylepaint.styleclip.mapper import ws_groups

    torch.manual_seed(params.seed)           # initial weights
    corpus = _Corpus(clip, params.groups, params.sentence_reader)
    info = {"model": generator_id(G), "clip": clip.model_id, "params": params.to_dict(), "pairs": code is not None}
    model = UniversalMapper(G.num_ws, G.w_dim, ws_groups(G), corpus.embed_dim, corpus.targets,
                            params.depth, params.hidden, params.scale,
                            sentence_dim=int(corpus.emb.shape[1]) - corpus.embed_dim, info=info).to(G.device)
    model.fit_inputs(G, seed=params.seed)
    opt = torch.optim.Adam(model.parameters(), lr=params.lr)
    gen = torch.Generator().manual_seed(params.seed + 1)
    done, seconds, losses = 0, 0.0, []
    if state is not None:
        ckpt.load_module_tensors("model", model, tensors)
        ckpt.load_optimizer_tensors("opt", opt, tensors, state["opt"])
        gen.set_state(tensors["rng"].to(torch.uint8))
        done, seconds, losses = int(state["step"]), float(state["seconds"]), list(state["losses"])
        state["chunks"] = int(state.get("chunks", 0)) + 1
    objectives: dict[int, Objective] = {}

    def snapshot():
        opt_tensors, opt_meta = ckpt.optimizer_tensors("opt", opt)
        tensors = {**ckpt.module_tensors("model", model), **opt_tensors, "rng": gen.get_state()}
        ckpt.save_checkpoint(run_dir, tensors, {
            "method": METHOD, "model": info["model"], "clip": info["clip"], "params": params.to_dict(),
            "step": done, "cur_nimg": done * params.batch, "seconds": seconds, "losses": losses, "opt": opt_meta,
            "chunks": 0 if state is None else state["chunks"]})

    t0, limit = time.perf_counter(), None if minutes is None else minutes * 60
    base = seconds
    try:
        while done < params.steps:
            for group in opt.param_groups:
                group["lr"] = learning_rate(params, done)
            loss, parts = _step(G, clip, model, corpus, objectives, gen, params, code, done)
            opt.zero_grad(set_to_none=True)
            with torch.inference_mode(False), torch.enable_grad():
                loss.backward()
            opt.step()
            done += 1
            losses.append(float(loss.detach()))
            seconds = base + time.perf_counter() - t0
            if done % params.snap_steps == 0:
                snapshot()
            yield {"done": done, "total": params.steps, "loss": losses[-1], "parts": parts, "elapsed_s": seconds,
                   "message": f"step {done}/{params.steps}: loss {losses[-1]:.4f}"}
            if limit is not None and time.perf_counter() - t0 >= limit:
                break
    finally:                               # a stop, a time limit or a closed job keeps what it learnt
        if done and (not ckpt.has_checkpoint(run_dir) or ckpt.read_state(run_dir)["step"] != done):
            snapshot()
    model.info.update(steps=done, seconds=round(seconds, 1), first_loss=losses[0], last_loss=losses[-1])
    model.eval().requires_grad_(False)
    if code is not None:                   # seconds: each target's strength from exact pairs
        calibrate_gains(G, clip, model, code)
    path = save_universal(model, run_dir / FILE_NAME)
    yield {"done": done, "total": params.steps, "finished": done >= params.steps, "stopped": done < params.steps,
           "mapper": model, "path": str(path), "losses": losses, "elapsed_s": seconds,
           "message": "done" if done >= params.steps else f"stopped at step {done}; resume to continue"}


def one_view(emb: torch.Tensor, split: int, share: float, gen: torch.Generator | None = None) -> torch.Tensor:
    """``emb`` [N, D + S] (CLIP features, then the sentence encoder's) with ``share`` of the rows
    keeping one encoder's features only: half of those the CLIP's, half the sentence encoder's."""
    if not share or split >= emb.shape[1]:
        return emb
    draw = torch.rand(len(emb), generator=gen).to(emb.device)
    keep_clip = (draw >= share / 2).to(emb.dtype)[:, None]            # rows below share/2 lose the CLIP part
    keep_sentence = ((draw < share / 2) | (draw >= share)).to(emb.dtype)[:, None]
    return torch.cat([emb[:, :split] * keep_clip, emb[:, split:] * keep_sentence], dim=1)


def _reader_loss(model, corpus: _Corpus, idx: torch.Tensor, dropout: float = 0.0, views: float = 0.0,
                 gen: torch.Generator | None = None) -> torch.Tensor:
    """The reader's loss on the training phrasings ``idx``: target, instruction or not, strength
    (``dropout``: that share of the input features dropped, so no single feature carries a word;
    ``views``: that share of the rows read by one encoder alone, ``one_view``)."""
    emb = one_view(corpus.emb[idx], corpus.embed_dim, views, gen)
    out = model.read(F.dropout(emb, dropout) if dropout else emb, members=True)
    device = out["logits"].device
    known = corpus.known[idx].to(device)
    label, is_instruction, wanted = (t[idx].to(device) for t in (corpus.label, corpus.kind, corpus.strength))
    total = torch.zeros((), device=device)
    for logits, kind, strength in zip(out["logits"], out["kind"], out["strength"]):     # each member's own loss
        total = total + F.cross_entropy(logits, label)
        total = total + F.binary_cross_entropy_with_logits(kind, is_instruction)
        total = total + ((strength - wanted) ** 2 * known).sum() / known.sum().clamp_min(1)
    return total


READER_MEMBERS = 5               # readers trained apart, their readings averaged (``train_reader``)
READER_MASKED = 0.0              # share of phrasings the reader also reads with a made-up attribute word (``_Corpus``)
READER_VIEWS = 0.75              # share of rows the reader reads through one encoder only (``one_view``)
READER_GLOSSES = True            # the reader also reads the meanings of a text's words (``glosses``)


def train_reader(model: UniversalMapper, clip, sentence: bool = True, steps: int = 3000, batch: int = 64,
                 lr: float = 1e-3, seed: int = 0, dropout: float = 0.5, captions: bool = True,
                 members: int = READER_MEMBERS, masked: float = READER_MASKED,
                 views: float = READER_VIEWS, glosses: bool = READER_GLOSSES) -> UniversalMapper:
    """A copy of ``model`` with a new reader trained on the training phrasings (reading the
    sentence encoder too when ``sentence``; with the CLIP's one-group captions too when
    ``captions``, ``phrasings.caption_phrasings``); the mapper's own weights are kept as they are.
    ``members`` readers are trained apart (seeds ``seed``, ``seed`` + 1, …) and their
    probabilities averaged. Seconds on a CPU per member: a small MLP on precomputed embeddings.

    The settings were chosen on a validation split of the *training* wording (one training
    template per operation and one training word per value moved out, three folds): dropout 0.5
    beat 0.3 and 0.7, a wider or longer-trained reader, weight decay, label smoothing and input
    noise; the captions raised validation accuracy from 86.2 to 87.0 % (descriptions 95.7 to
    98.1 %), and five members averaged from 86.8 % (one, mean over seeds) to 88.3 %.

    ``masked``: that share of the phrasings is read a second time with the attribute word made up
    for the CLIP (``_Corpus``), off by default. On the same kind of split, with each validation
    phrasing's attribute word also made up for the CLIP (as "specs" or "a cap" look to the
    portrait CLIP), three-member readers read 61.6 % of them without it and 81.4 % with a share
    of 0.25, and the validation phrasings as they are 96.5 and 95.2 %. On the held-out wording it
    did the opposite (instructions read 84.4 -> 83.3 %, descriptions 89.2 -> 81.6 %; see
    docs/instructions.md), so it is not the default: the simulation does not stand for the real
    held-out words.

    ``views``: that share of the rows is read through one encoder only (``one_view``), so each
    encoder alone learns to carry the reading and a word only the CLIP knows is not drowned by
    the sentence encoder. Chosen with ``benchmarks/bench_reader_folds.py`` (training wording set
    aside, three folds): 0, 0.3, 0.5, 0.75, 0.9 and 1 read 80.2, 82.0, 82.1, 83.1, 82.5 and
    80.4 % of the set-aside texts."""
    if steps < 1 or members < 1:
        raise InputError("the reader needs at least one training step and one member")
    if not 0.0 <= masked <= 1.0:
        raise InputError(f"the share of masked phrasings must be between 0 and 1, got {masked}")
    if not 0.0 <= views <= 1.0:
        raise InputError(f"the share of rows read by one encoder must be between 0 and 1, got {views}")
    groups = sorted({g for g, _ in model.targets})
    glosses = bool(glosses and sentence)
    corpus = _Corpus(clip, groups, sentence, captions, masked, glosses)
    if [tuple(t) for t in corpus.targets] != list(model.targets):
        raise InputError("the vocabulary's targets changed since this mapper was trained; train a new one")
    config = dict(model.config(), sentence_dim=int(corpus.emb.shape[1]) - corpus.embed_dim, glosses=glosses)
    device = next(model.parameters()).device
    keep = {k: v for k, v in model.state_dict().items() if not k.startswith("reader.")}
    readers, losses = [], []
    for m in range(members):
        torch.manual_seed(seed + m)
        single = UniversalMapper(info=dict(model.info), **dict(config, reader_members=1))
        single.load_state_dict(keep, strict=False)
        single = single.to(device).requires_grad_(False)
        params = list(single.reader.parameters())
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr)
        gen = torch.Generator().manual_seed(seed + m + 1)
        single.reader.train()
        with torch.inference_mode(False), torch.enable_grad():
            for _ in range(steps):
                idx = torch.randint(0, len(corpus.texts), (batch,), generator=gen)
                loss = _reader_loss(single, corpus, idx, dropout, views, gen)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        readers.append(single.reader.eval())
        losses.append(float(loss.detach()))
    fresh = UniversalMapper(info=dict(model.info), **dict(config, reader_members=members))
    fresh.load_state_dict(keep, strict=False)
    fresh.reader = readers[0] if members == 1 else ReaderMembers(readers)
    fresh.info.update(reader={"steps": steps, "sentence": bool(sentence), "dropout": dropout, "captions": bool(captions),
                              "members": members, "masked": masked, "views": views, "glosses": glosses,
                              "last_loss": round(float(np.mean(losses)), 4)})
    return fresh.to(device).eval().requires_grad_(False)


def _step(G, clip, model, corpus: _Corpus, objectives: dict, gen: torch.Generator, params: UniversalParams,
          code, step: int) -> tuple[torch.Tensor, dict]:
    """The loss of one training step (with its graph), and its parts as floats."""
    device = G.device
    parts, total = {}, torch.zeros((), device=device)
    with torch.inference_mode(False), torch.enable_grad():
        if params.reader:
            idx = torch.randint(0, len(corpus.texts), (params.reader_batch,), generator=gen)
            reader = _reader_loss(model, corpus, idx)
            total = total + params.reader * reader
            parts["reader"] = float(reader.detach())
        if params.clip_every and step % params.clip_every == 0:
            if params.clip_absences or code is None:
                i = int(_pick(gen, len(corpus.cond_texts)))
            else:                  # with pairs to teach it, "no bangs" gets no CLIP loss
                i = corpus.cond_present[int(_pick(gen, len(corpus.cond_present)))]
            if i not in objectives:
                text, neutral = corpus.cond_texts[i]
                objectives[i] = Objective(G, clip, text, neutral, "all", params.weights)
            objective = objectives[i]
            z = torch.randn([params.batch, G.z_dim], generator=gen).to(device)
            with torch.no_grad():
                ws = G.mapping(z, truncation_psi=params.truncation)
            start = objective.start(ws)
            dws = model(ws, corpus.cond[i].to(device))
            clip_loss, clip_parts = objective(start, objective.shift(dws), dws)
            total = total + clip_loss
            parts.update({f"clip_{k}": v for k, v in clip_parts.items()})
        if code is not None and (params.pair or params.pixel):
            pair, pixel = _pair_losses(G, model, corpus, gen, params, code)
            total = total + params.pair * pair + params.pixel * pixel
            parts["pair"], parts["pixel"] = float(pair.detach()), float(pixel.detach())
    return total, parts


def pair_batch(G, code, z: torch.Tensor, target_pairs: list, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(ws, true ΔW+) of faces ``z`` [N, z_dim] and the same faces with one attribute changed each
    (``target_pairs``: (group, value) per face), both at ``truncation``: exact before/after pairs."""
    z_np = z.double().cpu().numpy()
    after = np.stack([code.z_for({g: v}, z_np[i:i + 1])[0] for i, (g, v) in enumerate(target_pairs)])
    with torch.no_grad():
        ws = G.mapping(z.to(G.device), truncation_psi=truncation)
        ws_after = G.mapping(torch.from_numpy(after).float().to(G.device), truncation_psi=truncation)
    return ws, ws_after - ws


def _pair_losses(G, model, corpus: _Corpus, gen, params: UniversalParams, code):
    z = torch.randn([params.batch, G.z_dim], generator=gen)
    cond_idx = torch.randint(0, len(corpus.cond_texts), (params.batch,), generator=gen)
    tidx = corpus.cond_target[cond_idx]
    ws, true = pair_batch(G, code, z, [corpus.targets[int(t)] for t in tidx], params.truncation)
    pred = model(ws, corpus.cond[cond_idx].to(G.device))
    pair = (pred - true).pow(2).sum(-1).mean()
    pixel = torch.zeros((), device=G.device)
    if params.pixel:
        res = min(G.img_resolution, params.pixel_resolution)
        styles = G.styles(torch.cat([ws + pred, ws + true]))
        img = G.synthesis_from_styles(styles, "const", res)
        pixel = F.mse_loss(img[:len(ws)], img[len(ws):].detach())
    return pair, pixel


GAIN_RANGE = (0.5, 3.0)          # a calibrated gain is kept within these
CALIBRATION_SEED = 20261126      # faces of the calibration: a stream no benchmark draws from


def calibrate_gains(G, clip, model, code, faces: int = 256, seed: int = CALIBRATION_SEED) -> dict:
    """Per target, the strength at which the mapper's edit goes the whole way along the true edit;
    sets ``model.gains`` in place and returns {"group=value": gain}.

    A mapper trained with an L2 loss shrinks its edits where it cannot tell the face's current
    value from w (from a surprised or an angry face to neutral, say): the mean of several true
    edits is shorter than each of them, and the picture stops half way. For each target,
    ``faces`` random faces that do not have the value yet and their exact "after" faces
    (``CodeLayout.z_for``) give the true ΔW+ t and the mapper's p; the gain is
    Σ|t|² / Σ⟨p, t⟩, so that g·p's component along the true edit has the true length on average.
    No oracle and no rendering: the renderer's exact pairs only (seconds on a CPU)."""
    if code is None:
        raise InputError("calibrating the gains needs exact before/after pairs: a generator with the portrait code")
    gen = torch.Generator().manual_seed(seed)
    truncation = model.info.get("params", {}).get("truncation", 0.7)
    found = {}
    for k, (group, value) in enumerate(model.targets):
        z = torch.randn([faces, G.z_dim], generator=gen)
        ws, true = pair_batch(G, code, z, [(group, value)] * faces, truncation)
        changed = [r["attributes"][group] != value for r in code.decode(ws[:, 0].double().cpu().numpy())]
        if not any(changed):
            continue                   # a face that has the value already changes nothing
        ws, true = ws[changed], true[changed]
        with torch.no_grad():
            pred = model(ws, condition(clip, *canonical(group, value)).to(G.device))
        along = float((pred * true).sum())
        gain = float(true.pow(2).sum()) / along if along > 0 else GAIN_RANGE[1]
        model.gains[k] = min(max(gain, GAIN_RANGE[0]), GAIN_RANGE[1])
        found[f"{group}={value}"] = round(float(model.gains[k]), 3)
    model.info["gains"] = {"faces": faces, "seed": seed, "values": found}
    return found
