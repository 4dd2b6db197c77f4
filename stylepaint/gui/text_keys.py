"""Keys that belong to the text field being typed in: Esc in a line edit, spin box or text
box goes to that field (close its completer, leave it), not to the window's Esc shortcut
(Cancel job)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QLineEdit, QPlainTextEdit, QTextEdit

TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)
FIELD_KEYS = (Qt.Key.Key_Escape,)


class TextFieldKeys(QObject):
    """Install on the application; claims FIELD_KEYS for text fields inside ``window``."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def eventFilter(self, obj, event):
        if (event.type() == QEvent.Type.ShortcutOverride and event.key() in FIELD_KEYS
                and isinstance(obj, TEXT_FIELDS) and obj.window() is self.window):
            event.accept()                   # the field takes the key; no shortcut fires
            if event.key() == Qt.Key.Key_Escape and isinstance(obj, QLineEdit) and obj.completer() is None:
                obj.clearFocus()
            return True
        return False
