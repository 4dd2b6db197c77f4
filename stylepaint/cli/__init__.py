"""The ``stylepaint`` command: a thin argparse front over the engine.

Each sub-command lives in its own module in this package and exposes
``register(subparsers)``, which adds a parser whose ``func(args) -> int`` does the work.
A ``StylepaintError`` is printed as one sentence (no traceback) and exits with status 2.
With no sub-command, ``stylepaint`` opens the editor window.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stylepaint.errors import StylepaintError

#: Sub-command modules, in the order ``stylepaint --help`` lists them.
COMMAND_MODULES = [
    "stylepaint.cli.gui_cmd",
    "stylepaint.cli.info_cmd",
    "stylepaint.cli.render_cmd",
    "stylepaint.cli.generate_cmd",
    "stylepaint.cli.convert_cmd",
    "stylepaint.cli.dataset_cmd",
    "stylepaint.cli.train_cmd",
    "stylepaint.cli.models_cmd",
    "stylepaint.cli.train_gan_cmd",
    "stylepaint.cli.evaluate_gan_cmd",
    "stylepaint.cli.invert_cmd",
    "stylepaint.cli.directions_cmd",
    "stylepaint.cli.edit_cmd",
    "stylepaint.cli.mapper_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylepaint",
        description="Text-driven StyleGAN2 editing. With no command, opens the editor window.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *([] if argv is None else argv)])
    try:
        return int(args.func(args) or 0)
    except StylepaintError as exc:
        print(f"stylepaint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stylepaint: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
