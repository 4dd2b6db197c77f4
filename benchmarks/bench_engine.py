"""Milliseconds per image of the generator, batch 1 and 8, CPU and CUDA, printed as a table.

    python benchmarks/bench_engine.py tests/data/checkpoints/*.pkl
    python benchmarks/bench_engine.py --synthetic ffhq256 ffhq1024 --batch 1 8
    python benchmarks/bench_engine.py MODEL.pkl --synthetic ffhq256 --official /path/to/stylegan2-ada-pytorch

With --official, the same weights are also run through NVIDIA's own code and timed side by
side with the same inputs, threads and noise mode: a pickle is loaded with its
`legacy.load_network_pkl` (which executes the pickle's embedded code: only use it on files you
trust); a --synthetic architecture is built with its `training.networks.Generator` and given our
random weights. The directory needs only what those import: legacy.py, dnnlib/, torch_utils/
(persistence, misc, ops/{bias_act,upfirdn2d,conv2d_resample,conv2d_gradfix,fma}) and
training/networks.py; on CPU its ops take their pure-PyTorch reference paths (nothing compiles). On CPU the official generator is called with `force_fp32=True` (fp16 blocks in
float32, as ours runs them there), so both compute the same thing: the "rel. diff" column
(max |ours - official| / max |official|) shows it.

Timing: the two implementations run alternately, round after round, so load from other
processes hits both alike; each column is the minimum (the least disturbed run) over the
rounds, with the median in brackets. The load average is printed on every row.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stylepaint.engine.checkpoints import load_generator  # noqa: E402
from stylepaint.engine.networks import Generator  # noqa: E402

SYNTHETIC = {  # the published architectures, random weights
    "ffhq256": dict(z_dim=512, w_dim=512, img_resolution=256, mapping_layers=8, channel_base=16384, channel_max=512),
    "ffhq512": dict(z_dim=512, w_dim=512, img_resolution=512, mapping_layers=8, channel_base=32768, channel_max=512),
    "ffhq1024": dict(z_dim=512, w_dim=512, img_resolution=1024, mapping_layers=8, channel_base=32768, channel_max=512),
    # config-f as published (issue 19): 4 fp16 resolutions (fp32 on CPU) and conv_clamp 256
    "config-f-256": dict(z_dim=512, w_dim=512, img_resolution=256, mapping_layers=8, channel_base=16384,
                         channel_max=512, num_fp16_res=4, conv_clamp=256),
    "config-f-1024": dict(z_dim=512, w_dim=512, img_resolution=1024, mapping_layers=8, channel_base=32768,
                          channel_max=512, num_fp16_res=4, conv_clamp=256),
    "small": dict(z_dim=64, w_dim=64, img_resolution=64, mapping_layers=2, channel_base=2048, channel_max=128),
}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_interleaved(fns: dict, device: str, repeats: int, min_seconds: float, max_repeats: int) -> tuple[dict, int]:
    """Seconds per call of each function in `fns`, run alternately: ({name: (minimum, median)}, rounds).

    One warm-up call each, then rounds in which every function runs once (the order flips
    every round), until each has `repeats` runs and `min_seconds` have passed (at most
    `max_repeats` rounds).
    """
    for fn in fns.values():
        fn()
    _sync(device)
    times = {name: [] for name in fns}
    names = list(fns)
    start = time.perf_counter()
    rounds = 0
    while rounds < max_repeats and (rounds < repeats or time.perf_counter() - start < min_seconds):
        for name in (names if rounds % 2 == 0 else names[::-1]):
            t = time.perf_counter()
            fns[name]()
            _sync(device)
            times[name].append(time.perf_counter() - t)
        rounds += 1
    return {name: (min(ts), statistics.median(ts)) for name, ts in times.items()}, rounds


def ours(G, z):
    with torch.inference_mode():
        return G(z, truncation_psi=0.7, noise_mode="const")


def _official_import(official_dir: str):
    if official_dir not in sys.path:
        sys.path.insert(0, official_dir)


def load_official(path: str, official_dir: str, device):
    _official_import(official_dir)
    import legacy  # NVIDIA's loader: runs the pickle's embedded code

    with open(path, "rb") as f:
        G = legacy.load_network_pkl(f)["G_ema"]
    return G.eval().requires_grad_(False).to(device)


def build_official(G, official_dir: str, device, via_pickle: bool = False):
    """NVIDIA's Generator with the architecture of our `G`, holding `G`'s weights; with
    `via_pickle`, pickled as NVIDIA's training does and read back with its `legacy.load_network_pkl`."""
    _official_import(official_dir)
    from training import networks  # NVIDIA's network definitions

    c = G.config
    if c.get("channels") is not None:
        raise ValueError("the official Generator has no per-resolution channel table")
    Go = networks.Generator(
        z_dim=c["z_dim"], c_dim=0, w_dim=c["w_dim"], img_resolution=c["img_resolution"], img_channels=c["img_channels"],
        mapping_kwargs=dict(num_layers=c["mapping_layers"], lr_multiplier=c["mapping_lr_multiplier"]),
        synthesis_kwargs=dict(channel_base=c["channel_base"], channel_max=c["channel_max"],
                              num_fp16_res=c["num_fp16_res"], conv_clamp=c["conv_clamp"]))
    missing, unexpected = Go.load_state_dict(G.state_dict(), strict=False)
    # our FIR filters are constants, not stored; everything else must match one to one
    missing = [k for k in missing if not k.endswith("resample_filter")]
    if missing or unexpected:
        raise ValueError(f"state dicts differ: missing {missing[:3]}, unexpected {unexpected[:3]}")
    if via_pickle:
        import pickle
        import tempfile

        import legacy  # NVIDIA's loader: runs the pickle's embedded code (our own pickle, just written)

        with tempfile.TemporaryFile() as f:
            pickle.dump({"G": Go, "D": torch.nn.Identity(), "G_ema": Go}, f)   # what the loader checks
            f.seek(0)
            Go = legacy.load_network_pkl(f)["G_ema"]
    return Go.eval().requires_grad_(False).to(device)


