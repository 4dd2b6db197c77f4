"""`stylepaint render [MODEL] --seed N -o out.png`: one image through the render entry point."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("render", help="render a seed (or a saved latent) to a PNG")
    p.add_argument("model", nargs="?", default=None, help="checkpoint file or catalogue name (default: the embedded default model)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the face (default 0)")
    p.add_argument("--latent", default=None, help="a saved latent (.npz with 'ws') instead of a seed")
    p.add_argument("--document", default=None, metavar="FILE",
                   help="re-create a picture: a .stylepaint document, or a PNG the editor exported (edits, "
                        "masks, blend, morph, model and CLIP come from it)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="truncation psi (default 1.0)")
    p.add_argument("--noise", choices=["const", "none", "random"], default="const", help="noise mode (default const)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write")
    p.set_defaults(func=run)


def _document_args(path, model, device, renderer) -> dict:
    from stylepaint.document import load_document
    from stylepaint.editor_state import EditorState

    state = EditorState.from_favorite(*load_document(path))
    if model is not None:
        state = state.with_(model=model, photo=state.photo)
    G = renderer.generator(state.model, device)
    return state.render_args(size=G.img_resolution, device=device)


def run(args) -> int:
    from stylepaint.engine.render import Renderer
    from stylepaint.imagefiles import load_latent, save_png

    renderer = Renderer()
    if args.document:
        render_args = _document_args(args.document, args.model, args.device, renderer)
        args.seed, args.truncation = render_args["seed"], render_args["truncation"]
        ws = render_args["ws"]
        result = renderer.render(**render_args)
    else:
        ws = load_latent(args.latent)[0] if args.latent else None
        result = renderer.render(model=args.model, device=args.device, seed=args.seed, ws=ws,
                                 truncation=args.truncation, noise_mode=args.noise)
    if result["error"]:
        print(f"stylepaint: error: {result['error']}", file=sys.stderr)
        return 2
    meta = result["metadata"]
    save_png(args.output, result["image"], {"model": meta["model"], "model_id": meta["model_id"],
                                            "seed": args.seed if ws is None else None,
                                            "truncation": args.truncation, "noise": args.noise})
    h, w = result["image"].shape[:2]
    print(f"wrote {args.output} ({w}x{h}, {result['timings']['synthesis_ms']:.0f} ms)")
    return 0
