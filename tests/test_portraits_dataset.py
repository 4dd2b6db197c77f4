"""``stylepaint dataset render``: images, one attribute record per line, captions."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from stylepaint.cli import main
from stylepaint.portraits.dataset import read_captions, read_images, read_records
from stylepaint.portraits.renderer import render_seed


def test_dataset_render_png(tmp_path, capsys):
    out = tmp_path / "set"
    assert main(["dataset", "render", "--count", "5", "--size", "48", "--seed", "100", "--workers", "1", str(out)]) == 0
    records = read_records(out)
    assert [r["seed"] for r in records] == list(range(100, 105))
    assert set(records[0]) >= {"index", "seed", "attributes", "nuisances", "file"}
    img = np.asarray(Image.open(out / records[2]["file"]).convert("RGB"))
    assert img.shape == (48, 48, 3)
    caps = read_captions(out)
    assert len(caps) == 5 and all(len(c) == 3 and all(isinstance(s, str) and s for s in c) for c in caps)
    info = json.loads((out / "info.json").read_text())
    assert info["count"] == 5 and info["size"] == 48
    assert "wrote 5 portraits" in capsys.readouterr().out


def test_dataset_render_npy_matches_renderer(tmp_path):
    out = tmp_path / "set"
    assert main(["dataset", "render", "--count", "3", "--size", "128", "--format", "npy", "--workers", "1", str(out)]) == 0
    images = read_images(out)
    assert images.shape == (3, 128, 128, 3) and images.dtype == np.uint8
    img, rec = render_seed(1, 128)
    assert np.array_equal(images[1], img)
    assert read_records(out)[1]["attributes"] == rec["attributes"]


def test_dataset_render_rejects_bad_arguments(tmp_path, capsys):
    assert main(["dataset", "render", "--count", "0", str(tmp_path / "x")]) == 2
    assert "error" in capsys.readouterr().err


def test_training_and_held_out_seeds_never_mix(tmp_path):
    """load_split refuses a folder whose seeds belong to the other split."""
    import pytest

    from stylepaint.errors import InputError
    from stylepaint.portraits.dataset import HELD_OUT_SEED, write_dataset
    from stylepaint.portraits.train_oracle import load_split
    from stylepaint.portraits.vocabulary import load_vocabulary

    groups = load_vocabulary()
    train, held = tmp_path / "train", tmp_path / "held"
    for folder, start in ((train, 0), (held, HELD_OUT_SEED)):
        for _ in write_dataset(folder, 2, 16, start, "npy", captions=1, workers=1):
            pass
    assert len(load_split(train, groups, "train")[0]) == 2
    assert len(load_split(held, groups, "heldout")[0]) == 2
    with pytest.raises(InputError, match="held-out seeds"):
        load_split(held, groups, "train")
    with pytest.raises(InputError, match="training seeds"):
        load_split(train, groups, "heldout")
