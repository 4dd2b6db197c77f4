"""`stylepaint generate [MODEL] --tags "hair_color=red,eyewear=glasses" --count 8 -o grid.png`."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("generate", help="faces with the attributes you tag, as a grid PNG",
                       description="Faces from tags. On the embedded default model, group=value tags are exact "
                                   "(e.g. hair_color=red,eyewear=glasses; see docs/portraits.md for the groups). "
                                   "On other models, free-text tags (\"red hair, glasses\") pick the best of "
                                   "--pool candidates per face by CLIP similarity.")
    p.add_argument("model", nargs="?", default=None, help="generator file or catalogue name (default: the embedded default)")
    p.add_argument("--tags", required=True, help="group=value pairs, or free-text phrases, separated by commas")
    p.add_argument("--count", type=int, default=8, help="number of faces (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    p.add_argument("--truncation", type=float, default=1.0, metavar="PSI", help="truncation psi (default 1.0)")
    p.add_argument("--clip", default=None, help="CLIP for free-text tags (default: the model's pairing)")
    p.add_argument("--pool", type=int, default=16, help="CLIP route: candidates per face (default 16)")
    p.add_argument("--columns", type=int, default=4, help="faces per row of the grid (default 4)")
    p.add_argument("--latents", default=None, metavar="NPZ", help="also save the faces' latents (z and ws)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto (default cpu)")
    p.add_argument("-o", "--output", required=True, help="PNG file to write (a grid of the faces)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from stylepaint.engine.checkpoints import load_generator
    from stylepaint.errors import InputError
    from stylepaint.imagefiles import save_png
    from stylepaint.tag_faces import faces_from_tags, parse_tags, render_faces
    from stylepaint.training.sheets import tile

    if args.count < 1 or args.columns < 1:
        raise InputError("--count and --columns must be at least 1")
    tags = parse_tags(args.tags)
    G = load_generator(args.model, device=args.device)
    clip = None
    if isinstance(tags, list):
        from stylepaint.clip.model import load_clip
        from stylepaint.directions.pairing import default_clip_for

        clip = load_clip(args.clip or default_clip_for(G), device=args.device)
    last = {}
    for last in faces_from_tags(G, tags, count=args.count, seed=args.seed, clip=clip, pool=args.pool,
                                truncation=args.truncation):
        pass
    z = last["z"]
    ws, images = render_faces(G, z, args.truncation)
    save_png(args.output, tile(images, min(args.columns, args.count)),
             {"model": getattr(G, "source_path", None), "model_id": G.model_id, "tags": args.tags,
              "method": last["method"], "seed": args.seed, "truncation": args.truncation})
    if args.latents:
        np.savez(args.latents, z=z.cpu().numpy(), ws=ws)
    print(f"wrote {args.output}: {args.count} faces by {last['method']}")
    return 0
