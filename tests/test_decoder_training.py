"""The decoder route to the default generator: it learns, it resumes exactly, it loads."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from stylepaint.engine.checkpoints import load_generator
from stylepaint.errors import InputError
from stylepaint.training import checkpoint as ckpt
from stylepaint.training.decoder import bank_codes, face_weight_map, train_decoder

SETTINGS = dict(preset="code-tiny", bank=64, bank_kimg=0.128, low_res=16, low_res_kimg=0.064, batch=16,
                snap_kimg=0.064, workers=1, samples=False, score=False, report_every=1)


def _run(path, total_kimg, resume=False, **extra):
    settings = dict(SETTINGS)
    if resume:
        for key in ("preset", "bank", "bank_kimg", "low_res", "low_res_kimg", "batch"):
            settings.pop(key)
    settings.update(extra)
    return list(train_decoder(path, resume=resume, total_kimg=total_kimg, **settings))


def test_decoder_learns_and_saves_a_loadable_generator(tmp_path, one_torch_thread):
    steps = _run(tmp_path / "run", 0.32)
    losses = [p["loss"] for p in steps if "loss" in p]
    assert steps[-1].get("finished")
    assert {16, 32} <= {p["resolution"] for p in steps}          # the 16 px stage, then full size
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])
    G = load_generator(tmp_path / "run" / "G_ema.safetensors")
    assert G.img_resolution == 32
    img = G(torch.randn(2, 128), noise_mode="const")
    assert img.shape == (2, 3, 32, 32) and torch.isfinite(img).all()
    state = ckpt.read_state(tmp_path / "run")
    assert state["method"] == "decoder" and state["cpu_seconds"] > 0
    assert all(f.stat().st_size <= ckpt.MAX_SHARD_BYTES for f in (tmp_path / "run").glob("checkpoint-*"))


def test_a_run_cut_in_chunks_equals_an_uninterrupted_one(tmp_path, one_torch_thread):
    _run(tmp_path / "whole", 0.256)
    _run(tmp_path / "cut", 0.112)                 # stops mid-bank, mid-epoch
    (tmp_path / "cut" / "cache").rename(tmp_path / "cut" / "cache-gone")   # resume renders the bank again
    _run(tmp_path / "cut", 0.256, resume=True)
    a, _ = ckpt.load_checkpoint(tmp_path / "whole")
    b, state = ckpt.load_checkpoint(tmp_path / "cut")
    assert state["chunks"] == 1
    for name in a:
        if name.startswith(("G_ema.", "G.", "opt.")):
            assert torch.equal(a[name], b[name]), name


def test_resume_refuses_changed_settings_and_other_methods(tmp_path, one_torch_thread):
    _run(tmp_path / "run", 0.032)
    with pytest.raises(InputError, match="cannot change"):
        list(train_decoder(tmp_path / "run", resume=True, bank=128))
    with pytest.raises(InputError, match="already holds"):
        _run(tmp_path / "run", 0.032)
    state = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    state["state"]["method"] = "adversarial"
    (tmp_path / "run" / "checkpoint.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match="another method"):
        list(train_decoder(tmp_path / "run", resume=True))


def test_banks_mix_samples_truncations_and_midpoints():
    from stylepaint.engine.networks import Generator
    from stylepaint.portraits.latent_code import write_mapping
    from stylepaint.training.decoder import DEFAULTS

    G = Generator(z_dim=128, w_dim=128, img_resolution=8, mapping_layers=2, channel_base=32, channel_max=8)
    code = write_mapping(G)
    w = bank_codes(G, 3, 4000, 0, DEFAULTS["mix"], DEFAULTS["truncation"])
    assert torch.equal(w, bank_codes(G, 3, 4000, 0, DEFAULTS["mix"], DEFAULTS["truncation"]))
    assert not torch.equal(w, bank_codes(G, 4, 4000, 0, DEFAULTS["mix"], DEFAULTS["truncation"]))
    # plain samples have exactly one full-weight slot per categorical; the others do not
    first = code.entries[0]
    top = w[:, first.slot:first.slot + first.width].max(1).values.numpy()
    full = np.abs(top[:, None] - np.asarray(first.weights)[None]).min(1) < 5e-3
    assert 0.45 < full.mean() < 0.65           # samples (45 %) and pairs that share the hair colour


def test_face_weight_map_is_heaviest_on_the_face_and_parts_weigh_the_eyes_and_mouth():
    m = face_weight_map(64, 4.0)[0, 0]
    assert m.mean().item() == pytest.approx(1.0, abs=1e-5)
    assert m[32, 32] > 3 * m[2, 2]
    p = face_weight_map(64, 4.0, 10.0)[0, 0]
    assert p.mean().item() == pytest.approx(1.0, abs=1e-5)
    eye, between_eyes, mouth = p[29, 25], p[29, 32], p[40, 32]       # rows/cols of a 64 px image
    assert eye > 2 * between_eyes and mouth > 2 * between_eyes
    assert eye / p[2, 2] > m[29, 25] / m[2, 2]


def test_part_weight_may_change_on_resume(tmp_path, one_torch_thread):
    _run(tmp_path / "run", 0.032)
    steps = list(train_decoder(tmp_path / "run", resume=True, total_kimg=0.048, part_weight=8.0, workers=1,
                               samples=False, score=False))
    assert steps[-1].get("finished")
    assert ckpt.read_state(tmp_path / "run")["config"]["training"]["part_weight"] == 8.0


def test_head_weight_lies_on_the_bows_of_a_rendered_bank():
    from stylepaint.portraits.latent_code import layout
    from stylepaint.portraits.renderer import render

    code = layout(128, 128, {"tilt": 0, "shift_x": 0, "shift_y": 0})
    rng = np.random.default_rng(3)
    w = code.encode_z(code.z_for({"headwear": "bow", "hair_style": "long"}, rng.standard_normal((6, 128))))
    bows = np.zeros((64, 64))
    for record in code.decode(w):
        plain = dict(record, attributes=dict(record["attributes"], headwear="none"))
        a = render(record, 64).astype(float)
        b = render(plain, 64).astype(float)
        bows += np.abs(a - b).sum(-1) > 30        # where the bow changed the picture
    m = face_weight_map(64, 4.0, 10.0, 10.0)[0, 0].numpy()
    plain_map = face_weight_map(64, 4.0, 10.0)[0, 0].numpy()
    on = bows > 0
    assert on.sum() > 20
    # the extra weight sits where the bows are drawn: their pixels gain, the rest loses a little
    assert (m[on] / plain_map[on]).mean() > 2.0
    assert (m[~on] / plain_map[~on]).mean() < 1.0


def test_mix_may_change_on_resume_and_is_checked(tmp_path, one_torch_thread):
    _run(tmp_path / "run", 0.032)
    mix = dict(sample=0.2, truncated=0.2, between=0.2, midpoint=0.4)
    steps = list(train_decoder(tmp_path / "run", resume=True, total_kimg=0.048, mix=mix, head_weight=5.0,
                               workers=1, samples=False, score=False))
    assert steps[-1].get("finished")
    t = ckpt.read_state(tmp_path / "run")["config"]["training"]
    assert t["mix"] == mix and t["head_weight"] == 5.0
    banks = sorted(p.name for p in (tmp_path / "run" / "cache").glob("bank-*.npy"))
    assert banks == ["bank-0-0000-64-32-mix0.2-0.2-0.2-0.4.npy"]     # drawn again with the new kinds
    for bad in (dict(sample=1.0), dict(mix, midpoint=-1.0), dict.fromkeys(mix, 0.0)):
        with pytest.raises(InputError, match="mix"):
            list(train_decoder(tmp_path / "run", resume=True, total_kimg=0.064, mix=bad, workers=1))


def test_train_gan_cli_trains_the_decoder_route_and_resumes(tmp_path, capsys, one_torch_thread):
    from stylepaint.cli import main

    out = tmp_path / "run"
    common = ["--out", str(out), "--kimg", "0.032", "--workers", "1", "--threads", "1"]
    assert main(["train-gan", *common, "--preset", "code-tiny", "--bank", "64", "--bank-kimg", "0.064",
                 "--batch", "16", "--spread", "tilt=0"]) == 0
    state = ckpt.read_state(out)
    assert state["method"] == "decoder" and state["cur_nimg"] == 32
    assert state["config"]["training"]["spread"] == {"tilt": 0.0}
    assert main(["train-gan", *common[:2], "--resume", "--kimg", "0.064", "--workers", "1"]) == 0
    state = ckpt.read_state(out)
    assert state["cur_nimg"] == 64 and state["chunks"] == 1 and len(state["commands"]) == 2
    assert "G_ema.safetensors" in capsys.readouterr().out
    assert main(["train-gan", "--out", str(tmp_path / "r2"), "--spread", "tilt"]) == 2
    assert main(["train-gan", *common[:2], "--resume", "--kimg", "0.08", "--workers", "1",
                 "--mix", "sample=1,truncated=0,between=0,midpoint=1", "--head-weight", "3"]) == 0
    t = ckpt.read_state(out)["config"]["training"]
    assert t["mix"]["midpoint"] == 1.0 and t["head_weight"] == 3.0
    assert main(["train-gan", *common[:2], "--resume", "--mix", "sample=half"]) == 2
    assert main(["train-gan", "--out", str(tmp_path / "r3"), "--method", "adversarial"]) == 2
    assert "needs --data" in capsys.readouterr().err


def test_centred_style_biases_give_the_same_image_on_centred_w():
    from stylepaint.engine.networks import Generator
    from stylepaint.portraits.latent_code import write_mapping
    from stylepaint.training.decoder import shift_style_biases

    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=16)
    write_mapping(G)
    with torch.no_grad():                      # biases and weights away from their initial values
        for p in G.synthesis.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ws = G.mapping(torch.randn(3, 128))
    plain = G.synthesis(ws, noise_mode="const")
    shift_style_biases(G, +1)
    centred = G.synthesis(ws - G.mapping.w_avg, noise_mode="const")
    assert torch.allclose(plain, centred, atol=1e-4)
    assert not torch.allclose(plain, G.synthesis(ws, noise_mode="const"), atol=1e-2)
    shift_style_biases(G, -1)
    assert torch.allclose(plain, G.synthesis(ws, noise_mode="const"), atol=1e-5)


def test_a_run_started_on_raw_w_resumes_centred_and_saves_the_same_generator(tmp_path, one_torch_thread):
    _run(tmp_path / "run", 0.032, centred=False)
    before = load_generator(tmp_path / "run" / "G_ema.safetensors")
    steps = list(train_decoder(tmp_path / "run", resume=True, total_kimg=0.048, centred=True, workers=1,
                               samples=False, score=False, lr=0.0))       # lr 0: only the form changes
    assert steps[-1].get("finished")
    state = ckpt.read_state(tmp_path / "run")
    assert state["centred_biases"] is True and state["config"]["training"]["centred"] is True
    after = load_generator(tmp_path / "run" / "G_ema.safetensors")
    z = torch.randn(2, 128)
    assert (before(z, noise_mode="const") - after(z, noise_mode="const")).abs().max() < 1e-3   # (G_ema still drifts towards G)


def test_critic_run_trains_its_critic_once_and_resumes_exactly(tmp_path, one_torch_thread):
    from stylepaint.training.critic import CRITIC_FILE

    _run(tmp_path / "whole", 0.192, critic_weight=0.5)
    _run(tmp_path / "cut", 0.112, critic_weight=0.5)
    critic = (tmp_path / "cut" / CRITIC_FILE).read_bytes()
    (tmp_path / "cut" / "cache").rename(tmp_path / "cut" / "cache-gone")
    _run(tmp_path / "cut", 0.192, resume=True)
    assert (tmp_path / "cut" / CRITIC_FILE).read_bytes() == critic          # reused, not trained again
    a, _ = ckpt.load_checkpoint(tmp_path / "whole")
    b, _ = ckpt.load_checkpoint(tmp_path / "cut")
    for name in a:
        if name.startswith(("G_ema.", "G.")):
            assert torch.equal(a[name], b[name]), name
    _run(tmp_path / "plain", 0.192)
    c, _ = ckpt.load_checkpoint(tmp_path / "plain")
    assert not torch.equal(a["G.synthesis.b32.torgb.weight"], c["G.synthesis.b32.torgb.weight"])   # the term acts


def test_perceptual_loss_is_zero_on_equal_images_and_pulls_towards_the_render():
    from stylepaint.portraits.oracle import OracleNet
    from stylepaint.training.critic import WIDTHS, perceptual_loss

    torch.manual_seed(0)
    net = OracleNet({"a": ["x", "y"]}, 32, WIDTHS).eval().requires_grad_(False)
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    assert perceptual_loss(net, real.clone(), real).item() == pytest.approx(0.0, abs=1e-6)
    fake = (real + 0.3 * torch.randn_like(real)).requires_grad_(True)
    loss = perceptual_loss(net, fake, real)
    loss.backward()
    stepped = (fake - 0.02 * fake.grad / fake.grad.abs().mean()).detach()          # a small step down
    assert loss.item() > 0.05 and perceptual_loss(net, stepped, real).item() < loss.item()


def test_the_realism_term_trains_a_discriminator_and_resumes_exactly(tmp_path, one_torch_thread):
    # turned on at a resume (as on the running run), then cut in chunks: the same as uninterrupted
    adv = dict(adv_weight=0.1, adv_resolution=16, r1_interval=2)
    for name in ("whole", "cut"):
        _run(tmp_path / name, 0.064)
    _run(tmp_path / "whole", 0.192, resume=True, **adv)
    _run(tmp_path / "cut", 0.112, resume=True, **adv)
    _run(tmp_path / "cut", 0.192, resume=True)
    a, _ = ckpt.load_checkpoint(tmp_path / "whole")
    b, state = ckpt.load_checkpoint(tmp_path / "cut")
    assert state["config"]["training"]["adv_weight"] == 0.1 and "opt_D" in state["optimizers"]
    d_names = [n for n in a if n.startswith(("D.", "opt_D."))]
    assert d_names
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # the discriminator learned something: its weights moved from their seeded start
    plain, _ = ckpt.load_checkpoint(tmp_path / "whole")
    from stylepaint.training.discriminator import Discriminator, discriminator_config
    torch.manual_seed(2)
    fresh = Discriminator(**discriminator_config(state["config"]["generator"], img_resolution=16))
    moved = [k for k, v in fresh.state_dict().items() if not torch.equal(v, plain["D." + k])]
    assert moved


def test_a_run_made_before_the_realism_term_existed_can_turn_it_on(tmp_path, one_torch_thread):
    _run(tmp_path / "run", 0.032)
    doc = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    for key in ("adv_weight", "adv_resolution", "adv_channel_base", "r1_gamma", "r1_interval"):
        doc["state"]["config"]["training"].pop(key)          # as in runs/portraits-128 before 560 kimg
    (tmp_path / "run" / "checkpoint.json").write_text(json.dumps(doc))
    steps = list(train_decoder(tmp_path / "run", resume=True, total_kimg=0.128, adv_weight=0.1,   # 32 px from 0.064
                               samples=False, score=False, workers=1))
    assert steps[-1].get("finished")
    assert "opt_D" in ckpt.read_state(tmp_path / "run")["optimizers"]


def test_ctrl_c_stops_the_cli_with_a_checkpoint_that_resumes(tmp_path):
    """A signal during `stylepaint train-gan` finishes the step, writes a checkpoint and exits 0."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "stylepaint", "train-gan", "--out", str(out), "--preset", "code-tiny",
           "--bank", "64", "--bank-kimg", "0.128", "--low-res-kimg", "0.064", "--batch", "16", "--snap", "1000",
           "--workers", "1", "--threads", "1", "--kimg", "1000"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 240
    while not (out / "log.jsonl").exists() and time.monotonic() < deadline:   # opened once training starts
        time.sleep(0.5)
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=240)
    assert proc.returncode == 0, text
    assert "stopping after this step with a checkpoint" in text and "continue with --resume" in text, text
    state = ckpt.read_state(out)
    assert 0 < state["cur_nimg"] < 1_000_000


def test_the_logged_score_includes_midpoints_of_w_pairs(tmp_path, one_torch_thread):
    from stylepaint.training.decoder import quick_score

    _run(tmp_path / "run", 0.032)
    G = load_generator(tmp_path / "run" / "G_ema.safetensors")
    score = quick_score(G, count=16, midpoints=16)
    assert set(score) == {"confident", "confident_per_group", "confident_midpoints"}
    assert 0.0 <= score["confident_midpoints"] <= 1.0 and len(score["confident_per_group"]) == 13
    assert "confident_midpoints" not in quick_score(G, count=16, midpoints=0)
