"""The favorites dock: thumbnails of saved states; click restores, right-click offers rename,
delete, export, "morph towards" and "blend with"."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDockWidget, QInputDialog, QListView, QListWidget, QListWidgetItem, QMenu

_ID = Qt.ItemDataRole.UserRole


class FavoritesDock(QDockWidget):
    restore_requested = Signal(str)
    rename_requested = Signal(str, str)
    delete_requested = Signal(str)
    export_requested = Signal(str)
    morph_requested = Signal(str)
    blend_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__("Favorites", parent)
        self.setObjectName("favoritesDock")
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(96, 96))
        self.list.setGridSize(QSize(112, 128))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setToolTip("Click to restore; right-click for more. Ctrl+D adds the current picture.")
        self.list.itemActivated.connect(lambda item: self.restore_requested.emit(item.data(_ID)))
        # a single click only selects: restoring replaces the work on the canvas (double-click or Enter)
        self.list.customContextMenuRequested.connect(self._menu)
        self.setWidget(self.list)

    def set_favorites(self, favorites) -> None:
        """``favorites``: objects with ``id``, ``name``, ``thumbnail_path`` (FavoritesStore.list())."""
        self.list.clear()
        for fav in favorites:
            icon = QIcon(QPixmap(str(fav.thumbnail_path))) if fav.thumbnail_path else qta.icon("mdi6.image-outline")
            item = QListWidgetItem(icon, fav.name)
            item.setData(_ID, fav.id)
            item.setToolTip(fav.name)
            self.list.addItem(item)

    def ids(self) -> list[str]:
        return [self.list.item(i).data(_ID) for i in range(self.list.count())]

    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.item_menu(item).exec(self.list.mapToGlobal(pos))

    def item_menu(self, item: QListWidgetItem) -> QMenu:
        fav_id = item.data(_ID)
        menu = QMenu(self)
        menu.addAction(qta.icon("mdi6.restore"), "Restore", lambda: self.restore_requested.emit(fav_id))
        menu.addAction(qta.icon("mdi6.transition"), "Morph towards", lambda: self.morph_requested.emit(fav_id))
        menu.addAction(qta.icon("mdi6.vector-combine"), "Blend with (as face B)", lambda: self.blend_requested.emit(fav_id))
        menu.addSeparator()
        menu.addAction(qta.icon("mdi6.rename-box"), "Rename…", lambda: self._rename(item))
        menu.addAction(qta.icon("mdi6.export"), "Export…", lambda: self.export_requested.emit(fav_id))
        menu.addAction(qta.icon("mdi6.delete-outline"), "Delete", lambda: self.delete_requested.emit(fav_id))
        return menu

    def _rename(self, item: QListWidgetItem) -> None:
        name, ok = QInputDialog.getText(self, "Rename favorite", "Name:", text=item.text())
        if ok and name.strip():
            self.rename_requested.emit(item.data(_ID), name.strip())
