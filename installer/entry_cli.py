"""Frozen entry point of the ``stylepaint`` console program (PyInstaller)."""

import multiprocessing
import sys

from stylepaint.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # data set writers and loaders start worker processes
    sys.exit(main())
