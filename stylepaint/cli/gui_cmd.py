"""``stylepaint gui [--model FILE]``: open the editor window (Qt is imported only here, lazily)."""

from __future__ import annotations

from pathlib import Path

from stylepaint.errors import InputError


def register(subparsers) -> None:
    parser = subparsers.add_parser("gui", help="open the editor window (the default command)")
    parser.add_argument("--model", metavar="FILE", default=None,
                        help="checkpoint to open (.pkl, .pt, .safetensors); default: the embedded model")
    parser.add_argument("--clip", metavar="SPEC", default=None,
                        help="CLIP model for text edits (NAME[:TAG|FILE]); default: the model's pairing")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.model is not None and not Path(args.model).is_file():
        raise InputError(f"{args.model}: no such model file")
    try:
        from stylepaint.gui.app import run as run_app
    except ImportError as exc:
        raise InputError(f"the editor needs PySide6 and qtawesome ({exc})") from exc
    return run_app(model=None if args.model is None else str(Path(args.model).resolve()), clip=args.clip)
