"""Every file dialog of the editor goes through here.

The platform's native dialog is used where there is one. Qt's own dialog (no native one, e.g.
a bare X server) must never read a file's contents on the GUI thread: its default icon
provider sniffs each file's MIME type, and reading ``/proc/kmsg`` or a pipe blocks forever
(issue 14, item 10). So the dialog gets an icon provider that names files by their suffix
only, it does not list ``/proc``, ``/sys`` and ``/dev``, and a chosen path that is a special
file (or lies under those folders) is refused with one sentence instead of being opened.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from PySide6.QtCore import QFileInfo, QSortFilterProxyModel
from PySide6.QtWidgets import QFileDialog, QFileIconProvider

SPECIAL_ROOTS = ("/proc", "/sys", "/dev")


def refusal(path: str, saving: bool) -> str | None:
    """Why ``path`` may not be opened (or written, ``saving``); None when it may."""
    text = os.path.abspath(os.path.expanduser(str(path)))
    if any(text == root or text.startswith(root + "/") for root in SPECIAL_ROOTS):
        return f"{text} is a system file, not a picture or document: choose a file in a normal folder"
    try:
        mode = os.stat(text).st_mode
    except FileNotFoundError:
        if saving:
            return None if Path(text).parent.is_dir() else f"the folder {Path(text).parent} does not exist"
        return f"{text} does not exist"
    except OSError as exc:
        return f"{text}: {exc.strerror or exc}"
    if not stat.S_ISREG(mode):
        return f"{text} is {'a folder' if stat.S_ISDIR(mode) else 'not a regular file'}"
    return None


class PlainIcons(QFileIconProvider):
    """Icons and type names from the file name alone: never opens a file to sniff its type."""

    def icon(self, what):
        if isinstance(what, QFileInfo):
            kind = QFileIconProvider.IconType.Folder if what.isDir() else QFileIconProvider.IconType.File
            return super().icon(kind)
        return super().icon(what)

    def type(self, info: QFileInfo) -> str:
        if info.isDir():
            return "Folder"
        suffix = info.suffix()
        return f"{suffix.upper()} file" if suffix else "File"


class _HideSystemFolders(QSortFilterProxyModel):
    def filterAcceptsRow(self, row, parent) -> bool:
        model = self.sourceModel()
        path = model.filePath(model.index(row, 0, parent)) if hasattr(model, "filePath") else ""
        return path not in SPECIAL_ROOTS


def make_dialog(parent, title: str, start: str, filters: str, saving: bool) -> QFileDialog:
    dialog = QFileDialog(parent, title, str(start or ""), filters)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave if saving else QFileDialog.AcceptMode.AcceptOpen)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile if saving else QFileDialog.FileMode.ExistingFile)
    dialog.setOption(QFileDialog.Option.DontUseCustomDirectoryIcons, True)
    dialog._icons = PlainIcons()                         # kept alive as long as the dialog
    dialog.setIconProvider(dialog._icons)
    dialog.setProxyModel(_HideSystemFolders(dialog))
    if saving:
        suffix = _first_suffix(filters)
        if suffix:
            dialog.setDefaultSuffix(suffix)
    return dialog


def _first_suffix(filters: str) -> str:
    inside = filters.split("(", 1)[1].split(")", 1)[0] if "(" in filters else ""
    first = inside.split()[0] if inside.split() else ""
    return first[2:] if first.startswith("*.") else ""


def _ask(parent, title, start, filters, saving) -> str | None:
    dialog = make_dialog(parent, title, start, filters, saving)
    try:
        if not dialog.exec() or not dialog.selectedFiles():
            return None
        path = dialog.selectedFiles()[0]
    finally:
        dialog.deleteLater()
    why = refusal(path, saving)
    if why is not None:
        show = getattr(parent, "show_message", None)
        if show is not None:
            show(f"Cannot use that file: {why}.", "warning")
        return None
    return path


def save_path(parent, title: str, start: str = "", filters: str = "All files (*)") -> str | None:
    """A path to write, or None (cancelled or refused; a refusal is told in the message bar)."""
    return _ask(parent, title, start, filters, saving=True)


def open_path(parent, title: str, start: str = "", filters: str = "All files (*)") -> str | None:
    """An existing regular file to read, or None (cancelled or refused)."""
    return _ask(parent, title, start, filters, saving=False)
