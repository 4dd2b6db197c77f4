"""Frozen entry point of the windowed editor (no console window on Windows and macOS)."""

import multiprocessing
import sys

from stylepaint.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main(["gui", *sys.argv[1:]]))
