"""Importing StyleCLIP's published FFHQ directions (fs3.npy, 6048 x 512, conv layers in order,
no toRGB): a synthetic file of that shape for a config-f-shaped generator lands row for row in
the conv layers; wrong shapes, pickles and NaNs are refused; the CLI import is found by editing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stylepaint.directions import cached
from stylepaint.directions.styleclip_import import import_fs3, read_fs3, relevance_from_fs3
from stylepaint.engine.networks import Generator
from stylepaint.errors import DataFileError, InputError
from test_directions import clip, tiny_g  # noqa: F401  (fixtures)
from test_directions_cli import files  # noqa: F401  (fixture)


def test_a_config_f_sized_file_fills_the_conv_layers_in_order(tmp_path):
    with torch.device("meta"):
        G = Generator(z_dim=512, w_dim=512, img_resolution=1024, mapping_layers=8, channel_base=32768,
                      channel_max=512, num_fp16_res=4, conv_clamp=256)
    rng = np.random.default_rng(0)
    fs3 = rng.standard_normal((6048, 512)).astype(np.float32)
    fs3 /= np.linalg.norm(fs3, axis=1, keepdims=True)
    np.save(tmp_path / "fs3.npy", fs3)
    read, sha = read_fs3(tmp_path / "fs3.npy")
    assert read.shape == (6048, 512) and len(sha) == 64
    total = sum(l.channels for l in G.style_layers)
    rel = relevance_from_fs3(read, G, torch.zeros(total), torch.ones(total), {})
    assert rel.complete and rel.R.shape == (total, 512)
    conv = [l for l in G.style_layers if not l.is_torgb]
    assert [l.name for l in conv[:3]] == ["b4.conv1", "b8.conv0", "b8.conv1"] and conv[-1].name == "b1024.conv1"
    assert torch.allclose(torch.cat([rel.rows(l.name) for l in conv]), torch.from_numpy(fs3), atol=1e-6)
    assert all(rel.rows(l.name).abs().sum() == 0 for l in G.style_layers if l.is_torgb)
    assert rel.rows("b1024.conv1").shape == (32, 512)
    with pytest.raises(InputError, match="6047 rows"):
        relevance_from_fs3(read[:-1], G, torch.zeros(total), torch.ones(total), {})


def test_bad_files_are_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "vector.npy", np.zeros(5, np.float32))
    np.save(tmp_path / "nan.npy", np.full((2, 2), np.nan, np.float32))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    for name in ("objects", "vector", "nan", "junk"):
        with pytest.raises(DataFileError):
            read_fs3(tmp_path / f"{name}.npy")


def test_import_is_the_cached_build_for_editing(tmp_path, tiny_g, clip):
    rows = sum(l.channels for l in tiny_g.style_layers if not l.is_torgb)
    np.save(tmp_path / "fs3.npy", np.random.default_rng(1).standard_normal((rows, clip.embed_dim)))
    rel, path = import_fs3(tiny_g, clip, tmp_path / "fs3.npy")
    found = cached(tiny_g, clip)
    assert found is not None and found.meta["source"] == "styleclip-fs3" and torch.equal(found.R, rel.R)
    np.save(tmp_path / "wide.npy", np.zeros((rows, clip.embed_dim + 1), np.float32))
    with pytest.raises(InputError, match="CLIP dimensions"):
        import_fs3(tiny_g, clip, tmp_path / "wide.npy")


def test_cli_import(files, tmp_path, capsys):  # noqa: F811
    import stylepaint
    from stylepaint.cli import main

    G = stylepaint.load_generator(files["model"])
    rows = sum(l.channels for l in G.style_layers if not l.is_torgb)
    np.save(tmp_path / "fs3.npy", np.random.default_rng(2).standard_normal((rows, 24)).astype(np.float32))
    assert main(["directions", "import-styleclip", files["model"], str(tmp_path / "fs3.npy"), "--clip", files["clip"],
                 "--stats", "200"]) == 0
    assert f"imported {rows} channels x 24 dims" in capsys.readouterr().out
    np.save(tmp_path / "short.npy", np.zeros((rows - 1, 24), np.float32))
    assert main(["directions", "import-styleclip", files["model"], str(tmp_path / "short.npy"), "--clip",
                 files["clip"]]) == 2
    assert "another architecture" in capsys.readouterr().err
