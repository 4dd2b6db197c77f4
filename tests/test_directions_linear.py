"""The linearised direction build (``--method linear``): its Jacobian is the derivative, its
rows are the normalised average of the Jacobian's unit columns, the fidelity check falls back
to finite differences (giving exactly the finite build), the cost plan linearises the wide
layers of a config-f generator and not its thin high-resolution blocks, and the CLI says what
it used."""

from __future__ import annotations

from dataclasses import replace

import torch

from stylepaint.directions import linear, run
from stylepaint.directions.cache import build
from stylepaint.directions.job import plan
from stylepaint.directions.precompute import BuildParams, encode, image_styles, unit_rows
from stylepaint.engine.networks import Generator
from test_directions import BATCH, PARAMS, clip, full, home, tiny_g  # noqa: F401  (fixtures)
from test_directions_cli import files  # noqa: F401  (fixture)

LINEAR = replace(PARAMS, method="linear")


def layers_of(G):
    return [l for l in G.style_layers if not l.is_torgb]


def test_jacobian_is_the_derivative_of_the_unit_embedding(tiny_g, clip):
    styles = {k: v[:1] for k, v in image_styles(tiny_g, PARAMS).items()}
    layers = layers_of(tiny_g)
    last = len(tiny_g.synthesis.block_resolutions) - 1
    *_, (_, J) = linear.image_jacobian(tiny_g, clip, styles, layers, 0, last, PARAMS, batch=5)
    assert J.shape == (sum(l.channels for l in layers), clip.embed_dim)
    row = 0
    for layer in layers:
        for c in (0, layer.channels - 1):
            emb = []
            for sign in (1, -1):
                s = {k: v.clone() for k, v in styles.items()}
                s[layer.name][0, c] += sign * 3e-3
                with torch.no_grad():
                    emb.append(encode(clip, tiny_g.synthesis_from_styles(s))[0])
            numeric = (emb[0] - emb[1]) / 6e-3
            assert torch.nn.functional.cosine_similarity(numeric, J[row + c], dim=0) > 0.999
        row += layer.channels


def test_accepted_linearisation_gives_unit_rows_from_jacobians(monkeypatch, tiny_g, clip):
    monkeypatch.setattr(linear, "MIN_COS", -2.0)                   # accept whatever the check says
    rel = run(build(tiny_g, clip, LINEAR, batch_size=BATCH, use_cache=False))
    assert rel.complete and [g["used"] for g in rel.meta["linear"]] == [True]
    styles0 = image_styles(tiny_g, PARAMS)
    layers = layers_of(tiny_g)
    last = len(tiny_g.synthesis.block_resolutions) - 1
    sums = 0
    for i in range(PARAMS.n_images):
        *_, (_, J) = linear.image_jacobian(tiny_g, clip, {k: v[i:i + 1] for k, v in styles0.items()}, layers, 0,
                                           last, PARAMS, batch=24)
        sums = sums + unit_rows(J)
    expected = unit_rows(sums)
    offsets = rel.offsets()
    got = torch.cat([rel.R[offsets[l.name][0]:offsets[l.name][1]] for l in layers])
    assert torch.allclose(got, expected, atol=1e-5)
    torgb = torch.cat([rel.rows(l.name) for l in tiny_g.style_layers if l.is_torgb])
    assert torgb.abs().sum() == 0


def test_rejected_linearisation_falls_back_to_the_finite_build(monkeypatch, tiny_g, clip, full):
    monkeypatch.setattr(linear, "MIN_COS", 1.01)                   # nothing passes
    infos = list(build(tiny_g, clip, LINEAR, batch_size=BATCH, use_cache=False))
    rel = infos[-1]["relevance"]
    (group,) = rel.meta["linear"]
    assert not group["used"] and group["channels"] == linear.CHECK_SAMPLES and -1 <= group["cos"] <= 1
    assert any("finite differences for these layers" in i["message"] for i in infos)
    assert torch.allclose(rel.R, full.R, atol=1e-5)


def test_the_method_keys_the_cache_and_the_default_key_is_unchanged(tiny_g, clip):
    from stylepaint.directions import cache_key

    assert "method" not in PARAMS.to_dict()
    assert cache_key(tiny_g, clip, PARAMS) != cache_key(tiny_g, clip, LINEAR)


