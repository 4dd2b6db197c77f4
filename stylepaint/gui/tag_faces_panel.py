"""Faces from tags (issue 13): a value per attribute group ("any" by default) or, for a model
without the portrait code, free-text tags that CLIP scores; Find faces asks for a grid of 8
matching faces (the window runs the search as a job); one click makes a face the current face,
the right-click menu also adds it to favorites. More faces draws the next 8."""

from __future__ import annotations

import numpy as np
import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QComboBox, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QListView, QListWidget, QListWidgetItem, QMenu,
    QPushButton, QVBoxLayout, QWidget,
)

from stylepaint.gui.canvas import to_qimage

ANY = "any"
COUNT = 8
ICON = 56
_INDEX = Qt.ItemDataRole.UserRole


class TagFacesPanel(QWidget):
    search_requested = Signal(object, int)     # tags (group -> value, or a list of phrases), seed
    face_chosen = Signal(int)                  # grid index: becomes the current face
    favorite_requested = Signal(int)           # grid index: added to favorites

    def __init__(self, parent=None):
        super().__init__(parent)
        self.seed = 0
        self.combos: dict[str, QComboBox] = {}
        self.groups_box = QWidget()
        self.form = QGridLayout(self.groups_box)              # two combos a row: the grid keeps the room
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setSpacing(3)
        self.free = QLineEdit()
        self.free.setPlaceholderText("or free text, e.g. red hair, glasses")
        self.free.setClearButtonEnabled(True)
        self.free.setToolTip("Free-text tags, separated by commas: CLIP picks the best of many faces "
                             "(any model; the groups above need a model trained with the portrait code)")
        self.find = QPushButton(qta.icon("mdi6.account-search-outline"), "Find faces")
        self.find.setToolTip(f"Show {COUNT} faces with these tags")
        self.more = QPushButton(qta.icon("mdi6.refresh"), "More")
        self.more.setToolTip(f"{COUNT} other faces with the same tags")
        self.more.setEnabled(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(placeholder-text);")
        self.grid = QListWidget()
        self.grid.setViewMode(QListView.ViewMode.IconMode)
        self.grid.setIconSize(QSize(ICON, ICON))
        self.grid.setGridSize(QSize(ICON + 8, ICON + 8))
        self.grid.setResizeMode(QListView.ResizeMode.Adjust)
        self.grid.setMovement(QListView.Movement.Static)
        self.grid.setMinimumHeight(2 * (ICON + 8) + 6)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.setToolTip("Click a face to edit it; right-click to add it to favorites")
        buttons = QHBoxLayout()
        buttons.addWidget(self.find, 1)
        buttons.addWidget(self.more)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.groups_box)
        layout.addWidget(self.free)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.grid, 1)

        self.find.clicked.connect(lambda: self._search(0))
        self.more.clicked.connect(lambda: self._search(self.seed + 1))
        self.free.returnPressed.connect(lambda: self._search(0))
        self.grid.itemClicked.connect(lambda item: self.face_chosen.emit(item.data(_INDEX)))
        self.grid.customContextMenuRequested.connect(self._menu)

    # -- state -> widget ---------------------------------------------------------------------
    def set_groups(self, groups: dict[str, tuple[str, list[str]]] | None) -> None:
        """Group -> (label, values): one combo each, "<label>: any" first. None: free text only."""
        while self.form.count():
            self.form.takeAt(0).widget().deleteLater()
        self.combos = {}
        for i, (group, (label, values)) in enumerate((groups or {}).items()):
            combo = QComboBox()
            combo.addItem(f"{label}: {ANY}", None)
            for value in values:
                combo.addItem(f"{label}: {value}", value)
            combo.setToolTip(f"The faces' {label} ({ANY}: not asked for)")
            combo.setMinimumContentsLength(6)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            self.combos[group] = combo
            self.form.addWidget(combo, i // 2, i % 2)
        self.groups_box.setVisible(bool(self.combos))

    def set_faces(self, images, method: str = "") -> None:
        """The found faces' pictures ([H, W, 3] uint8 each) in grid order."""
        self.grid.clear()
        for i, image in enumerate(images):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(to_qimage(np.asarray(image)))), "")
            item.setData(_INDEX, i)
            item.setToolTip(f"Face {i + 1}: click to edit it, right-click to keep it")
            self.grid.addItem(item)
        self.status.setText(f"{len(images)} faces by {method}." if method else "")
        self.set_busy(False)

    def set_busy(self, busy: bool, text: str = "") -> None:
        self.find.setEnabled(not busy)
        self.more.setEnabled(not busy and self.grid.count() > 0)
        if text or busy:
            self.status.setText(text or "Finding faces…")

    # -- widget -> signals -------------------------------------------------------------------
    def tags(self) -> dict[str, str] | list[str] | None:
        """The chosen group values; when none is chosen, the free-text phrases; else None."""
        chosen = {g: c.currentData() for g, c in self.combos.items() if c.currentData() is not None}
        if chosen:
            return chosen
        phrases = [p.strip() for p in self.free.text().split(",") if p.strip()]
        return phrases or None

    def _search(self, seed: int) -> None:
        tags = self.tags()
        if tags is None:
            self.status.setText("Pick a value in at least one group, or type tags such as “red hair, glasses”.")
            return
        self.seed = seed
        self.set_busy(True)
        self.search_requested.emit(tags, seed)

    def face_menu(self, index: int) -> QMenu:
        menu = QMenu(self)
        menu.addAction(qta.icon("mdi6.account-edit-outline"), "Edit this face", lambda: self.face_chosen.emit(index))
        menu.addAction(qta.icon("mdi6.star-outline"), "Add to favorites", lambda: self.favorite_requested.emit(index))
        return menu

    def _menu(self, pos) -> None:
        item = self.grid.itemAt(pos)
        if item is not None:
            self.face_menu(item.data(_INDEX)).exec(self.grid.viewport().mapToGlobal(pos))
