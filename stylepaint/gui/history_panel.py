"""The History panel: the undo stack as a list, one row per recorded step; the current step is
selected, steps that redo would bring back are greyed, and clicking a row goes to that step."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class HistoryPanel(QWidget):
    go_to = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setToolTip("Every step you can undo; click one to go back to it (later steps stay redoable)")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self._labels: list[str] = []
        self._index = -1
        self.list.itemClicked.connect(lambda item: self.go_to.emit(self.list.row(item)))

    def set_entries(self, labels: list[str], index: int) -> None:
        """State -> list; emits nothing."""
        if labels == self._labels and index == self._index:
            return
        self.list.blockSignals(True)
        while self.list.count() > len(labels):
            self.list.takeItem(self.list.count() - 1)
        for row, label in enumerate(labels):       # in place: a slider drag renames only the last row
            if row >= self.list.count():
                self.list.addItem(QListWidgetItem(label))
            elif row >= len(self._labels) or self._labels[row] != label:
                self.list.item(row).setText(label)
        self._labels, self._index = list(labels), index
        dim = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        normal = self.palette().color(QPalette.ColorRole.Text)
        for row in range(self.list.count()):
            self.list.item(row).setForeground(dim if row > index else normal)
        self.list.setCurrentRow(index)
        if index >= 0:
            self.list.scrollToItem(self.list.item(index))
        self.list.blockSignals(False)

    def rows(self) -> list[str]:
        return [self.list.item(r).text() for r in range(self.list.count())]
