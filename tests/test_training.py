"""GAN trainer on CPU: discriminator, losses, kernel distance, checkpoints, resume, CLI."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from stylepaint.engine.checkpoints import load_generator
from stylepaint.engine.networks import Generator
from stylepaint.errors import CheckpointError, InputError
from stylepaint.training import checkpoint as ckpt
from stylepaint.training.discriminator import Discriminator, discriminator_config, minibatch_stddev
from stylepaint.training.kernel_distance import kernel_distance, mmd2_unbiased
from stylepaint.training.losses import (
    d_logistic_loss,
    g_nonsaturating_loss,
    lazy_adam_params,
    r1_penalty,
)
from stylepaint.training.trainer import _Run, build_config, ema_beta, train

MB16 = 16 * 1024 * 1024


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def disc_images(n: int = 96, size: int = 16, seed: int = 0) -> np.ndarray:
    """A simple image distribution: one bright disc on a dark background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
        r = rng.uniform(size * 0.15, size * 0.35)
        out[i] = rng.integers(0, 80, 3)
        out[i][(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(150, 256, 3)
    return out


# ---- discriminator -------------------------------------------------------------------------

def test_discriminator_matches_generator_and_gives_one_logit_per_image():
    g_config = Generator(z_dim=32, w_dim=32, img_resolution=32, mapping_layers=2, channel_base=128, channel_max=32).config
    D = Discriminator(**discriminator_config(g_config))
    assert list(D.blocks) == ["b32", "b16", "b8"]
    assert D.from_rgb.weight.shape[0] == 4  # min(128 // 32, 32), the generator's rule
    logits = D(torch.randn(6, 3, 32, 32))   # 6 is not a multiple of the group size 4
    assert logits.shape == (6,) and torch.isfinite(logits).all()
    with pytest.raises(AssertionError):
        D(torch.randn(2, 3, 16, 16))


def test_minibatch_stddev_feature_is_the_group_std():
    x = torch.randn(4, 2, 3, 3)
    out = minibatch_stddev(x, group_size=4)
    assert out.shape == (4, 3, 3, 3)
    expected = x.std(dim=0, unbiased=False).mean()
    assert torch.allclose(out[:, 2], expected.expand(4, 3, 3), atol=1e-5)


# ---- losses ------------------------------------------------------------------------------------

def test_logistic_losses_at_zero_logits():
    zero = torch.zeros(5)
    assert d_logistic_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert g_nonsaturating_loss(zero).item() == pytest.approx(math.log(2))
    # a confident, correct D has low loss; G's loss grows as D rejects its samples
    assert d_logistic_loss(torch.full([5], 8.0), torch.full([5], -8.0)).item() < 1e-3
    assert g_nonsaturating_loss(torch.full([5], -8.0)).item() > 7.9


def test_r1_penalty_is_squared_gradient_norm():
    w = torch.randn(1, 3, 4, 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = (x * w).sum(dim=[1, 2, 3]) + 0.5 * x.square().sum(dim=[1, 2, 3])
    expected = (w + x.detach()).square().sum(dim=[1, 2, 3]).mean()
    assert r1_penalty(x, logits).item() == pytest.approx(expected.item(), rel=1e-5)
    # with a loss scale (fp16), the gradient is unscaled before squaring
    linear = (x * w).sum(dim=[1, 2, 3])
    assert r1_penalty(x, linear, grad_scale=1024.0).item() == pytest.approx(w.square().sum().item(), rel=1e-5)


def test_lazy_regularisation_adjusts_adam():
    lr, betas = lazy_adam_params(0.0025, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.0025 * 16 / 17)
    assert betas == (0.0, pytest.approx(0.99 ** (16 / 17)))
    assert lazy_adam_params(0.002, (0.0, 0.99), 0) == (0.002, (0.0, 0.99))


def test_ema_half_life_and_rampup():
    assert ema_beta(32, 10**9, ema_kimg=10, ema_rampup=None) == pytest.approx(0.5 ** (32 / 10_000))
    # early in training the rampup shortens the half-life
    assert ema_beta(32, 1000, ema_kimg=10, ema_rampup=0.05) == pytest.approx(0.5 ** (32 / 50))


# ---- kernel distance -------------------------------------------------------------------------

def test_kernel_distance_zero_for_same_distribution_and_large_for_different():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(600, 16))
    b = rng.normal(size=(600, 16))
    shifted = rng.normal(size=(600, 16)) + 0.5
    same = kernel_distance(a, b, num_subsets=10, subset_size=300)
    itself = kernel_distance(a, a, num_subsets=10, subset_size=300)
    other = kernel_distance(a, shifted, num_subsets=10, subset_size=300)
    assert abs(same["mean"]) < 0.05 and abs(itself["mean"]) < 0.05
    assert other["mean"] > 20 * max(abs(same["mean"]), same["std"])
    # the estimator is unbiased: MMD^2 of identical sets without shared samples is exactly 0 in expectation
    x = rng.normal(size=(50, 4))
    assert mmd2_unbiased(x, x) < 0 < mmd2_unbiased(x, x + 1.0)


# ---- checkpoints ----------------------------------------------------------------------------

def test_checkpoint_shards_respect_the_size_bound_and_round_trip(tmp_path):
    tensors = {f"t{i}": torch.randn(100_000) for i in range(6)}  # 6 x 400 kB
    ckpt.save_checkpoint(tmp_path, tensors, {"cur_nimg": 5000, "note": "x"}, max_shard_bytes=1_000_000)
    shards = sorted(tmp_path.glob("checkpoint-*.safetensors"))
    assert len(shards) == 3 and all(s.stat().st_size <= 1_000_000 for s in shards)
    loaded, state = ckpt.load_checkpoint(tmp_path)
    assert state["note"] == "x" and all(torch.equal(loaded[k], v) for k, v in tensors.items())
    # a newer checkpoint replaces the shards of the older one
    ckpt.save_checkpoint(tmp_path, {"t": torch.zeros(3)}, {"cur_nimg": 9000})
    assert [p.name for p in tmp_path.glob("checkpoint-*.safetensors")] == ["checkpoint-000009-0.safetensors"]
    shard = next(tmp_path.glob("checkpoint-*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:-4] + b"\0\0\0\1")
    with pytest.raises(CheckpointError, match="corrupt"):
        ckpt.load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        ckpt.load_checkpoint(tmp_path / "elsewhere")


def test_default_preset_checkpoint_files_are_at_most_16_mb(tmp_path):
    run = _Run(build_config("default"), torch.device("cpu"), "fp32")
    assert run.G.img_resolution >= 128
    # give the optimizers their full state (moments for every parameter) as after a real step
    for opt, net in ((run.opt_G, run.G), (run.opt_D, run.D)):
        for p in net.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
    tensors, state = run.tensors_and_state()
    ckpt.save_checkpoint(tmp_path, tensors, state)
    files = list(tmp_path.iterdir())
    assert sum(f.stat().st_size for f in files) > MB16  # so the bound is really exercised
    assert all(f.stat().st_size <= MB16 for f in files)
    loaded, _ = ckpt.load_checkpoint(tmp_path)
    assert set(loaded) == set(tensors)


# ---- training --------------------------------------------------------------------------------

def run_to_end(run_dir, images, **kwargs):
    return list(train(run_dir, images, preset="tiny", report_every=1, samples=False, **kwargs))


def test_tiny_training_moves_the_losses_and_writes_a_loadable_checkpoint(tmp_path):
    images = disc_images()
    events = run_to_end(tmp_path, images, total_kimg=0.12)  # 30 steps of 4 images
    steps = [e for e in events if e["message"] == "training"]
    assert len(steps) >= 25 and events[-1]["finished"]
    loss_d = np.array([e["loss_D"] for e in steps])
    loss_g = np.array([e["loss_G"] for e in steps])
    assert np.isfinite(loss_d).all() and np.isfinite(loss_g).all()
    assert loss_d.std() > 0.02 and loss_g.std() > 0.02       # the losses move
    assert 0.3 < loss_d.mean() < 2.5 and 0.2 < loss_g.mean() < 2.5  # a contest, not a collapse
    assert "r1" in steps[0]                                  # lazy R1 ran on the first step
    state = ckpt.read_state(tmp_path)
    assert state["cur_nimg"] == 120 and state["step"] == 30
    assert all(f.stat().st_size <= MB16 for f in tmp_path.iterdir())
    G = load_generator(tmp_path / "G_ema.safetensors")
    img = G(torch.randn(2, G.z_dim))
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
    assert not torch.equal(G.w_avg, torch.zeros_like(G.w_avg))  # w_avg was tracked
    with pytest.raises(InputError, match="already holds"):
        run_to_end(tmp_path, images, total_kimg=0.2)


def test_resume_continues_exactly_as_an_uninterrupted_run(tmp_path):
    images = disc_images()
    straight, chunked = tmp_path / "straight", tmp_path / "chunked"
    run_to_end(straight, images, total_kimg=0.08, snap_kimg=0.04)
    first = run_to_end(chunked, images, total_kimg=0.04, snap_kimg=0.04)
    assert first[-1]["kimg"] == pytest.approx(0.04)
    second = run_to_end(chunked, images, total_kimg=0.08, resume=True)
    assert second[0]["message"] == "resumed" and second[0]["step"] == 10
    assert second[-1]["step"] == 20
    a, state_a = ckpt.load_checkpoint(straight)
    b, state_b = ckpt.load_checkpoint(chunked)
    assert set(a) == set(b)
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert different == []
    assert state_a["cur_nimg"] == state_b["cur_nimg"] == 80
    assert state_b["chunks"] == 1


def test_time_budget_stops_with_a_checkpoint(tmp_path):
    events = run_to_end(tmp_path, disc_images(), total_kimg=10, max_seconds=0)
    assert events[-1].get("stopped") and events[-2].get("checkpoint")
    assert ckpt.read_state(tmp_path)["step"] == 1


def test_training_data_must_match_the_generator(tmp_path):
    with pytest.raises(InputError, match="32 px"):
        run_to_end(tmp_path, disc_images(size=32), total_kimg=0.01)


# ---- CLI ---------------------------------------------------------------------------------------

def test_train_gan_cli_runs_and_resumes(tmp_path, capsys):
    from stylepaint.cli import main

    data = tmp_path / "data.npy"
    np.save(data, disc_images())
    out = tmp_path / "run"
    assert main(["train-gan", "--data", str(data), "--out", str(out), "--preset", "tiny", "--kimg", "0.02"]) == 0
    assert ckpt.read_state(out)["cur_nimg"] == 20
    assert main(["train-gan", "--data", str(data), "--out", str(out), "--resume", "--kimg", "0.04"]) == 0
    assert ckpt.read_state(out)["cur_nimg"] == 40
    state = ckpt.read_state(out)
    assert state["config"]["generator"]["img_resolution"] == 16 and len(state["commands"]) == 2
    assert len(list(out.iterdir())) <= 8  # what a remote GPU session can hand back in one go
    assert main(["train-gan", "--data", str(tmp_path / "missing.npy"), "--out", str(tmp_path / "r2"),
                 "--preset", "tiny"]) == 2
    assert "missing.npy" in capsys.readouterr().err


def test_copy_of_run_dir_resumes(tmp_path):
    # a run folder carried to another machine (copied) resumes from its files alone
    images = disc_images()
    run_to_end(tmp_path / "a", images, total_kimg=0.02)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    events = run_to_end(tmp_path / "b", images, total_kimg=0.04, resume=True)
    assert events[-1]["kimg"] == pytest.approx(0.04)


# ---- evaluation ------------------------------------------------------------------------------

def test_confidence_and_frequency_helpers():
    from stylepaint.training.evaluate import confident_share, truth_frequencies, value_frequencies

    probs = {"a": np.array([[0.95, 0.05], [0.5, 0.5], [0.05, 0.95]]),
             "b": np.array([[0.99, 0.01], [0.99, 0.01], [0.2, 0.8]])}
    share, per_group = confident_share(probs, 0.9)
    assert share == pytest.approx(1 / 3) and per_group == {"a": pytest.approx(2 / 3), "b": pytest.approx(2 / 3)}
    groups = {"a": ["x", "y"], "b": ["u", "v"]}
    assert value_frequencies(probs, groups)["b"] == {"u": pytest.approx(2 / 3), "v": pytest.approx(1 / 3)}
    records = [{"attributes": {"a": "y", "b": "u"}}] * 3 + [{"attributes": {"a": "x", "b": "u"}}]
    assert truth_frequencies(records, groups) == {"a": {"x": 0.25, "y": 0.75}, "b": {"u": 1.0, "v": 0.0}}


def test_evaluate_gan_reports_an_untrained_generator_as_far_from_the_renders():
    from stylepaint.portraits.oracle import Oracle, OracleNet
    from stylepaint.portraits.vocabulary import load_vocabulary
    from stylepaint.training.evaluate import evaluate_gan, format_report

    torch.manual_seed(0)
    oracle = Oracle(OracleNet(load_vocabulary(), image_size=16, widths=(8, 16)))  # untrained, but real
    G = Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=32).eval()
    events = list(evaluate_gan(G, count=48, batch=16, oracle=oracle, workers=1, kid_subsets=10, kid_subset_size=32,
                               midpoints=16))
    assert [e["done"] for e in events] == sorted(e["done"] for e in events)
    assert events[-1]["done"] == events[-1]["total"] == 4 * 48 + 16
    report = events[-1]["report"]
    assert 0.0 <= report["confident_share"] <= 1.0
    assert 0.0 <= report["confident_share_psi07"] <= 1.0 and 0.0 <= report["confident_share_midpoints"] <= 1.0
    assert "midpoints confident >= 75% of the renders' share" in report["targets"]
    for group, values in report["frequencies"].items():
        assert sum(v["renderer"] for v in values.values()) == pytest.approx(1.0)
        assert sum(v["generated"] for v in values.values()) == pytest.approx(1.0)
    # random-weight generator images are far from portraits, beyond the renders-vs-renders noise
    assert report["kernel_distance"]["mean"] > 3 * max(abs(report["kernel_floor"]["mean"]), report["kernel_floor"]["std"])
    assert report["targets"]["kernel distance <= 3x floor"] is False
    text = format_report(report)
    assert "hair_color" in text and "floor" in text


def test_ship_installs_the_generator_with_statistics_and_a_matching_manifest(tmp_path):
    import hashlib

    from stylepaint.training.ship import ship_generator

    run_dir = tmp_path / "run"
    run_to_end(run_dir, disc_images(), total_kimg=0.008, command="stylepaint train-gan --preset tiny")
    report = {"count": 10, "truncation_psi": 1.0, "confident_share": 0.5, "confident_share_renders": 0.99,
              "max_gap_points": 12.0, "max_gap_value": "hair_color=red",
              "kernel_distance": {"mean": 0.5, "std": 0.01}, "kernel_floor": {"mean": 0.001, "std": 0.002},
              "kernel_ratio": 250.0, "targets": {"confident_share >= 85%": False}}
    models = tmp_path / "models"
    with pytest.raises(InputError, match="misses the quality targets"):
        ship_generator(run_dir / "G_ema.safetensors", "toy", report, models_dir=models)
    entry = ship_generator(run_dir / "G_ema.safetensors", "toy", report, models_dir=models, force=True)
    manifest = json.loads((models / "manifest.json").read_text())
    assert manifest["toy.safetensors"]["role"] == "default-generator"
    assert entry["sha256"] == hashlib.sha256((models / "toy.safetensors").read_bytes()).hexdigest()
    assert entry["kimg"] == pytest.approx(0.008) and entry["command"] == ["stylepaint train-gan --preset tiny"]
    assert entry["provisional"] is True and entry["targets_missed"] == ["confident_share >= 85%"]
    assert "cpu_hours" in entry and "wall_hours" in entry
    G = load_generator(models / "toy.safetensors")
    assert G.config == entry["config"] and G.model_id == entry["model_id"]
    from safetensors.torch import load_file

    stats = load_file(str(models / "toy.stylespace.safetensors"))
    assert stats["mean"].shape == stats["std"].shape == (sum(l.channels for l in G.style_layers),)
    assert (stats["std"] > 0).all()


def test_sample_sheet_and_truncation_strip_shapes_and_psi_zero_column():
    from stylepaint.training.sheets import sample_sheet, truncation_strip

    torch.manual_seed(0)
    G = Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=32).eval()
    G.mapping.w_avg.normal_()
    assert sample_sheet(G).shape == (128, 128, 3)
    strip = truncation_strip(G, seeds=range(3), psis=(1.0, 0.5, 0.0))
    assert strip.shape == (48, 48, 3)
    # psi 0 is the average face for every seed; psi 1 differs between seeds
    last = [strip[r * 16:(r + 1) * 16, 32:48] for r in range(3)]
    first = [strip[r * 16:(r + 1) * 16, 0:16] for r in range(3)]
    assert all(np.array_equal(last[0], t) for t in last[1:])
    assert not np.array_equal(first[0], first[1])


def test_evaluate_gan_cli_writes_report_sheet_and_strip(tmp_path, capsys):
    from PIL import Image

    from stylepaint.cli import main
    from stylepaint.engine.checkpoints import save_generator
    from stylepaint.portraits.oracle import OracleNet, save_oracle
    from stylepaint.portraits.vocabulary import load_vocabulary

    torch.manual_seed(1)
    save_oracle(OracleNet(load_vocabulary(), image_size=16, widths=(8, 16)), tmp_path / "oracle.safetensors")
    save_generator(Generator(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=64,
                             channel_max=32), tmp_path / "g.safetensors")
    code = main(["evaluate-gan", str(tmp_path / "g.safetensors"), "--count", "24", "--workers", "1",
                 "--oracle", str(tmp_path / "oracle.safetensors"), "--json", str(tmp_path / "r.json"),
                 "--sheet", str(tmp_path / "sheet.png"), "--strip", str(tmp_path / "strip.png")])
    assert code == 0
    out = capsys.readouterr().out
    assert "oracle-confident" in out and "renders vs renders floor" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["count"] == 24 and set(report["frequencies"]) == set(load_vocabulary())
    assert Image.open(tmp_path / "sheet.png").size == (128, 128)
    assert Image.open(tmp_path / "strip.png").size == (16 * 7, 16 * 4)
    # shipping an untrained model is refused
    assert main(["evaluate-gan", str(tmp_path / "g.safetensors"), "--count", "8", "--workers", "1",
                 "--oracle", str(tmp_path / "oracle.safetensors"), "--ship", "toy"]) == 2
    assert "misses the quality targets" in capsys.readouterr().err


def test_resume_refuses_to_change_the_run_settings(tmp_path):
    images = disc_images()
    run_to_end(tmp_path, images, total_kimg=0.008)
    with pytest.raises(InputError, match="batch cannot change"):
        run_to_end(tmp_path, images, total_kimg=0.02, resume=True, batch=8)


def _shipped_default():
    from stylepaint.paths import MODELS_DIR

    manifest = MODELS_DIR / "manifest.json"
    entries = json.loads(manifest.read_text()) if manifest.is_file() else {}
    shipped = [name for name, e in entries.items() if isinstance(e, dict) and e.get("role") == "default-generator"]
    if not shipped:
        pytest.skip("no default generator shipped yet (docs/training.md)")
    return MODELS_DIR, shipped[0], entries[shipped[0]]


def test_shipped_default_generator_loads_renders_and_matches_the_manifest():
    import hashlib

    models_dir, name, entry = _shipped_default()
    assert hashlib.sha256((models_dir / name).read_bytes()).hexdigest() == entry["sha256"]
    G = load_generator(None)
    assert G.img_resolution >= 128 and G.config == entry["config"]
    assert entry["kimg"] > 0 and entry["command"] and entry["metrics"]["samples"] >= 1000
    img = G(torch.randn(1, G.z_dim))
    assert img.shape == (1, 3, G.img_resolution, G.img_resolution) and torch.isfinite(img).all()


def test_shipped_default_generator_draws_portraits_the_oracle_reads(one_torch_thread):
    """64 fixed seeds: the oracle is confident in every group on at least 80 % as many samples
    as on 64 held-out renders (a random or half-trained generator scores near 0). A model
    shipped as provisional (its manifest lists the targets it missed) must still reach half the
    renders' share; below 80 % it is reported as an expected failure, with the figures."""
    from stylepaint.portraits.dataset import HELD_OUT_SEED, render_seeds
    from stylepaint.portraits.oracle import load_oracle
    from stylepaint.training.evaluate import confident_share
    from stylepaint.training.sheets import seed_latents

    _, _, entry = _shipped_default()
    G, oracle = load_generator(None), load_oracle()
    with torch.no_grad():
        samples = G(seed_latents(G, range(64)), noise_mode="const").clamp(-1, 1)
    renders, _ = render_seeds(range(HELD_OUT_SEED, HELD_OUT_SEED + 64), G.img_resolution)
    renders = torch.from_numpy(renders).permute(0, 3, 1, 2).float() / 127.5 - 1
    share = confident_share({g: p.numpy() for g, p in oracle.predict(samples).items()})[0]
    share_renders = confident_share({g: p.numpy() for g, p in oracle.predict(renders).items()})[0]
    print(f"oracle-confident in every group: samples {share:.3f}, renders {share_renders:.3f}")
    assert share_renders > 0.4
    assert share >= 0.5 * share_renders
    if entry.get("provisional") and share < 0.8 * share_renders:
        pytest.xfail(f"provisional default: {share / share_renders:.1%} of the renders' share on 64 seeds "
                     f"(target 80 %; missed targets: {', '.join(entry.get('targets_missed', []))})")
    assert share >= 0.8 * share_renders


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_steps_and_resume(tmp_path, precision):
    # CPU autocast runs the same mixed-precision code as CUDA: autocast, loss scaling (fp16),
    # R1 through the scaled graph, scaler state in the checkpoint
    images = disc_images(n=32)
    events = run_to_end(tmp_path, images, total_kimg=0.012, precision=precision)
    steps = [e for e in events if e["message"] == "training"]
    assert events[0]["precision"] == precision
    assert all(np.isfinite([e["loss_G"], e["loss_D"]]).all() for e in steps) and "r1" in steps[0]
    state = ckpt.read_state(tmp_path)
    if precision == "fp16":
        assert state["scalers"]["D"]["scale"] > 0
    events = run_to_end(tmp_path, images, total_kimg=0.02, precision=precision, resume=True)
    assert events[-1]["step"] == 5


def test_path_length_regularisation_runs_when_switched_on(tmp_path):
    events = run_to_end(tmp_path, disc_images(n=32), total_kimg=0.02, pl_weight=2.0)
    pl = [e["pl"] for e in events if e["message"] in ("training", "checkpoint") and "pl" in e]
    assert len(pl) == 2 and all(np.isfinite(pl))            # steps 0 and 4 (every pl_interval = 4)
    assert ckpt.read_state(tmp_path)["config"]["training"]["pl_weight"] == 2.0
