"""`stylepaint convert IN OUT`: any supported checkpoint -> the project's safe format."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("convert", help="convert a checkpoint to stylepaint's safe format (.safetensors)")
    p.add_argument("input", help="official .pkl, rosinality .pt or stylepaint .safetensors")
    p.add_argument("output", help="file to write (.safetensors)")
    p.set_defaults(func=run)


def run(args) -> int:
    from stylepaint.engine.checkpoints import load_generator, save_generator

    G = load_generator(args.input)
    save_generator(G, args.output)
    print(f"wrote {args.output} ({G.source_format} -> stylepaint, {G.img_resolution}px, model id {G.model_id})")
    return 0
