"""Exact attribute morphs on a generator whose mapping computes the portrait code.

On the embedded default, W holds the renderer's parameters (``stylepaint.portraits.latent_code``):
an attribute group is a few slots, one per value. Moving a face from one value to another is
therefore a known change of W in those slots only — the face's value slot goes to 0 and the
target's to its weight, scaled like the face itself was (a truncated face, ``w_avg + psi
(code - w_avg)``, stays truncated by the same psi). Styles are affine in W, so the change is a
fixed StyleSpace shift; stored in an edit step, α = 1 is the target value and α between 0 and 1
slides there, like any other edit layer.

    delta, source = code_morph_delta(G, ws, "hair_color", "red")
    step = code_morph_step(G, ws, "hair_color", "red")       # an EditStep holding that delta
"""

from __future__ import annotations

import numpy as np
import torch

from stylepaint.errors import InputError


@torch.no_grad()
def code_morph_delta(G, ws, group: str, target: str, code=None) -> tuple[np.ndarray, str]:
    """(flat StyleSpace shift [C] float32 at α = 1, the face's own value) for moving the face
    ``ws`` ([num_ws, w_dim] or [1, num_ws, w_dim]) to ``group = target``."""
    from stylepaint.engine.networks import assert_shape
    from stylepaint.engine.stylespace import flatten
    from stylepaint.tag_faces import portrait_code

    code = code if code is not None else portrait_code(G)
    if code is None:
        raise InputError("this model does not compute the portrait code: morph its attributes with text directions")
    entry = code.groups.get(group)
    if entry is None:
        raise InputError(f"unknown attribute group {group!r}; known: {', '.join(code.groups)}")
    if target not in entry.values:
        raise InputError(f"{group} has no value {target!r}; it has {', '.join(entry.values)}")
    ws = torch.as_tensor(ws, dtype=torch.float32, device=G.device)
    if ws.ndim == 2:
        ws = ws[None]
    assert_shape(ws, [1, G.num_ws, G.w_dim], "face latent (W+)")
    w_avg = G.mapping.w_avg.to(ws)
    lo, hi = entry.slot, entry.slot + entry.width
    # the group's slots as the face has them (the first W row: the code is broadcast to all)
    slots = ws[0, 0, lo:hi]
    source = int(torch.argmax(slots))
    k = entry.values.index(target)
    weights = torch.as_tensor(entry.weights, dtype=ws.dtype, device=ws.device)
    # psi of the face: its value slot relative to a pure code (1 for an untruncated face)
    psi = float((slots[source] - w_avg[lo + source]) / (weights[source] - w_avg[lo + source]))
    change = torch.zeros(G.w_dim, dtype=ws.dtype, device=ws.device)
    if k != source:
        change[lo + source] = -psi * weights[source]
        change[lo + k] = psi * weights[k]
    before = flatten(G.styles(ws))
    after = flatten(G.styles(ws + change))
    return (after - before)[0].float().cpu().numpy(), entry.values[source]


def code_morph_step(G, ws, group: str, target: str, alpha: float = 1.0, prompt_of=None):
    """An ``EditStep`` holding the exact morph of the face ``ws`` to ``group = target``
    (``prompt_of(group, value)`` names the texts; default: the vocabulary's prompts, the ones
    the editor's morph rows use, so the layer reads back as that group's morph)."""
    from stylepaint.edits import EditStep
    from stylepaint.portraits.vocabulary import prompt

    prompt_of = prompt_of or prompt
    delta, source = code_morph_delta(G, ws, group, target)
    label = group.replace("_", " ").capitalize()
    return EditStep(prompt_of(group, target), prompt_of(group, source), alpha=float(alpha), method="optimize",
                    delta=delta, name=f"{label}: {source} → {target}")
