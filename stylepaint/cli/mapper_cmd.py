"""`stylepaint mapper train MODEL --prompt "curly hair" [--minutes 5]`: a StyleCLIP latent mapper.

Trains one mapper for one prompt on random faces of MODEL and saves it in the user cache, keyed
by the model, the CLIP and the prompt; ``stylepaint edit --method mapper`` and the editor then
use it instantly. Ctrl+C stops the training and saves nothing.

`stylepaint mapper train-universal MODEL --out RUN [--minutes 110] [--resume]`: the universal
mapper (one model for any text, and instructions), trained in resumable chunks in RUN; when it
stops, the model is copied where ``stylepaint edit --instruction`` and the editor find it.
`stylepaint mapper train-reader RUN [--reader clip+sentence]` trains the reader of RUN's mapper
anew (seconds), reading each text with the CLIP and the general sentence encoder, which knows
wording the embedded portrait CLIP never saw; RUN remembers it (reader.json), and every later
``--resume`` of RUN trains that reader again on its result.
`stylepaint mapper calibrate-universal RUN` sets each target's strength from exact before/after
pairs (seconds; training does it at its end on generators with the portrait code).
`stylepaint mapper ship-universal RUN [--metrics FIGURES.json]` installs it beside the embedded
default in resources/models/ with its manifest entry.
"""

from __future__ import annotations

import argparse

SENTENCE_READER = "clip+sentence"   # the reader that also reads the sentence encoder (the default)
READERS = (SENTENCE_READER, "clip")
READER_FILE = "reader.json"     # in a run folder: the reader train-reader gave it, redone after each resume


def register(sub) -> None:
    p = sub.add_parser("mapper", help="train StyleCLIP latent mappers (one per prompt)")
    msub = p.add_subparsers(dest="mapper_command", metavar="ACTION", required=True)
    t = msub.add_parser("train", help="train a mapper for one prompt and save it in the cache")
    t.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    t.add_argument("--prompt", required=True, metavar="TEXT", help="what the edit should show")
    t.add_argument("--neutral", default=None, metavar="TEXT", help="neutral text: a directional loss (default none)")
    t.add_argument("--layers", default="all", help="all, coarse, middle or fine (default all)")
    t.add_argument("--minutes", type=float, default=None, metavar="N", help="stop after N minutes (default: --steps)")
    t.add_argument("--steps", type=int, default=None, metavar="N", help="training steps (default 2000)")
    t.add_argument("--batch", type=int, default=None, metavar="N", help="random faces per step (default 2)")
    t.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    t.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    t.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    t.add_argument("--download", action="store_true", help="allow downloading missing CLIP weights")
    t.set_defaults(func=run_train)
    u = msub.add_parser("train-universal", help="train the universal mapper (any text, instructions); resumable")
    u.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    u.add_argument("--out", required=True, metavar="DIR", help="run folder: checkpoints and the trained model")
    u.add_argument("--resume", action="store_true",
                   help="continue the run in --out with its own settings (--steps, --decay-from, --batch, --lr and "
                        "--no-clip-loss change them from here on: a fine-tuning phase)")
    u.add_argument("--minutes", type=float, default=None, metavar="N", help="stop after N minutes (resume later)")
    u.add_argument("--steps", type=int, default=None, metavar="N", help="training steps in all (default 3000)")
    u.add_argument("--batch", type=int, default=None, metavar="N", help="faces per step (default 4)")
    u.add_argument("--lr", type=float, default=None, metavar="LR", help="Adam learning rate (default 1e-3)")
    u.add_argument("--decay-from", type=int, default=None, metavar="STEP",
                   help="from this step the learning rate falls linearly to 1/20 at the last step (also on --resume)")
    u.add_argument("--groups", default=None, metavar="G,G", help="only these vocabulary groups (default all)")
    u.add_argument("--no-clip-loss", action="store_true", help="pairs and reader only (generators with the portrait code)")
    u.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    u.add_argument("--reader", choices=READERS, default=READERS[0],
                   help="what the reader of a new run reads (default clip+sentence: also the sentence encoder)")
    u.add_argument("--threads", type=int, default=None, metavar="N", help="torch CPU threads")
    u.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    u.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    u.add_argument("--download", action="store_true", help="allow downloading missing CLIP weights")
    u.set_defaults(func=run_train_universal)
    r = msub.add_parser("train-reader", help="train the universal mapper's reader of instructions anew (seconds)")
    r.add_argument("run", metavar="DIR", help="the run folder of stylepaint mapper train-universal")
    r.add_argument("--reader", choices=READERS, default=READERS[0],
                   help="what it reads (default clip+sentence: the CLIP and the sentence encoder)")
    r.add_argument("--steps", type=int, default=3000, metavar="N", help="training steps of each member (default 3000)")
    r.add_argument("--members", type=int, default=None, metavar="N",
                   help="readers trained apart whose readings are averaged (default 5)")
    r.add_argument("--masked", type=float, default=None, metavar="SHARE",
                   help="share of phrasings also read with the attribute word made up for the CLIP (default 0)")
    r.add_argument("--views", type=float, default=None, metavar="SHARE",
                   help="share of phrasings read by one encoder only, half by each (default 0.75)")
    r.add_argument("--glosses", action=argparse.BooleanOptionalAction, default=None,
                   help="also read what the words mean, from WordNet (default on)")
    r.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    r.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    r.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    r.set_defaults(func=run_train_reader)
    c = msub.add_parser("calibrate-universal",
                        help="set each target's strength of a trained universal mapper from exact pairs (seconds)")
    c.add_argument("run", metavar="DIR", help="the run folder of stylepaint mapper train-universal")
    c.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    c.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    c.set_defaults(func=run_calibrate_universal)
    s = msub.add_parser("ship-universal", help="install a trained universal mapper as the embedded default's")
    s.add_argument("run", metavar="DIR", help="the run folder of stylepaint mapper train-universal")
    s.add_argument("--metrics", default=None, metavar="FILE",
                   help="figures to record in the manifest (benchmarks/bench_universal_mapper.py --json)")
    s.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    s.set_defaults(func=run_ship_universal)


