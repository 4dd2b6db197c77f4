"""Data-parallel decoder training: two processes take the steps one process would (up to float
rounding), and a two-process run cut in chunks is bit for bit the uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from stylepaint.errors import InputError
from stylepaint.training import checkpoint as ckpt
from stylepaint.training.decoder import train_decoder

SETTINGS = dict(preset="code-tiny", bank=64, bank_kimg=0.128, low_res=16, low_res_kimg=0.064, batch=16,
                snap_kimg=0.064, workers=1, samples=False, score=False, report_every=1, critic_weight=0.0)


def _run(path, total_kimg, processes, resume=False, **extra):
    settings = dict(SETTINGS, **extra)
    if resume:
        for key in ("preset", "bank", "bank_kimg", "low_res", "low_res_kimg", "batch"):
            settings.pop(key)
    return list(train_decoder(path, resume=resume, total_kimg=total_kimg, processes=processes, **settings))


def _tensors(path):
    tensors, state = ckpt.load_checkpoint(path)
    return {k: v for k, v in tensors.items() if k.startswith(("G.", "G_ema.", "opt.", "D.", "opt_D."))}, state


def test_two_processes_take_the_steps_of_one(tmp_path, one_torch_thread):
    one = _run(tmp_path / "one", 0.16, 1)
    two = _run(tmp_path / "two", 0.16, 2)      # crosses a bank and the 16 -> 32 px stage
    assert two[-1].get("finished") and two[-1]["kimg"] == one[-1]["kimg"]
    a, _ = _tensors(tmp_path / "one")
    b, state = _tensors(tmp_path / "two")
    moved = 0
    for name in a:
        if a[name].is_floating_point():
            assert torch.allclose(a[name], b[name], rtol=1e-3, atol=1e-4), name
            moved += int(not torch.equal(a[name], b[name]))
    assert moved > 0            # rounding differs: the second process really computed a share
    loss_one = [p["loss"] for p in one if p.get("message") == "training"]
    loss_two = [p["loss"] for p in two if p.get("message") == "training"]
    assert len(loss_one) == len(loss_two)
    assert loss_two == pytest.approx(loss_one, rel=1e-3)      # the logged loss is the whole batch's
    assert state["cpu_seconds"] > 0


def test_a_two_process_run_cut_in_chunks_equals_an_uninterrupted_one(tmp_path, one_torch_thread):
    # with the realism term's discriminator and the critic (helpers read it from the run folder)
    adv = dict(adv_weight=0.1, adv_resolution=16, r1_interval=2, critic_weight=1.0)
    _run(tmp_path / "whole", 0.192, 2, **adv)
    _run(tmp_path / "cut", 0.08, 2, **adv)     # stops mid-bank
    _run(tmp_path / "cut", 0.192, 2, resume=True, **adv)   # the same settings (SETTINGS would turn the critic off)
    a, _ = _tensors(tmp_path / "whole")
    b, _ = _tensors(tmp_path / "cut")
    assert any(name.startswith("opt_D.") for name in a)
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_a_minibatch_that_does_not_split_is_refused(tmp_path, one_torch_thread):
    with pytest.raises(InputError, match="split evenly"):
        _run(tmp_path / "run", 0.032, 3)
    with pytest.raises(InputError, match="cache"):
        list(train_decoder(tmp_path / "other", total_kimg=0.032, processes=2, cache=False,
                           **{k: v for k, v in SETTINGS.items()}))
