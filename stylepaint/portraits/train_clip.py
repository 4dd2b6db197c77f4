"""Training the small CLIP on (render, caption) pairs with open_clip's ``ClipLoss``.

Each step pairs every image with one of its captions (drawn at random) under open_clip's
``ClipLoss``, and adds two terms:

* a per-group *prompt contrast*: for every attribute group, one caption per value that
  mentions only that group (``captions.value_captions``, fresh wording each step) is encoded,
  and each image must be closest to the caption of its own value. In a batch of full captions
  the easy groups (background, skin) already separate the pairs, so plain ``ClipLoss`` teaches
  the text tower little about eye colour or expression; this term asks for every group.
* an auxiliary cross-entropy from the image embedding to each group through small linear heads
  (dropped when saving), so the image tower learns the attributes in few epochs on a CPU.

``train_clip(...)`` is a long job yielding progress dicts; the last one has ``"result"``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stylepaint.errors import InputError
from stylepaint.portraits import small_clip
from stylepaint.portraits.captions import value_captions
from stylepaint.portraits.dataset import read_captions
from stylepaint.portraits.train_oracle import augment, load_split, to_float, training_setup


def save_clip(model, path: Path | str, half: bool = True) -> None:
    """Save the open_clip state dict (fp16 by default: half the bytes; loads into fp32 models)."""
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    torch.save(state, str(path))


@torch.no_grad()
def evaluate_clip(model, tokenizer, images_u8: torch.Tensor, labels: torch.Tensor, captions: list[str],
                  retrieval_count: int = 1000) -> dict:
    """Zero-shot accuracy per group on all images; caption->image recall on the first ``retrieval_count``."""
    model.eval()
    emb = torch.cat([small_clip.encode_images(model, to_float(images_u8[i : i + 1000])) for i in range(0, len(images_u8), 1000)])
    zs = small_clip.zero_shot_accuracy(model, tokenizer, emb, labels)
    n = min(retrieval_count, len(captions))
    text = small_clip.encode_texts(model, tokenizer, captions[:n])
    return {"zero_shot_accuracy": zs, "retrieval": small_clip.caption_to_image_recall(emb[:n], text),
            "zero_shot_count": len(images_u8), "retrieval_count": n}


def prompt_contrast(model, tokenizer, groups: dict[str, list[str]], image_features: torch.Tensor,
                    labels: torch.Tensor, seed) -> torch.Tensor:
    """Mean over groups of the cross-entropy of classifying each image among its group's
    one-value captions by cosine similarity (scaled by the model's logit scale)."""
    texts = [t for k, (g, values) in enumerate(groups.items()) for t in value_captions(g, values, [*seed, k])]
    txt = model.encode_text(tokenizer(texts).to(image_features.device), normalize=True)
    img = F.normalize(image_features, dim=-1)
    scale = model.logit_scale.exp()
    per_group = txt.split([len(values) for values in groups.values()])
    return sum(F.cross_entropy(scale * img @ t.T, labels[:, k]) for k, t in enumerate(per_group)) / len(groups)


def train_clip(
    data: Path | str,
    out: Path | str,
    heldout: Path | str | None = None,
    epochs: int = 3,
    batch_size: int = 256,
    lr: float = 2e-3,
    aux_weight: float = 0.5,
    prompt_weight: float = 1.0,
    threads: int | None = 2,
    device: str = "cpu",
    seed: int = 0,
    max_minutes: float | None = None,
    init: Path | str | None = None,
    eval_count: int = 1000,
) -> Iterator[dict]:
    """Train (or, from ``init`` weights, continue training) the small CLIP."""
    import open_clip

    gen, groups, images, labels, records = training_setup(data, threads, seed)
    caps = read_captions(data)[: len(images)]
    model, tokenizer = small_clip.create(pretrained=init, device=device)
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else size
    if images.shape[1] != size:
        raise InputError(f"{data} holds {images.shape[1]} px images; the small CLIP takes {size} px")
    per = min(len(c) for c in caps)
    tokens = tokenizer([c[j] for c in caps for j in range(per)]).view(len(caps), per, -1)
    heads = nn.ModuleDict({g: nn.Linear(model.text_projection.shape[1], len(v)) for g, v in groups.items()}).to(device)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0},
                             {"params": heads.parameters(), "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98))
    steps_per_epoch = len(images) // batch_size
    total = steps_per_epoch * epochs
    warm = max(1, min(total // 20, 15))
    budget_s = max_minutes * 60 if max_minutes else None
    t_start = time.time()

    def lr_factor(s: int) -> float:
        # warm-up, then a cosine over the steps -- or over the time budget when that ends first
        progress = min(1.0, s / total)
        if budget_s:
            progress = max(progress, min(1.0, (time.time() - t_start) / budget_s))
        return min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * progress))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    loss_fn = open_clip.ClipLoss()
    t0, cpu0 = time.time(), time.process_time()
    step = 0
    stopped_early = False
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(images), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size : (b + 1) * batch_size]
            x = small_clip.preprocess(model, augment(to_float(images[idx]), gen, shift=1)).to(device)
            pick = torch.randint(per, (len(idx),), generator=gen)
            txt = tokens[idx, pick].to(device)
            raw = model.encode_image(x)
            txt_f = model.encode_text(txt, normalize=True)
            loss_c = loss_fn(F.normalize(raw, dim=-1), txt_f, model.logit_scale.exp())
            loss_a = sum(F.cross_entropy(heads[g](raw), labels[idx, k].to(device)) for k, g in enumerate(groups)) / len(groups) if aux_weight else 0.0
            loss_p = prompt_contrast(model, tokenizer, groups, raw, labels[idx].to(device), [seed, step]) if prompt_weight else 0.0
            loss = loss_c + aux_weight * loss_a + prompt_weight * loss_p
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            step += 1
            if step % 10 == 0 or step == total:
                parts = {k: float(v.detach()) if torch.is_tensor(v) else v for k, v in
                         (("loss", loss), ("clip", loss_c), ("prompts", loss_p), ("aux", loss_a))}
                yield {"done": step, "total": total, "elapsed_s": time.time() - t0, "loss": parts.pop("loss"),
                       "message": f"epoch {epoch + 1}/{epochs} " + " ".join(f"{k} {v:.3f}" for k, v in parts.items())}
            if budget_s and time.time() - t0 > budget_s:
                stopped_early = True
                break
        if stopped_early:
            break
    train_seconds = time.time() - t0
    cpu_seconds = time.process_time() - cpu0
    metrics = {}
    model.eval()
    if heldout:
        h_images, h_labels, h_records = load_split(heldout, groups, "heldout")
        h_images, h_labels, h_records = h_images[:eval_count], h_labels[:eval_count], h_records[:eval_count]
        from stylepaint.portraits.captions import captions_for

        full = [captions_for(r, 1, full=True, salt=1)[0] for r in h_records]
        metrics = evaluate_clip(model, tokenizer, h_images, h_labels, full)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_clip(model.cpu(), out)
    yield {"done": total, "total": total, "message": "saved", "result": {
        "path": str(out), "metrics": metrics, "train_seconds": round(train_seconds, 1), "steps": step,
        "cpu_seconds": round(cpu_seconds, 1),
        "stopped_early": stopped_early,
        "hyper": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "aux_weight": aux_weight, "prompt_weight": prompt_weight, "seed": seed,
                  "threads": threads, "train_count": len(images), "captions_per_image": per,
                  "train_seeds": [records[0]["seed"], records[-1]["seed"]],
                  "init": str(init) if init else None}}}