def run_train(args) -> int:
    from tqdm import tqdm

    from stylepaint.clip import load_clip
    from stylepaint.directions import default_clip_for
    from stylepaint.engine.render import Renderer
    from stylepaint.errors import StylepaintError
    from stylepaint.styleclip import save_mapper, train_mapper
    from stylepaint.styleclip.mapper import MapperParams

    G = Renderer().generator(args.model, args.device)
    clip = load_clip(args.clip or default_clip_for(G), device=G.device, download=args.download)
    given = {k: v for k, v in (("steps", args.steps), ("batch", args.batch)) if v is not None}
    params = MapperParams(minutes=args.minutes, seed=args.seed, **given)
    job = train_mapper(G, clip, args.prompt, args.neutral, args.layers, params)
    info = None
    with tqdm(total=params.steps, unit="step", desc=f"mapper '{args.prompt}'", dynamic_ncols=True) as bar:
        try:
            for info in job:
                bar.n = info["done"]
                if "loss" in info:
                    bar.set_postfix(loss=f"{info['loss']:.4f}")
                bar.refresh()
        except KeyboardInterrupt:
            job.close()
            raise StylepaintError("stopped while training the mapper; nothing was saved") from None
    path = save_mapper(info["mapper"], G, clip)
    losses = info["losses"]
    print(f"wrote {path} ({len(losses)} steps in {info['elapsed_s']:.1f} s; loss {losses[0]:.4f} -> {losses[-1]:.4f})")
    return 0


def run_train_universal(args) -> int:
    import torch
    from tqdm import tqdm

    from stylepaint.clip import load_clip
    from stylepaint.directions import default_clip_for
    from stylepaint.engine.render import Renderer
    from stylepaint.styleclip.universal_training import UniversalParams, train_universal

    if args.threads:
        torch.set_num_threads(args.threads)
    G = Renderer().generator(args.model, args.device)
    clip = load_clip(args.clip or default_clip_for(G), device=G.device, download=args.download)
    given = {k: v for k, v in (("batch", args.batch), ("lr", args.lr)) if v is not None}
    if args.groups:
        given["groups"] = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    if args.no_clip_loss:
        given["clip_every"] = 0
    params = None if args.resume else UniversalParams(seed=args.seed, sentence_reader=args.reader == SENTENCE_READER,
                                                      **given)
    phase = {k: given.get(k) for k in ("batch", "lr", "clip_every")} if args.resume else {}   # a resume's new phase
    job = train_universal(G, clip, args.out, params, resume=args.resume, minutes=args.minutes, steps=args.steps,
                          decay_from=args.decay_from, **phase)
    info = None
    with tqdm(unit="step", desc="universal mapper", dynamic_ncols=True) as bar:
        try:
            for info in job:
                bar.total, bar.n = info["total"], info["done"]
                if "loss" in info:
                    bar.set_postfix(loss=f"{info['loss']:.4f}")
                bar.refresh()
        except KeyboardInterrupt:
            job.close()
            print(f"stopped; the run in {args.out} resumes with --resume")
            return 130
    settings = _reader_settings(args.out)
    if settings is not None:               # train-reader gave this run its own reader: train it again
        _retrain_reader(info["path"], G, clip, settings)
    target = _install(info["path"], G, clip)
    losses = info["losses"]
    print(f"{info['message']}: {info['done']}/{info['total']} steps, {info['elapsed_s']:.0f} s in all; loss "
          f"{losses[0]:.4f} -> {losses[-1]:.4f}; wrote {info['path']} and {target}")
    return 0


