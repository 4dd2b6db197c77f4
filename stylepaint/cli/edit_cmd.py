"""`stylepaint edit [MODEL] --seed N --prompt "curly hair" --alpha 4 -o out.png`: text-driven edits.

Each ``--prompt`` starts an edit; ``--neutral/--alpha/--beta/--layers`` after it belong to it,
so several edits stack in order::

    stylepaint edit --seed 3 --prompt "curly hair" --neutral hair --alpha 4 --beta 0.12 \\
                    --prompt "a smiling face" --alpha 2 -o out.png

``--grid`` writes an α×β contact sheet of the last edit instead (rows β, columns α). Missing
directions are built first (with a progress bar) and cached; rendering goes through the one
render entry point.

``--instruction "make the hair red"`` (or a description, "red hair") starts an edit made by the
universal mapper (``stylepaint mapper train-universal``): the text is understood by the same
model, the edit is made for this face (``--alpha`` defaults to 1) and the PNG's recipe keeps it.

``--morph hair_color=red`` (the embedded default, or any generator whose mapping computes the
portrait code) starts an exact attribute morph of this face: only that group's code moves,
from the face's own value; ``--alpha`` (default 1) is how far, 1 being the target value.

``--method`` picks how an edit is made (StyleCLIP's three ways): ``directions`` (default,
global directions), ``optimize`` (the latent optimizer runs for this face first, ``--steps``;
the PNG's recipe keeps its result) or ``mapper`` (a mapper trained with ``stylepaint mapper
train``).
"""

from __future__ import annotations

import argparse

from stylepaint.errors import InputError

EDIT_FIELDS = {"neutral": str, "alpha": float, "beta": float, "layers": str, "method": str}


