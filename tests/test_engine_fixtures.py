"""The generator reproduces the reference implementations' outputs on every fixture checkpoint."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import stylepaint
from conftest import CHECKPOINT_FILES

TOL = 1e-4


def rel_err(ours, ref) -> float:
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    assert ours.shape == ref.shape, f"shape {ours.shape} != reference {ref.shape}"
    return float(np.abs(ours - ref).max() / np.abs(ref).max())


def standard_name(ref_name: str) -> str:
    """Reference module names -> stylepaint layer names (mapping from the fixture README)."""
    name = ref_name.replace(".conv.modulation", "").replace(".affine", "")
    if name == "conv1":
        return "b4.conv1"
    if name == "to_rgb1":
        return "b4.torgb"
    if m := re.fullmatch(r"convs\.(\d+)", name):
        i = int(m[1])
        return f"b{2 ** (i // 2 + 3)}.conv{i % 2}"
    if m := re.fullmatch(r"to_rgbs\.(\d+)", name):
        return f"b{2 ** (int(m[1]) + 3)}.torgb"
    return name


@pytest.fixture(scope="module", params=CHECKPOINT_FILES)
def case(request, fixture_dir):
    path = fixture_dir / request.param
    G = stylepaint.load_generator(path)
    ref = np.load(path.with_name(path.name.rsplit(".", 1)[0] + ".expected.npz"))
    return G, ref


def test_architecture_read_from_file(case):
    G, ref = case
    assert G.z_dim == ref["z"].shape[1]
    assert (G.num_ws, G.w_dim) == ref["ws_psi10"].shape[1:]
    assert G.img_resolution == ref["img_psi10"].shape[-1]


@pytest.mark.parametrize("psi,key", [(1.0, "psi10"), (0.7, "psi7")])
def test_mapping_and_synthesis_match(case, psi, key):
    G, ref = case
    with torch.no_grad():
        ws = G.mapping(torch.from_numpy(ref["z"]), truncation_psi=psi)
        assert rel_err(ws, ref[f"ws_{key}"]) <= TOL
        ws_ref = torch.from_numpy(ref[f"ws_{key}"])
        assert rel_err(G.synthesis(ws_ref, noise_mode="const"), ref[f"img_{key}"]) <= TOL
        if f"img_{key}_nonoise" in ref.files:
            assert rel_err(G.synthesis(ws_ref, noise_mode="none"), ref[f"img_{key}_nonoise"]) <= TOL


def test_styles_names_order_values(case):
    G, ref = case
    with torch.no_grad():
        styles = G.styles(torch.from_numpy(ref["ws_psi10"]))
    expected = [standard_name(n) for n in ref["style_layer_order"]]
    assert sorted(styles) == sorted(expected)
    # execution order: b4.conv1, b4.torgb, then conv0, conv1, torgb per block
    assert list(styles)[:2] == ["b4.conv1", "b4.torgb"]
    assert list(styles)[2:5] == ["b8.conv0", "b8.conv1", "b8.torgb"]
    resolutions = [int(n.split(".")[0][1:]) for n in styles]
    assert resolutions == sorted(resolutions)
    for ref_name in ref["style_layer_order"]:
        assert rel_err(styles[standard_name(ref_name)], ref[f"style_{ref_name}"]) <= TOL, ref_name


def test_synthesis_from_styles_matches(case):
    G, ref = case
    with torch.no_grad():
        styles = G.styles(torch.from_numpy(ref["ws_psi10"]))
        assert rel_err(G.synthesis_from_styles(styles, noise_mode="const"), ref["img_psi10"]) <= TOL


def test_random_noise_differs_from_const(case):
    G, ref = case
    with torch.no_grad():
        ws = torch.from_numpy(ref["ws_psi10"][:1])
        const = G.synthesis(ws, noise_mode="const")
        rand = G.synthesis(ws, noise_mode="random")
    assert rand.shape == const.shape
    assert not torch.equal(rand, const)


def test_batch_of_one_matches_too(case):
    """Batch 1 takes its own path (styles folded into the weights): each image alone must match
    the reference, and the batched path, with noise const and none."""
    G, ref = case
    with torch.no_grad():
        batched_nonoise = G.synthesis(torch.from_numpy(ref["ws_psi7"]), noise_mode="none")
        for i in range(ref["ws_psi7"].shape[0]):
            ws = torch.from_numpy(ref["ws_psi7"][i:i + 1])
            assert rel_err(G.synthesis(ws, noise_mode="const")[0], ref["img_psi7"][i]) <= TOL
            alone = G.synthesis_from_styles(G.styles(ws), noise_mode="none")[0]
            assert rel_err(alone, batched_nonoise[i]) <= TOL
            if "img_psi7_nonoise" in ref.files:
                assert rel_err(alone, ref["img_psi7_nonoise"][i]) <= TOL
