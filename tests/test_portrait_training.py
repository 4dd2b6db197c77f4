"""The oracle and small-CLIP trainers run end to end on a tiny data set and write loadable files."""

from __future__ import annotations

import pytest
import torch

from stylepaint.portraits import small_clip
from stylepaint.portraits.captions import value_captions
from stylepaint.portraits.dataset import write_dataset
from stylepaint.portraits.oracle import load_oracle
from stylepaint.portraits.train_clip import prompt_contrast, train_clip
from stylepaint.portraits.train_oracle import train_oracle
from stylepaint.portraits.vocabulary import load_vocabulary


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("portraits")
    for _ in write_dataset(folder / "train", 64, 64, start_seed=0, captions=2, workers=1):
        pass
    return folder / "train"


def _last(job):
    losses, result = [], None
    for p in job:
        if "result" in p:
            result = p["result"]
        elif "loss" in p:
            losses.append(p["loss"])
    return losses, result


def test_oracle_trainer_writes_a_loadable_oracle(tiny_data, tmp_path, one_torch_thread):
    losses, result = _last(train_oracle(tiny_data, tmp_path / "o.safetensors", epochs=20, batch_size=32, threads=1))
    assert losses[-1] < losses[0]
    oracle = load_oracle(result["path"])
    assert set(oracle.groups) == set(load_vocabulary())


def test_clip_trainer_writes_a_loadable_clip(tiny_data, tmp_path, one_torch_thread):
    losses, result = _last(train_clip(tiny_data, tmp_path / "c.pt", epochs=10, batch_size=32, threads=1))
    assert losses[-1] < losses[0]
    model, _ = small_clip.create(result["path"])
    untrained, _ = small_clip.create(None)
    assert not torch.equal(model.state_dict()["text_projection"], untrained.state_dict()["text_projection"])


def test_prompt_contrast_prefers_the_true_values(one_torch_thread):
    """The loss is lower when images sit on their own value's caption than on another's."""
    torch.manual_seed(0)
    model, tokenizer = small_clip.create(None)
    groups = {"eye_color": load_vocabulary()["eye_color"]}
    with torch.no_grad():
        text = model.encode_text(tokenizer(value_captions("eye_color", groups["eye_color"], [1, 0, 0])), normalize=True)
    labels = torch.arange(6).unsqueeze(1)
    right = prompt_contrast(model, tokenizer, groups, text, labels, [1, 0])
    wrong = prompt_contrast(model, tokenizer, groups, text.roll(1, 0), labels, [1, 0])
    assert right < wrong