class _Clip:
    """What the plan reads of a ViT-B-32: input size, embedding width, image-tower size."""

    input_resolution, embed_dim = 224, 512

    def __init__(self):
        visual = torch.nn.Module()
        with torch.device("meta"):
            visual.body = torch.nn.Linear(768, 88_000_000 // 768, bias=False)    # ~88 M parameters
        visual.patch_size = (32, 32)
        self.model = torch.nn.Module()
        self.model.visual = visual


def test_plan_linearises_config_f_up_to_the_early_stop_block_only():
    with torch.device("meta"):
        G = Generator(z_dim=512, w_dim=512, img_resolution=1024, mapping_layers=8, channel_base=32768,
                      channel_max=512, num_fp16_res=4, conv_clamp=256)
    layers = layers_of(G)
    assert sum(l.channels for l in layers) == 6048
    units = plan(G, _Clip(), BuildParams(method="linear"), layers)
    kinds = [(kind, [l.name for l in group]) for kind, _, _, group in units]
    assert kinds[0][0] == "linear" and kinds[0][1][0] == "b4.conv1" and kinds[0][1][-1] == "b256.conv1"
    assert all(kind == "finite" for kind, _ in kinds[1:])
    assert [n for _, names in kinds[1:] for n in names] == ["b512.conv0", "b512.conv1", "b1024.conv0", "b1024.conv1"]
    assert all(kind == "finite" for kind, *_ in plan(G, _Clip(), BuildParams(), layers))


def test_cli_method_and_memory_options(files, home, capsys):  # noqa: F811
    from stylepaint.cli import main

    args = ["directions", "build", files["model"], "--clip", files["clip"], "--images", "2", "--stats", "300",
            "--method", "linear", "--memory", "1G"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "memory budget 1.0 GiB" in captured.err
    assert "b4.conv1..b16.conv1" in captured.out and "sampled rows agree to" in captured.out
    assert main(args[:-2] + ["--memory", "lots"]) == 2
    assert "memory size" in capsys.readouterr().err


def test_backward_batch_follows_the_memory_budget(tiny_g, clip):
    from stylepaint.engine.memory_budget import MemoryBudget

    last = len(tiny_g.synthesis.block_resolutions) - 1
    assert linear.vjp_batch(tiny_g, clip, 0, last, MemoryBudget(1 << 40)) == clip.embed_dim    # all at once
    assert linear.vjp_batch(tiny_g, clip, 0, last, MemoryBudget(1)) == 1


def test_sketch_basis_finds_the_subspace_the_rows_live_in():
    gen = torch.Generator().manual_seed(0)
    sub = torch.linalg.qr(torch.randn(64, 5, generator=gen)).Q.t()          # 5 directions of a 64-d space
    images = [unit_rows(torch.randn(300, 5, generator=gen) @ sub) for _ in range(3)]
    basis, kept = linear.sketch_basis(images)
    assert basis.shape == (5, 64) and kept > 0.999
    assert torch.allclose(basis @ basis.t(), torch.eye(5), atol=1e-5)
    assert torch.allclose((images[0] @ basis.t()) @ basis, images[0], atol=1e-4)
    # rows spread over every direction: no basis narrower than half the space keeps them
    spread_rows = [unit_rows(torch.randn(300, 64, generator=gen)) for _ in range(3)]
    basis, kept = linear.sketch_basis(spread_rows)
    assert basis is None and kept < linear.SKETCH_COS


def test_sketched_build_matches_the_full_linear_build(monkeypatch, tiny_g, clip):
    monkeypatch.setattr(linear, "MIN_COS", -2.0)
    params = replace(LINEAR, n_images=6)
    monkeypatch.setattr(linear, "SKETCH_COS", 2.0)                  # no k can keep more than everything
    full_rel = run(build(tiny_g, clip, params, batch_size=BATCH, use_cache=False))
    assert full_rel.meta["linear"][0]["sketch_k"] is None
    monkeypatch.setattr(linear, "SKETCH_COS", 0.95)
    monkeypatch.setattr(linear, "SKETCH_MAX_SHARE", 1.0)
    sketched = run(build(tiny_g, clip, params, batch_size=BATCH, use_cache=False))
    k = sketched.meta["linear"][0]["sketch_k"]
    assert k is not None and k < clip.embed_dim and sketched.meta["linear"][0]["sketch_kept"] >= 0.95
    built = full_rel.R.norm(dim=1) > 0                             # toRGB rows stay empty
    cos = (sketched.R[built] * full_rel.R[built]).sum(1)
    assert cos.mean() > 0.95 and not torch.equal(sketched.R, full_rel.R)
