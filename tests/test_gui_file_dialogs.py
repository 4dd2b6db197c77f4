"""Issue 14, item 10: no file dialog may read a special file on the GUI thread. Qt's own dialog
sniffed each file's type by reading it, so typing /proc/kmsg froze the editor; every dialog
now goes through ``gui/file_dialogs.py``, which never reads contents and refuses special files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QFileInfo
from PySide6.QtWidgets import QFileDialog, QFileIconProvider

from stylepaint.gui import file_dialogs

pytestmark = pytest.mark.gui

PNG_MAGIC = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_the_dialogs_icons_never_read_a_file(qapp, tmp_path):
    sniffable = tmp_path / "noext"
    sniffable.write_bytes(PNG_MAGIC)                          # a PNG by its contents only
    assert "PNG" in QFileIconProvider().type(QFileInfo(str(sniffable)))   # Qt's own reads it
    assert file_dialogs.PlainIcons().type(QFileInfo(str(sniffable))) == "File"
    assert file_dialogs.PlainIcons().type(QFileInfo(str(tmp_path / "a.png"))) == "PNG file"


@pytest.mark.skipif(not os.access("/proc/kmsg", os.R_OK), reason="/proc/kmsg is readable only by root")
def test_typing_proc_kmsg_in_the_export_dialog_does_not_freeze(tmp_path):
    script = textwrap.dedent("""
        from PySide6.QtTest import QTest
        from PySide6.QtWidgets import QApplication, QLineEdit
        from stylepaint.gui.file_dialogs import make_dialog
        app = QApplication([])
        dialog = make_dialog(None, "Export PNG", %r, "PNG images (*.png)", True)
        dialog.show()
        QTest.qWait(300)
        QTest.keyClicks(dialog.findChild(QLineEdit, "fileNameEdit"), "/proc/kmsg")
        QTest.qWait(1000)
        print("alive")
    """ % str(tmp_path))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    try:
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the file dialog froze on /proc/kmsg")
    assert "alive" in out.stdout, out.stderr[-2000:]


@pytest.mark.parametrize("saving", [True, False])
def test_special_files_are_refused(tmp_path, saving):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path in ("/proc/kmsg", "/dev/null", "/sys/kernel", str(fifo), str(tmp_path)):
        assert file_dialogs.refusal(path, saving), path
    regular = tmp_path / "picture.png"
    regular.write_bytes(PNG_MAGIC)
    assert file_dialogs.refusal(str(regular), saving) is None
    new = tmp_path / "new.png"
    assert (file_dialogs.refusal(str(new), saving) is None) == saving


def test_export_to_a_special_file_is_refused_in_the_window(window, monkeypatch, tmp_path):
    w = window
    monkeypatch.setattr(QFileDialog, "exec", lambda self: 1)                 # the user picks...
    monkeypatch.setattr(QFileDialog, "selectedFiles", lambda self: ["/dev/null"])
    started = []
    monkeypatch.setattr(w.actions, "export_png_to", lambda *a, **k: started.append(a))
    w.actions.export_png()
    assert started == [] and "Cannot use that file" in w.message_bar.text()
    target = tmp_path / "ok.png"
    monkeypatch.setattr(QFileDialog, "selectedFiles", lambda self: [str(target)])
    w.actions.export_png()
    assert started and str(started[0][0]) == str(target)