def official(G, z, fp32: bool = False):
    """NVIDIA's generator; float32 on the CPU always (as ours runs there), on CUDA with ``fp32``."""
    with torch.no_grad():
        return G(z, None, truncation_psi=0.7, noise_mode="const", force_fp32=fp32 or z.device.type == "cpu")


def without_fp16(G):
    """Our generator with every block in float32 (the fp16 blocks run fp16 on CUDA only)."""
    for module in G.modules():
        if hasattr(module, "use_fp16"):
            module.use_fp16 = False
    return G


def synthetic(name: str, device):
    """A published architecture with random weights (seeded); biases, noise strengths and the
    average w are randomised too so that every term of the computation shows in the image."""
    torch.manual_seed(0)
    G = Generator(**SYNTHETIC[name])
    with torch.no_grad():
        for key, t in list(G.named_parameters()) + list(G.named_buffers()):
            if key.endswith(("bias", "noise_strength", "w_avg")):
                t.add_(torch.randn_like(t) * 0.1)
    return G.eval().requires_grad_(False).to(device)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="checkpoint files")
    p.add_argument("--synthetic", nargs="*", default=[], choices=sorted(SYNTHETIC), help="published architectures with random weights")
    p.add_argument("--batch", nargs="+", type=int, default=[1, 8])
    p.add_argument("--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    p.add_argument("--repeats", type=int, default=5, help="at least this many timed runs of each")
    p.add_argument("--min-seconds", type=float, default=2.0, help="keep alternating for at least this long")
    p.add_argument("--max-repeats", type=int, default=50)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--official", default=None, help="a checkout of NVlabs/stylegan2-ada-pytorch to compare with")
    p.add_argument("--fp32", action="store_true",
                   help="float32 everywhere on CUDA too (ours: no fp16 blocks; NVIDIA's: force_fp32=True)")
    p.add_argument("--via-pickle", action="store_true",
                   help="hand a --synthetic generator to NVIDIA's code through a pickle and legacy.load_network_pkl")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cases = [(Path(m).name, lambda dev, m=m: load_generator(m, dev), m) for m in args.models]
    cases += [(name, lambda dev, name=name: synthetic(name, dev), None) for name in args.synthetic]
    gpu = f", {torch.cuda.get_device_name()}" if "cuda" in args.devices else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} CPUs{gpu}; "
          f"{'float32 everywhere; ' if args.fp32 else ''}ms/img = minimum over alternating runs (median)")
    header = f"{'model':<28} {'res':>5} {'device':<6} {'batch':>5} {'runs':>4} {'stylepaint ms/img':>22}"
    if args.official:
        header += f" {'official ms/img':>22} {'speed-up':>8} {'ours/official (median)':>22} {'rel. diff':>9}"
    header += f" {'load avg':>9}"
    print(header)
    print("-" * len(header))
    for name, make, path in cases:
        for dev in args.devices:
            G = make(dev)
            if args.fp32:
                G = without_fp16(G)
            Go = None
            if args.official:
                Go = load_official(path, args.official, dev) if path and path.endswith(".pkl") else \
                    build_official(G, args.official, dev, args.via_pickle) if path is None else None
            for batch in args.batch:
                z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(0)).to(dev)
                fns = {"ours": lambda: ours(G, z)}
                if Go is not None:
                    fns["official"] = lambda: official(Go, z, args.fp32)
                t, rounds = time_interleaved(fns, dev, args.repeats, args.min_seconds, args.max_repeats)
                mn, md = t["ours"]
                row = f"{name:<28} {G.img_resolution:>5} {dev:<6} {batch:>5} {rounds:>4}"
                row += f" {mn * 1e3 / batch:>10.2f} ({md * 1e3 / batch:>8.2f})"
                if Go is not None:
                    ref = official(Go, z, args.fp32)
                    diff = (ours(G, z) - ref).abs().max().item() / ref.abs().max().item()
                    mo, mdo = t["official"]
                    row += f" {mo * 1e3 / batch:>10.2f} ({mdo * 1e3 / batch:>8.2f}) {mo / mn:>7.2f}x {md / mdo:>22.2f} {diff:>9.1e}"
                row += f" {os.getloadavg()[0]:>9.2f}"
                print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
