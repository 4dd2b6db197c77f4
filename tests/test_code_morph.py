"""Exact attribute morphs through the portrait code (the embedded default's W holds the renderer's
parameters): the StyleSpace shift at α = 1 is the face with only that group's value changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylepaint.code_morph import code_morph_delta, code_morph_step
from stylepaint.engine.networks import Generator
from stylepaint.engine.stylespace import flatten
from stylepaint.errors import InputError
from stylepaint.portraits.latent_code import write_mapping


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    return G.eval()


def _face_and_target(G, group, target, seed=3):
    """(ws of a face, ws of the same face with group = target), through the code itself."""
    from stylepaint.tag_faces import portrait_code

    code = portrait_code(G)
    z = np.random.default_rng(seed).standard_normal((1, G.z_dim))
    x = z / np.sqrt(np.mean(z ** 2))
    e = code.groups[group]
    moved = x.copy()
    k = e.values.index(target)
    moved[0, e.coord] = code.coordinate.quantile(sum(e.probs[:k]) + e.probs[k] / 2)
    w, w2 = (torch.from_numpy(code.encode_x(v)).float() for v in (x, moved))
    return code, w, w2


@pytest.mark.parametrize("psi", [1.0, 0.6])
def test_the_shift_at_alpha_one_is_the_face_with_only_that_value_changed(G, psi):
    code, w, w2 = _face_and_target(G, "hair_color", "red")
    source = code.decode(w.double().numpy())[0]["attributes"]["hair_color"]
    assert source != "red"
    w_avg = G.mapping.w_avg[None]
    ws, ws2 = ((w_avg + psi * (v - w_avg))[:, None].expand(-1, G.num_ws, -1) for v in (w, w2))
    delta, found = code_morph_delta(G, ws[0], "hair_color", "red")
    assert found == source
    with torch.no_grad():
        expected = flatten(G.styles(ws2)) - flatten(G.styles(ws))
    assert np.allclose(delta, expected[0].numpy(), atol=1e-4)
    assert np.abs(delta).max() > 1e-3
    # the decoded face at α = 1 differs from the start in that group only
    step = code_morph_step(G, ws[0], "hair_color", "red")
    assert step.method == "optimize" and step.alpha == 1.0 and "red" in step.prompt and source in step.neutral
    assert step.name.endswith(f"{source} → red")


def test_the_face_own_value_gives_no_shift_and_bad_input_one_message(G):
    code, w, _ = _face_and_target(G, "eyewear", "none")
    ws = w[:, None].expand(-1, G.num_ws, -1)[0]
    own = code.decode(w.double().numpy())[0]["attributes"]["eyewear"]
    delta, found = code_morph_delta(G, ws, "eyewear", own)
    assert found == own and not np.any(delta)
    with pytest.raises(InputError, match="unknown attribute group"):
        code_morph_delta(G, ws, "hat_size", "big")
    with pytest.raises(InputError, match="has no value"):
        code_morph_delta(G, ws, "eyewear", "monocle")
    plain = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    with pytest.raises(InputError, match="does not compute the portrait code"):
        code_morph_delta(plain, ws, "eyewear", "glasses")
    with pytest.raises(ValueError, match="face latent"):
        code_morph_delta(G, ws[:2], "eyewear", "glasses")
