"""`stylepaint train-gan --data D --out RUN_DIR`: train (or resume) the project's StyleGAN2."""

from __future__ import annotations

import shlex
import sys

PRESET_NAMES = ("tiny", "code-tiny", "default")
METHODS = ("decoder", "adversarial")


def register(sub) -> None:
    p = sub.add_parser("train-gan", help="train a StyleGAN2 generator on portraits (resumable, in chunks)",
                       description="Train the project's StyleGAN2 on pre-rendered or freshly rendered portraits. "
                                   "Writes RUN_DIR/checkpoint.json + shards (<= 16 MB each), G_ema.safetensors, "
                                   "samples.png and log.jsonl; --resume continues from them.")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="decoder (the CPU route; the default without --data): a constructed mapping computes the "
                        "renderer's parameter code and synthesis learns to paint it; adversarial (the default "
                        "with --data): StyleGAN2's GAN training, for a GPU")
    p.add_argument("--data", default=None,
                   help="adversarial only: training images, a .npy (uint8 [N,R,R,3]), a folder from 'stylepaint "
                        "dataset render', or render:N to render N portraits with all cores (new seeds per chunk)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder (checkpoints, G_ema, samples, log)")
    p.add_argument("--resume", action="store_true", help="continue the run in RUN_DIR")
    p.add_argument("--preset", choices=PRESET_NAMES, default="default", help="architecture and hyper-parameters")
    p.add_argument("--kimg", type=float, default=None, help="total training length in thousands of images")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop after this many minutes of training, with a checkpoint (for chunked runs)")
    p.add_argument("--batch", type=int, default=None, help="minibatch size (default: the preset's)")
    p.add_argument("--gamma", type=float, default=None, help="R1 weight (default: 0.0002 * R^2 / batch)")
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate of G and D (default 0.0025)")
    p.add_argument("--snap", type=float, default=None, metavar="KIMG", help="checkpoint interval in kimg")
    p.add_argument("--seed", type=int, default=None, help="random seed of the run (default 0)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="autocast precision (auto: bf16 on CUDA where supported, fp32 on CPU)")
    p.add_argument("--workers", type=int, default=None, help="render processes (default: all cores)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--processes", type=int, default=None, metavar="N",
                   help="decoder: split each minibatch over N processes of --threads threads each "
                        "(data parallel; on a CPU, N = cores with --threads 1 is the fastest)")
    p.add_argument("--bank", type=int, default=None, help="decoder: codes rendered per bank (default 40000)")
    p.add_argument("--bank-kimg", type=float, default=None, help="decoder: kimg drawn from one bank (default 120)")
    p.add_argument("--spread", default=None, metavar="NAME=V,...",
                   help="decoder: spread of nuisances' codes, 0 pins one to its median (e.g. tilt=0,shift_x=0)")
    p.add_argument("--part-weight", type=float, default=None,
                   help="decoder: extra loss weight on eyes, mouth, earrings and cheeks (default 0; may change on --resume)")
    p.add_argument("--head-weight", type=float, default=None,
                   help="decoder: extra loss weight where a bow sits on the head (default 0; may change on --resume)")
    p.add_argument("--mix", default=None, metavar="KIND=SHARE,...",
                   help="decoder: shares of the kinds of codes in a bank: sample, truncated, between, midpoint "
                        "(default 0.45,0.2,0.25,0.1; may change on --resume, the current bank is drawn again)")
    p.add_argument("--centred", choices=["yes", "no"], default=None,
                   help="decoder: train the style affines on w - w_avg (default yes; may change on --resume)")
    p.add_argument("--critic-weight", type=float, default=None,
                   help="decoder: weight of a perceptual term from a critic trained on the bank (default 0; "
                        "may change on --resume)")
    p.add_argument("--adv-weight", type=float, default=None,
                   help="decoder: weight of a realism term from a discriminator that tells generated from "
                        "rendered images at 64 px (default 0; may change on --resume)")
    p.add_argument("--low-res-kimg", type=float, default=None,
                   help="decoder: kimg of the first stage at 64 px (default 240)")
    p.set_defaults(func=run)


def command_line(args) -> str:
    """The command as it was given (options that were set), for the run's record."""
    words = ["stylepaint", "train-gan"]
    for key, value in vars(args).items():
        if key in ("func", "command") or value is None or value is False:
            continue
        if key == "preset" and args.resume:
            continue
        words.append(f"--{key.replace('_', '-')}")
        if value is not True:
            words.append(shlex.quote(str(value)))
    return " ".join(words)


def run(args) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.method is None:
        args.method = "adversarial" if args.data is not None else "decoder"
    if args.method == "decoder":
        return run_decoder(args)
    if args.data is None:
        from stylepaint.errors import InputError

        raise InputError("--method adversarial needs --data")
    if args.processes:
        from stylepaint.errors import InputError

        raise InputError("--processes belongs to --method decoder")
    return run_adversarial(args)


def _parse_pairs(text: str, option: str, form: str) -> dict[str, float]:
    from stylepaint.errors import InputError

    try:
        return {k.strip(): float(v) for k, v in (item.split("=", 1) for item in text.split(","))}
    except ValueError:
        raise InputError(f"{option} wants {form} pairs separated by commas, not {text!r}") from None


def _report_end(last: dict, out: str) -> int:
    if last.get("stopped"):
        print(f"stopped at {last['kimg']:.2f} of {last['total_kimg']:g} kimg; continue with --resume")
    else:
        print(f"finished {last.get('kimg', 0):.2f} kimg; generator: {out}/G_ema.safetensors")
    return 0


def run_decoder(args) -> int:
    from tqdm import tqdm

    from stylepaint.errors import InputError
    from stylepaint.training.decoder import train_decoder

    unused = [name for name in ("data", "gamma", "precision") if getattr(args, name) not in (None, "auto")]
    if unused:
        raise InputError(f"--{', --'.join(unused)} belong to --method adversarial")
    spread = _parse_pairs(args.spread, "--spread", "NAME=VALUE") if args.spread else None
    mix = _parse_pairs(args.mix, "--mix", "KIND=SHARE") if args.mix else None
    stop = _StopRequest()
    job = train_decoder(args.out, preset=args.preset, resume=args.resume, total_kimg=args.kimg,
                        max_seconds=None if args.minutes is None else args.minutes * 60,
                        device="cpu" if args.device == "auto" else args.device, workers=args.workers,
                        command=command_line(args), batch=args.batch, lr=args.lr, snap_kimg=args.snap,
                        seed=args.seed, bank=args.bank, bank_kimg=args.bank_kimg, low_res_kimg=args.low_res_kimg,
                        spread=spread, part_weight=args.part_weight, head_weight=args.head_weight, mix=mix,
                        centred=None if args.centred is None else args.centred == "yes",
                        critic_weight=args.critic_weight, adv_weight=args.adv_weight,
                        processes=args.processes or 1, should_stop=stop.requested)
    bar, data_bar, last = None, None, {}
    try:
        for progress in job:
            last = progress
            side = next((k for k in ("bank", "critic") if f"{k}_total" in progress), None)
            if side is not None:             # rendering a bank, training the critic: a bar of their own
                if data_bar is None:
                    data_bar = tqdm(total=progress[f"{side}_total"], unit="img" if side == "bank" else "step",
                                    desc=progress["message"] if side == "bank" else "critic")
                data_bar.update(progress[f"{side}_done"] - data_bar.n)
                continue
            if data_bar is not None:
                data_bar.close()
                data_bar = None
            if bar is None:
                bar = tqdm(total=round(progress["total_kimg"], 3), initial=round(progress["kimg"], 3), unit="kimg",
                           desc="train", bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}<{remaining}]{postfix}")
                bar.write(f"{args.out}: {progress['message']} on {progress['device']}")
            bar.update(round(progress["kimg"] - bar.n, 3))
            post = {"res": progress["resolution"], "cpu_h": f"{progress['cpu_hours']:.2f}"}
            if "loss" in progress:
                post["loss"] = f"{progress['loss']:.4f}"
            bar.set_postfix(post)
            if "checkpoint" in progress:
                share = f", oracle-confident {100 * progress['confident']:.1f} %" if "confident" in progress else ""
                bar.write(f"checkpoint at {progress['kimg']:.2f} kimg{share}: {progress['checkpoint']}")
    finally:
        stop.restore()
        job.close()
        for b in (bar, data_bar):
            if b is not None:
                b.close()
    return _report_end(last, args.out)