def _install(path, G, clip):
    """Copy a run's universal mapper where the editor and ``stylepaint edit --instruction`` find it."""
    import shutil

    from stylepaint.styleclip.universal_mapper import universal_path

    target = universal_path(G, clip)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)
    return target


def _reader_settings(run) -> dict | None:
    from pathlib import Path

    from stylepaint.safe_read import read_json

    path = Path(run) / READER_FILE
    return read_json(path, "json") if path.is_file() else None


def _retrain_reader(path, G, clip, settings: dict):
    """Train the reader of the mapper file ``path`` with ``settings`` (reader, steps, seed); rewrite it."""
    import time

    from stylepaint.styleclip.universal_mapper import load_universal, save_universal
    from stylepaint.styleclip.universal_training import READER_MEMBERS, train_reader

    t = time.perf_counter()
    members = int(settings.get("members", READER_MEMBERS))
    model = train_reader(load_universal(path, G, clip), clip, sentence=settings.get("reader") == SENTENCE_READER,
                         steps=int(settings.get("steps", 3000)), seed=int(settings.get("seed", 0)), members=members,
                         masked=float(settings.get("masked", 0.0)), views=float(settings.get("views", 0.0)),
                         glosses=bool(settings.get("glosses", False)))
    save_universal(model, path)
    print(f"reader ({settings.get('reader')}, {members} member{'s' if members > 1 else ''}) trained in "
          f"{settings.get('steps')} steps each, {time.perf_counter() - t:.0f} s; loss {model.info['reader']['last_loss']:.4f}")
    return model


def _run_models(run, model, clip_spec):
    """(the run's mapper file, the generator, its CLIP) for the commands that work on a run folder."""
    from pathlib import Path

    from stylepaint.clip import load_clip
    from stylepaint.directions import default_clip_for
    from stylepaint.engine.render import Renderer
    from stylepaint.errors import InputError
    from stylepaint.styleclip.universal_mapper import FILE_NAME

    run_file = Path(run) / FILE_NAME
    if not run_file.is_file():
        raise InputError(f"{run}: no {FILE_NAME} there; train it with stylepaint mapper train-universal --out {run}")
    G = Renderer().generator(model, "cpu")
    return run_file, G, load_clip(clip_spec or default_clip_for(G), device=G.device)


def run_train_reader(args) -> int:
    import json
    from pathlib import Path

    from stylepaint.safe_write import write_bytes_atomic
    from stylepaint.styleclip.universal_training import READER_GLOSSES, READER_MASKED, READER_MEMBERS, READER_VIEWS

    run_file, G, clip = _run_models(args.run, args.model, args.clip)
    settings = {"reader": args.reader, "steps": args.steps, "seed": args.seed,
                "members": READER_MEMBERS if args.members is None else args.members,
                "masked": READER_MASKED if args.masked is None else args.masked,
                "views": READER_VIEWS if args.views is None else args.views,
                "glosses": READER_GLOSSES if args.glosses is None else args.glosses}
    _retrain_reader(run_file, G, clip, settings)
    write_bytes_atomic(Path(args.run) / READER_FILE, (json.dumps(settings) + "\n").encode())
    print(f"wrote {run_file} and {_install(run_file, G, clip)}; later resumes of {args.run} train this reader again")
    return 0


def run_calibrate_universal(args) -> int:
    from stylepaint.styleclip.universal_mapper import load_universal, save_universal
    from stylepaint.styleclip.universal_training import calibrate_gains
    from stylepaint.tag_faces import portrait_code

    run_file, G, clip = _run_models(args.run, args.model, args.clip)
    model = load_universal(run_file, G, clip)
    gains = calibrate_gains(G, clip, model, portrait_code(G))
    save_universal(model, run_file)
    low, high = min(gains, key=gains.get), max(gains, key=gains.get)
    print(f"calibrated {len(gains)} targets: gains {gains[low]:.2f} ({low}) to {gains[high]:.2f} ({high}); "
          f"wrote {run_file} and {_install(run_file, G, clip)}")
    return 0


def run_ship_universal(args) -> int:
    import json

    from stylepaint.safe_read import read_json
    from stylepaint.styleclip.universal_mapper import FILE_NAME, ship_universal

    run_file, G, clip = _run_models(args.run, None, args.clip)
    metrics = read_json(args.metrics, "json") if args.metrics else None
    command = f"stylepaint mapper train-universal --out {args.run} (--resume in chunks)"
    reader = _reader_settings(args.run)
    if reader is not None:          # the reader the run was given afterwards, with its settings
        command += f"; stylepaint mapper train-reader {args.run} with {json.dumps(reader)}"
    entry = ship_universal(run_file, G, clip, metrics, command=command)
    print(f"shipped {FILE_NAME}: {entry['bytes'] / 1e6:.1f} MB, {entry['steps']} steps in "
          f"{entry['train_seconds']:.0f} s of training, sha256 {entry['sha256'][:12]}")
    return 0
