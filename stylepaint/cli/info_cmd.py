"""`stylepaint info MODEL`: what a checkpoint holds."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("info", help="print a checkpoint's architecture")
    p.add_argument("model", nargs="?", default=None, help="checkpoint file (default: the embedded default model)")
    p.set_defaults(func=run)


def run(args) -> int:
    from stylepaint.engine.checkpoints import load_generator

    G = load_generator(args.model)
    cfg = G.config
    conv_layers = [l for l in G.style_layers if not l.is_torgb]
    fp16_blocks = [b.resolution for b in G.synthesis.blocks() if b.use_fp16]
    rows = [
        ("file", G.source_path), ("format", G.source_format), ("model id", G.model_id),
        ("resolution", f"{G.img_resolution} x {G.img_resolution} x {G.img_channels}"),
        ("z dim / w dim", f"{G.z_dim} / {G.w_dim}"),
        ("mapping layers", f"{cfg['mapping_layers']} (lr multiplier {cfg['mapping_lr_multiplier']})"),
        ("num ws", G.num_ws),
        ("style layers", f"{len(G.style_layers)} ({len(conv_layers)} conv + {len(G.style_layers) - len(conv_layers)} toRGB)"),
        ("style channels", f"{sum(l.channels for l in G.style_layers)} "
                           f"({sum(l.channels for l in conv_layers)} in conv layers)"),
        ("fp16 blocks", ", ".join(map(str, fp16_blocks)) + " (used on CUDA only)" if fp16_blocks else "none"),
        ("conv clamp", cfg["conv_clamp"] if cfg["conv_clamp"] is not None else "none"),
        ("parameters", f"{sum(p.numel() for p in G.parameters()):,}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print()
    print(f"{'layer':<12} {'channels':>8} {'res':>5} {'w index':>7}")
    for layer in G.style_layers:
        print(f"{layer.name:<12} {layer.channels:>8} {layer.resolution:>5} {layer.ws_index:>7}")
    return 0
