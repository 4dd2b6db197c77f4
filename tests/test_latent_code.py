"""The portrait code of the default generator: its constructed mapping, decoding, tags."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from stylepaint.engine.networks import Generator
from stylepaint.portraits.latent_code import CodeLayout, layout, write_mapping
from stylepaint.portraits.vocabulary import expected_marginals
from stylepaint.training.presets import get_preset


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G = Generator(**get_preset("default")["generator"])
    write_mapping(G)
    return G.eval()


def _w(G, z: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return G.mapping(z)[:, 0].double().numpy()


def test_mapping_computes_the_code(G):
    code = layout(128, 128)
    z = torch.randn(4000, 128, generator=torch.Generator().manual_seed(1))
    w = _w(G, z)
    ref = code.encode_z(z.double().numpy())
    assert np.abs(w - ref).max() < 0.01            # float32 rounding of steep ramps only
    same = sum(a["attributes"] == b["attributes"] for a, b in zip(code.decode(w), code.decode(ref)))
    assert same == len(z)


def test_decoded_attributes_have_the_vocabulary_frequencies(G):
    code = layout(128, 128)
    n = 20_000
    records = code.decode(_w(G, torch.randn(n, 128, generator=torch.Generator().manual_seed(2))))
    expected = expected_marginals()
    for group, probs in expected.items():
        counts = Counter(r["attributes"][group] for r in records)
        for value, p in probs.items():
            sigma = (p * (1 - p) / n) ** 0.5
            assert abs(counts[value] / n - p) < 4.5 * sigma + 1e-3, (group, value, counts[value] / n, p)
    # the vocabulary's constraint holds in every decode
    assert all(r["attributes"]["bangs"] == "no" for r in records if r["attributes"]["hair_style"] == "bald")
    # scalars stay in the renderer's ranges
    tilts = np.array([r["nuisances"]["tilt"] for r in records])
    assert tilts.min() >= -10 and tilts.max() <= 10 and abs(np.mean(tilts)) < 0.3


def test_midpoints_and_truncation_decode_to_one_clean_face(G):
    code = layout(128, 128)
    gen = torch.Generator().manual_seed(3)
    w1, w2 = _w(G, torch.randn(500, 128, generator=gen)), _w(G, torch.randn(500, 128, generator=gen))
    a, b = code.decode(w1), code.decode(w2)
    mid = code.decode((w1 + w2) / 2)
    differing = 0
    for ra, rb, rm in zip(a, b, mid):
        for g in code.groups:
            assert rm["attributes"][g] in (ra["attributes"][g], rb["attributes"][g]) or g in ("bangs", "headwear")
            differing += ra["attributes"][g] != rb["attributes"][g]
    assert differing > 1000                        # the pairs really differ
    w_avg = G.mapping.w_avg.double().numpy()
    for psi in (0.7, 0.5):
        truncated = code.decode(w_avg + psi * (w1 - w_avg))
        assert [r["attributes"] for r in truncated] == [r["attributes"] for r in a]
        assert np.std([r["nuisances"]["tilt"] for r in truncated]) < np.std([r["nuisances"]["tilt"] for r in a])


def test_truncation_in_the_network_keeps_categories(G):
    code = layout(128, 128)
    z = torch.randn(200, 128, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        plain, truncated = G.mapping(z)[:, 0], G.mapping(z, truncation_psi=0.6)[:, 0]
    assert [r["attributes"] for r in code.decode(plain.numpy())] == \
           [r["attributes"] for r in code.decode(truncated.numpy())]


def test_tags_fix_the_attributes_and_keep_the_rest(G):
    code = layout(128, 128)
    z = np.random.default_rng(5).standard_normal((100, 128))
    tags = {"hair_color": "red", "eyewear": "glasses", "expression": "smiling"}
    fixed = code.z_for(tags, z)
    assert np.allclose(np.sqrt((fixed ** 2).mean(1)), np.sqrt((z ** 2).mean(1)))
    before = code.decode(_w(G, torch.from_numpy(z).float()))
    after = code.decode(_w(G, torch.from_numpy(fixed).float()))
    for rb, ra in zip(before, after):
        assert all(ra["attributes"][g] == v for g, v in tags.items())
        kept = [g for g in code.groups if g not in tags and g not in ("bangs", "headwear")]
        assert sum(ra["attributes"][g] == rb["attributes"][g] for g in kept) >= len(kept) - 1
    with pytest.raises(ValueError, match="no value"):
        code.z_for({"hair_color": "plaid"}, z)
    with pytest.raises(ValueError, match="unknown attribute group"):
        code.z_for({"hat": "yes"}, z)


def test_a_mapping_too_small_for_the_code_is_refused():
    with pytest.raises(ValueError, match="z_dim"):
        CodeLayout(z_dim=32, w_dim=128)
    G = Generator(z_dim=128, w_dim=128, img_resolution=8, mapping_layers=1, channel_base=64, channel_max=8)
    with pytest.raises(ValueError, match="at least 2 mapping layers"):
        write_mapping(G)


def test_a_pinned_nuisance_stays_at_its_median_and_is_read_back_from_the_mapping():
    from stylepaint.tag_faces import portrait_code

    G = Generator(z_dim=128, w_dim=128, img_resolution=8, mapping_layers=4, channel_base=32, channel_max=8)
    code = write_mapping(G, {"tilt": 0.0, "shift_x": 0.0, "shift_y": 0.25})
    records = code.decode(_w(G, torch.randn(500, 128, generator=torch.Generator().manual_seed(6))))
    assert max(abs(r["nuisances"]["tilt"]) for r in records) < 1e-3
    assert max(abs(r["nuisances"]["shift_x"]) for r in records) < 1e-5
    shifts = np.array([r["nuisances"]["shift_y"] for r in records])
    assert 0 < shifts.std() < 0.25 * 0.02 / np.sqrt(3) * 1.5      # narrower than the renderer's uniform
    assert np.std([r["nuisances"]["light_angle"] for r in records]) > 60   # the rest keeps its range
    found = portrait_code(G)
    assert found is not None and found.spread == {"tilt": 0.0, "shift_x": 0.0, "shift_y": 0.25}
    with pytest.raises(ValueError, match="unknown nuisances"):
        CodeLayout(spread={"wobble": 0.0})
