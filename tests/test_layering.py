"""The layers stay apart: the engine never imports Qt; GUI widgets never import torch."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "stylepaint"
QT = ("PySide6", "qtawesome", "shiboken6", "qtpy")
TORCH = ("torch", "torchvision", "open_clip")
# the one GUI module that talks to the engine (it imports stylepaint.engine.render)
GUI_ENGINE_BRIDGE = {"worker.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_never_imports_qt():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "gui" in path.relative_to(PACKAGE).parts:
            continue
        for name in imported_modules(path):
            if name.split(".")[0] in QT:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offenders, offenders


def test_widgets_never_import_torch():
    offenders = []
    for path in (PACKAGE / "gui").rglob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in TORCH:
                offenders.append(f"{path.name} imports {name}")
            if name.startswith("stylepaint.engine") and path.name not in GUI_ENGINE_BRIDGE:
                offenders.append(f"{path.name} imports {name} (only the worker talks to the engine)")
    assert not offenders, offenders


def test_only_the_gui_command_imports_the_gui_package():
    """``stylepaint.gui`` applies a Qt fix on import: anything outside it that imported it (the
    CLI re-creating a document, say) would pull Qt into a headless script."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if "gui" in rel.parts or rel == Path("cli/gui_cmd.py"):
            continue
        for name in imported_modules(path):
            if name == "stylepaint.gui" or name.startswith("stylepaint.gui."):
                offenders.append(f"{rel} imports {name}")
    assert not offenders, offenders