class _StopRequest:
    """Ctrl-C or SIGTERM while the decoder trains: finish the step, write a checkpoint, stop
    (the run resumes from exactly there); a second signal aborts at once."""

    def __init__(self):
        import signal

        self._signal, self._flag, self._before = signal, False, {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._before[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        if self._flag:
            raise KeyboardInterrupt
        self._flag = True
        print("\nstylepaint: stopping after this step with a checkpoint (signal again to abort)", file=sys.stderr,
              flush=True)

    def requested(self) -> bool:
        return self._flag

    def restore(self) -> None:
        for sig, handler in self._before.items():
            self._signal.signal(sig, handler)


def run_adversarial(args) -> int:
    from tqdm import tqdm

    from stylepaint.training import checkpoint as ckpt
    from stylepaint.training.data import load_images
    from stylepaint.training.presets import get_preset
    from stylepaint.training.trainer import train

    if args.resume:
        state = ckpt.read_state(args.out)
        resolution, chunk = state["config"]["generator"]["img_resolution"], int(state.get("chunks", 0)) + 1
    else:
        resolution, chunk = get_preset(args.preset)["generator"]["img_resolution"], 0

    images = None
    bar = None
    for progress in load_images(args.data, size=resolution, chunk=chunk, workers=args.workers):
        images = progress.get("images", images)
        if progress["total"] > 1000 and bar is None:
            bar = tqdm(total=progress["total"], unit="img", desc="data")
        if bar is not None:
            bar.update(progress["done"] - bar.n)
    if bar is not None:
        bar.close()

    lr = args.lr
    job = train(args.out, images, preset=args.preset, resume=args.resume, total_kimg=args.kimg,
                max_seconds=None if args.minutes is None else args.minutes * 60, device=args.device,
                precision=args.precision, batch=args.batch, r1_gamma=args.gamma, g_lr=lr, d_lr=lr,
                snap_kimg=args.snap, seed=args.seed, command=command_line(args))
    bar = None
    last = {}
    try:
        for progress in job:
            last = progress
            if bar is None:
                bar = tqdm(total=round(progress["total_kimg"], 3), initial=round(progress["kimg"], 3),
                           unit="kimg", desc="train", bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg "
                           "[{elapsed}<{remaining}]{postfix}")
                bar.write(f"{args.out}: {progress['message']} on {progress['device']} ({progress['precision']})")
            bar.update(round(progress["kimg"] - bar.n, 3))
            bar.set_postfix({k: f"{progress[k]:.3f}" for k in ("loss_G", "loss_D", "r1") if k in progress})
            if "checkpoint" in progress:
                bar.write(f"checkpoint at {progress['kimg']:.2f} kimg: {progress['checkpoint']}")
    finally:
        job.close()
        if bar is not None:
            bar.close()
    return _report_end(last, args.out)