class _EditOption(argparse.Action):
    """--prompt opens an edit; the other per-edit options fill the last one opened."""

    def __call__(self, parser, namespace, values, option_string=None):
        edits = getattr(namespace, "edits", None) or []
        if self.dest in ("prompt", "instruction", "morph"):
            edits.append({"prompt": values} if self.dest == "prompt" else {"prompt": values, self.dest: True})
        elif not edits:
            parser.error(f"{option_string} must come after the --prompt, --instruction or --morph it belongs to")
        else:
            edits[-1][self.dest] = EDIT_FIELDS[self.dest](values)
        namespace.edits = edits


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def register(sub) -> None:
    p = sub.add_parser("edit", help="edit a face with text prompts (StyleCLIP global directions)")
    p.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the face (default 0)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="truncation psi (default 1.0)")
    p.add_argument("--prompt", action=_EditOption, dest="prompt", metavar="TEXT", help="what the edit should show")
    p.add_argument("--instruction", action=_EditOption, dest="instruction", metavar="TEXT",
                   help="an instruction (\"make the hair red\") or description, made by the universal mapper")
    p.add_argument("--morph", action=_EditOption, dest="morph", metavar="GROUP=VALUE",
                   help="an exact attribute morph through the portrait code (the embedded default), e.g. hair_color=red")
    p.add_argument("--neutral", action=_EditOption, dest="neutral", metavar="TEXT",
                   help="neutral text of this edit (default: the model's, e.g. 'face')")
    p.add_argument("--alpha", action=_EditOption, dest="alpha", metavar="A", help="strength, about -10..10")
    p.add_argument("--beta", action=_EditOption, dest="beta", metavar="B",
                   help="disentanglement threshold 0..0.3 (default 0.1)")
    p.add_argument("--layers", action=_EditOption, dest="layers", metavar="GROUP",
                   help="all, coarse, middle or fine (default all)")
    p.add_argument("--method", action=_EditOption, dest="method", metavar="HOW",
                   help="directions (default), optimize or mapper")
    p.add_argument("--steps", type=int, default=40, metavar="N", help="optimizer steps of --method optimize (default 40)")
    p.add_argument("--clip", default=None, metavar="SPEC", help="CLIP as NAME[:TAG|FILE] (default: the model's pairing)")
    p.add_argument("--grid", action="store_true", help="write an alpha x beta contact sheet of the last edit")
    p.add_argument("--grid-alphas", type=_floats, default=None, metavar="A,A,..",
                   help="grid columns (default -A,-A/2,0,A/2,A)")
    p.add_argument("--grid-betas", type=_floats, default=None, metavar="B,B,..",
                   help="grid rows (default B/2,B,1.5B,2B)")
    p.add_argument("--noise", choices=["const", "none", "random"], default="const", help="noise mode (default const)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    p.add_argument("--download", action="store_true", help="allow downloading missing CLIP weights")
    p.add_argument("--photo", default=None, metavar="FILE",
                   help="edit the face in this photo instead of a seed; writes the full-size edited photo")
    p.add_argument("--face", type=int, default=None, metavar="N", help="with --photo: which face (0 = the largest)")
    p.add_argument("--latent", default=None, metavar="NPZ",
                   help="with --photo: reuse the inversion that 'stylepaint invert' wrote")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.set_defaults(func=run, edits=None, instruction=None, morph=None)


def steps_from_args(edits) -> list:
    """EditSteps in order; an edit to optimize is ``("optimize", its settings as a step)``."""
    from stylepaint.edits import EditStep

    if not edits:
        raise InputError("give at least one --prompt (with its --alpha)")
    steps = []
    for e in edits:
        if e.pop("instruction", False):        # its shift comes from the universal mapper (``instructed``)
            if not e["prompt"].strip():
                from stylepaint.styleclip.instructions import empty_message

                raise InputError(empty_message())
            steps.append(("instruction", EditStep(**{"alpha": 1.0, **e})))
            continue
        if e.pop("morph", False):              # its shift comes from the portrait code (``morphed``)
            group, sep, value = e["prompt"].partition("=")
            if not sep or not group.strip() or not value.strip():
                raise InputError(f"--morph wants GROUP=VALUE, e.g. hair_color=red, not {e['prompt']!r}")
            steps.append(("morph", EditStep(**{"alpha": 1.0, **e})))
            continue
        if "alpha" not in e:
            raise InputError(f"the edit {e['prompt']!r} needs an --alpha after its --prompt")
        if e.get("method") == "optimize":       # its shift comes from the optimizer (``optimized``)
            steps.append(("optimize", EditStep(**{**e, "method": "directions"})))
        else:
            steps.append(EditStep(**e))
    return steps


def optimized(G, clip, step, args):
    """Run the latent optimizer for this face; the edit keeps its α and stores the result."""
    from tqdm import tqdm

    from stylepaint.engine import stylespace
    from stylepaint.errors import StylepaintError
    from stylepaint.styleclip import OptimizeParams, optimize

    ws = stylespace.seed_to_ws(G, args.seed, args.truncation)
    job = optimize(G, clip, ws, step.prompt, step.neutral, step.layers,
                   OptimizeParams(steps=args.steps, preview_every=0), name=step.name)
    info = None
    with tqdm(total=args.steps, unit="step", desc=f"optimizing '{step.prompt}'", dynamic_ncols=True) as bar:
        try:
            for info in job:
                bar.n = info["done"]
                bar.refresh()
        except KeyboardInterrupt:
            job.close()
            raise StylepaintError("stopped while optimizing; nothing was written") from None
    return info["edit"].with_(alpha=step.alpha, enabled=step.enabled, mask=step.mask)


def instructed(G, clip, step, args):
    """The universal mapper's edit of this face for the instruction or description ``step.prompt``."""
    from stylepaint.engine import stylespace
    from stylepaint.styleclip.instructions import universal_step
    from stylepaint.styleclip.universal_mapper import require_universal

    ws = stylespace.seed_to_ws(G, args.seed, args.truncation)
    made, understood = universal_step(G, clip, require_universal(G, clip), ws, step.prompt, step.alpha)
    print(f"understood {step.prompt!r} as {understood.reading()}")
    return made.with_(enabled=step.enabled, mask=step.mask)


def morphed(G, clip, step, args):
    """The exact morph of this face to ``step.prompt`` (GROUP=VALUE) through the portrait code."""
    from stylepaint.code_morph import code_morph_step
    from stylepaint.engine import stylespace

    group, _, value = step.prompt.partition("=")
    ws = stylespace.seed_to_ws(G, args.seed, args.truncation)
    made = code_morph_step(G, ws[0], group.strip(), value.strip(), alpha=step.alpha)
    print(f"morph {made.name}")
    return made.with_(enabled=step.enabled, mask=step.mask)


def grid_values(step, alphas, betas) -> tuple[list[float], list[float]]:
    a = abs(step.alpha) or 4.0
    b = step.beta or 0.1
    return (alphas or [-a, -a / 2, 0.0, a / 2, a]), (betas or [b / 2, b, 1.5 * b, 2 * b])


def contact_sheet(images, alphas, betas):
    """Rows of images (one row per beta) -> one labelled PIL image."""
    import numpy as np
    from PIL import Image, ImageDraw

    h, w = images[0][0].shape[:2]
    top, left = 16, 56
    sheet = Image.new("RGB", (left + w * len(alphas), top + h * len(betas)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, a in enumerate(alphas):
        draw.text((left + j * w + 2, 2), f"a={a:g}", fill="black")
    for i, (b, row) in enumerate(zip(betas, images)):
        draw.text((2, top + i * h + 2), f"b={b:g}", fill="black")
        for j, img in enumerate(row):
            sheet.paste(Image.fromarray(np.asarray(img)), (left + j * w, top + i * h))
    return sheet


def run(args) -> int:
    from PIL import Image
    from tqdm import tqdm

    from stylepaint.clip import load_clip
    from stylepaint.directions import build, cached, default_clip_for
    from stylepaint.directions.shipped import shipped_directions
    from stylepaint.errors import StylepaintError
    from stylepaint.engine.render import Renderer
    from stylepaint.imagefiles import save_png

    steps = steps_from_args(args.edits)
    if args.photo and any(isinstance(s, tuple) for s in steps):
        raise InputError("--method optimize, --instruction and --morph work on a seed for now; for a photo use "
                         "directions or a mapper")
    renderer = Renderer()
    G = renderer.generator(args.model, args.device)
    spec = args.clip or default_clip_for(G)
    clip = load_clip(spec, device=G.device, download=args.download)
    made_by = {"optimize": optimized, "instruction": instructed, "morph": morphed}
    steps = [made_by[s[0]](G, clip, s[1], args) if isinstance(s, tuple) else s for s in steps]
    if any(s.method == "directions" for s in steps) and cached(G, clip) is None \
            and shipped_directions(G, clip) is None:
        job = build(G, clip)
        with tqdm(unit="ch", desc="directions (first use of this model and CLIP)", dynamic_ncols=True) as bar:
            try:
                for info in job:
                    bar.total = info["total"]
                    bar.n = int(info["done"])
                    bar.refresh()
            except KeyboardInterrupt:
                job.close()
                raise StylepaintError("stopped while building the directions; run again to resume") from None

    def render(edit_steps):
        result = renderer.render(model=args.model, device=args.device, seed=args.seed, truncation=args.truncation,
                                 noise_mode=args.noise, edits=[s.to_dict() for s in edit_steps], clip=spec)
        if result["error"]:
            raise StylepaintError(result["error"])
        return result

    if args.photo:
        from stylepaint.inversion.imageio import save_image
        from stylepaint.inversion.pipeline import edit_photo, inversion_from_latent

        inversion = inversion_from_latent(args.photo, args.latent) if args.latent else None
        out = edit_photo(args.photo, args.model, steps, renderer=renderer, device=args.device, clip=spec,
                         face_index=args.face, inversion=inversion)
        save_image(out.image, args.output)
        print(f"wrote {args.output} ({out.image.shape[1]}x{out.image.shape[0]}, the photo with its face edited)")
        from stylepaint.inversion.identity import describe
        from stylepaint.inversion.pipeline import identity_check

        inv = out.inversion
        for label, reference in (("inversion vs edit", inv.inversion.image), ("photo vs edit", None)):
            check = identity_check(inv, out.crop, reference=reference)
            if check is not None:
                print(f"{label}: {describe(check)}")
        return 0

    if not args.grid:
        result = render(steps)
        meta = result["metadata"]
        save_png(args.output, result["image"], {"model": meta["model"], "model_id": meta["model_id"],
                                                "seed": args.seed, "truncation": args.truncation,
                                                "clip": spec, "edits": [s.to_dict() for s in steps]})
        moved = ", ".join(f"{s.prompt!r}: {n}" for s, n in zip(steps, result["metadata"]["channels_moved"]))
        print(f"wrote {args.output} (channels moved: {moved}; {result['timings']['total_ms']:.0f} ms)")
        return 0

    *fixed, last = steps
    alphas, betas = grid_values(last, args.grid_alphas, args.grid_betas)
    rows = [[render([*fixed, last.with_(alpha=a, beta=b)])["image"] for a in alphas] for b in betas]
    contact_sheet(rows, alphas, betas).save(args.output)
    print(f"wrote {args.output} ({len(betas)} beta rows x {len(alphas)} alpha columns of {last.prompt!r})")
    return 0
