"""Faces from tags: exact on a generator that computes the portrait code, CLIP-scored otherwise."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylepaint.engine.networks import Generator
from stylepaint.errors import InputError
from stylepaint.portraits.latent_code import write_mapping
from stylepaint.tag_faces import faces_from_tags, parse_tags, portrait_code


def _code_generator():
    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    return G.eval()


def test_parse_tags():
    assert parse_tags(" hair_color = red, eyewear=glasses ") == {"hair_color": "red", "eyewear": "glasses"}
    assert parse_tags("red hair, glasses") == ["red hair", "glasses"]
    for bad in ("", " , ", "hair_color=red, glasses", "hair_color=red, hair_color=blue"):
        with pytest.raises(InputError):
            parse_tags(bad)


def test_portrait_code_is_detected_only_where_the_mapping_computes_it():
    G = _code_generator()
    assert portrait_code(G) is not None
    with torch.no_grad():
        G.mapping.fc1.weight.mul_(1.01)
    assert portrait_code(G) is None
    assert portrait_code(Generator(z_dim=32, w_dim=32, img_resolution=8, mapping_layers=2,
                                   channel_base=32, channel_max=8)) is None


def test_group_tags_are_exact_on_a_code_generator():
    G = _code_generator()
    code = portrait_code(G)
    tags = {"hair_color": "pink", "expression": "surprised", "earrings": "yes", "background": "blue"}
    last = list(faces_from_tags(G, tags, count=64, seed=3))[-1]
    assert last["method"] == "portrait code" and last["z"].shape == (64, 128)
    with torch.no_grad():
        w = G.mapping(last["z"])[:, 0].numpy()
    records = code.decode(w)
    assert all(r["attributes"][g] == v for r in records for g, v in tags.items())
    # the untagged groups still vary
    assert len({r["attributes"]["hair_style"] for r in records}) >= 4
    # same seed, same faces
    again = list(faces_from_tags(G, tags, count=64, seed=3))[-1]["z"]
    assert torch.equal(again, last["z"])
    with pytest.raises(InputError, match="no value"):
        list(faces_from_tags(G, {"hair_color": "plaid"}))


def test_tags_hold_even_where_a_drawn_value_would_override_them():
    """A fringe or a hat is asked for: no face may come out bald (the renderer drops both then)."""
    G = _code_generator()
    code = portrait_code(G)
    for tags in ({"bangs": "yes"}, {"headwear": "hat", "eyewear": "glasses"}):
        z = list(faces_from_tags(G, tags, count=200, seed=1))[-1]["z"]
        with torch.no_grad():
            records = code.decode(G.mapping(z)[:, 0].numpy())
        assert all(r["attributes"][g] == v for r in records for g, v in tags.items())
        assert all(r["attributes"]["hair_style"] != "bald" for r in records)
    with pytest.raises(InputError, match="cannot all hold"):
        list(faces_from_tags(G, {"hair_style": "bald", "bangs": "yes"}))


def test_group_tags_need_a_code_generator_and_free_text_needs_clip(tiny_generator):
    with pytest.raises(InputError, match="no attribute groups"):
        list(faces_from_tags(tiny_generator, {"hair_color": "red"}))
    with pytest.raises(InputError, match="need a CLIP"):
        list(faces_from_tags(tiny_generator, ["red hair"]))


class _ColourClip:
    """A stand-in CLIP for the search logic (the real CLIP's loading is tested elsewhere): the
    image embedding is the mean colour, the text embedding of anything is 'red'."""

    class text:
        @staticmethod
        def embed(prompt):
            return torch.tensor([1.0, 0.0, 0.0])

    @staticmethod
    def encode_images(img):
        e = img.mean(dim=(2, 3))
        return e / e.norm(dim=1, keepdim=True)


def test_free_text_search_keeps_the_best_scoring_candidates(tiny_generator):
    last = list(faces_from_tags(tiny_generator, ["red"], count=4, seed=1, clip=_ColourClip(), pool=8, batch=8))[-1]
    assert last["method"] == "CLIP search" and last["z"].shape == (4, tiny_generator.z_dim)
    with torch.no_grad():
        img = tiny_generator(last["z"], noise_mode="const").clamp(-1, 1)
        rng = np.random.default_rng(1)
        pool = tiny_generator(torch.from_numpy(rng.standard_normal((32, tiny_generator.z_dim))).float(),
                              noise_mode="const").clamp(-1, 1)
    kept = _ColourClip.encode_images(img)[:, 0]
    everyone = _ColourClip.encode_images(pool)[:, 0]
    assert torch.allclose(kept, everyone.sort(descending=True).values[:4], atol=1e-5)
    assert (last["scores"][:-1] >= last["scores"][1:]).all()


def test_generate_cli_writes_the_grid(tmp_path, capsys):
    from PIL import Image

    from stylepaint.cli import main
    from stylepaint.engine.checkpoints import save_generator

    save_generator(_code_generator(), tmp_path / "g.safetensors")
    out = tmp_path / "grid.png"
    assert main(["generate", str(tmp_path / "g.safetensors"), "--tags", "hair_color=red,eyewear=glasses",
                 "--count", "6", "--columns", "3", "-o", str(out), "--latents", str(tmp_path / "z.npz")]) == 0
    assert Image.open(out).size == (48, 32)
    assert np.load(tmp_path / "z.npz")["z"].shape == (6, 128)
    assert "portrait code" in capsys.readouterr().out
    assert main(["generate", str(tmp_path / "g.safetensors"), "--tags", "hair_color=plaid", "-o", str(out)]) == 2
