"""The edit stack: the kept edits as layers - each with its α and a thumbnail (the current
picture where the layer acts, dimmed outside its painted region, grey while hidden), enable
toggle, rename, reorder, delete, opacity of the selected layer, how it is made (its method is
shown after its α unless it is the default, global directions; the right-click menu picks
another) - plus saving the stack as a recipe and applying a recipe to the current face."""

from __future__ import annotations

import numpy as np
import qtawesome as qta
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QMenu, QSlider, QStyledItemDelegate,
    QToolButton, QVBoxLayout, QWidget,
)

from stylepaint.edits import METHOD_LABELS, METHODS, STORED, EditStep
from stylepaint.gui.canvas import to_qimage

THUMB = 40
#: the badge drawn on the thumbnail of a layer not made with global directions
METHOD_BADGES = {"optimize": "mdi6.target", "mapper": "mdi6.map-outline", "instruction": "mdi6.message-text-outline"}
BADGE = 16
#: a layer menu's words for making a layer with a method, and for making a stored one again
MAKE_WITH = {"instruction": "Read as an instruction (universal mapper)"}
AGAIN = {"optimize": "Optimize again for this face", "instruction": "Read again for this face"}


def _badged(pixmap: QPixmap, method: str) -> QPixmap:
    """The thumbnail with its method's badge in the lower right corner (none for directions)."""
    if method not in METHOD_BADGES:
        return pixmap
    pixmap = pixmap.scaled(THUMB, THUMB)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(QColor(255, 255, 255, 230)))
    corner = THUMB - BADGE
    painter.drawEllipse(corner - 1, corner - 1, BADGE + 1, BADGE + 1)
    qta.icon(METHOD_BADGES[method], color="#1565c0").paint(painter, corner, corner, BADGE, BADGE)
    painter.end()
    return pixmap


def thumbnail(image: np.ndarray, mask: np.ndarray | None, enabled: bool) -> np.ndarray:
    """The picture where a layer acts: full inside its region (everywhere without one), dimmed
    to a quarter outside; grey when the layer is hidden. [THUMB, THUMB, 3] uint8."""
    img = np.asarray(image, np.float32)[..., :3]
    h, w = img.shape[:2]
    ys, xs = (np.arange(THUMB) * h // THUMB), (np.arange(THUMB) * w // THUMB)
    small = img[ys][:, xs]
    if mask is not None:
        m = np.asarray(mask, np.float32)
        m = m[(np.arange(THUMB) * m.shape[0] // THUMB)][:, (np.arange(THUMB) * m.shape[1] // THUMB)]
        small = small * (0.25 + 0.75 * np.clip(m, 0, 1))[..., None]
    if not enabled:
        small = np.repeat(small.mean(axis=2, keepdims=True), 3, axis=2) * 0.6 + 40
    return np.clip(small, 0, 255).astype(np.uint8)

_INDEX = Qt.ItemDataRole.UserRole
_STRENGTH = Qt.ItemDataRole.UserRole + 1      # "α +5.0 · 50%": shown after the name, not edited with it


class _NameAndAlpha(QStyledItemDelegate):
    """Draws a layer's name followed by its α; renaming edits the name alone."""

    def initStyleOption(self, option, index):
        super().initStyleOption(option, index)
        if index.data(_STRENGTH):
            option.text = f"{option.text}   {index.data(_STRENGTH)}"


class EditStack(QWidget):
    steps_changed = Signal(object, object)     # list[EditStep], active index | None
    selected = Signal(object)                  # index | None (None = back to the draft)
    opacity_changed = Signal(int, float, bool) # index, opacity 0..1, final (False while dragging)
    method_requested = Signal(int, str)        # index, one of edits.METHODS (the window runs its job)
    save_recipe_requested = Signal()
    apply_recipe_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._steps: list[EditStep] = []
        self._updating = False
        self._picture: tuple | None = None     # (image, masks) of the last render
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setItemDelegate(_NameAndAlpha(self.list))
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)    # name and α first; the method may be cut
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumHeight(3 * (THUMB + 8))                 # three layers at least, whatever the dock
        self.list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.list.setToolTip("Kept edits, applied top to bottom. Double-click to rename, drag to reorder, "
                             "right-click to change how an edit is made.")
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.buttons = {}
        row = QHBoxLayout()
        row.setSpacing(2)
        for key, icon, tip in (
            ("new", "mdi6.plus-circle-outline", "New edit: the prompt panel makes a fresh draft"),
            ("up", "mdi6.arrow-up", "Move up"), ("down", "mdi6.arrow-down", "Move down"),
            ("delete", "mdi6.delete-outline", "Delete the selected edit (Del)"),
            ("save", "mdi6.content-save-outline", "Save the stack as a recipe (JSON)"),
            ("apply", "mdi6.file-import-outline", "Apply a recipe to this face"),
        ):
            b = QToolButton()
            b.setIcon(qta.icon(icon))
            b.setToolTip(tip)
            row.addWidget(b)
            self.buttons[key] = b
            if key == "delete":
                row.addStretch(1)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("Opacity of the selected layer: fades its edit without changing its α")
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(36)
        fade = QHBoxLayout()
        fade.addWidget(QLabel("Opacity"))
        fade.addWidget(self.opacity, 1)
        fade.addWidget(self.opacity_value)
        self.draft = QLabel()
        self.draft.setWordWrap(True)
        self.draft.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(fade)
        layout.addWidget(self.draft)
        layout.addLayout(row)

        self.buttons["new"].clicked.connect(self._deselect)
        self.buttons["up"].clicked.connect(lambda: self._move(-1))
        self.buttons["down"].clicked.connect(lambda: self._move(1))
        self.buttons["delete"].clicked.connect(self.delete_selected)
        self.buttons["save"].clicked.connect(self.save_recipe_requested)
        self.buttons["apply"].clicked.connect(self.apply_recipe_requested)
        self.list.itemChanged.connect(self._item_changed)
        self.list.currentRowChanged.connect(self._row_changed)
        self.list.model().rowsMoved.connect(self._rows_moved)
        self.opacity.valueChanged.connect(lambda v: self._opacity(v, not self.opacity.isSliderDown()))
        self.opacity.sliderReleased.connect(lambda: self._opacity(self.opacity.value(), True))
        self._sync_buttons()

    # -- state -> widget ---------------------------------------------------------------------
    def set_steps(self, steps, active: int | None) -> None:
        if list(steps) == self._steps and active == self.active() and self.list.count() == len(self._steps):
            return                                   # unchanged (a slider drag): keep the items
        self._updating = True
        self._steps = list(steps)
        self.list.clear()
        for i, step in enumerate(self._steps):
            item = QListWidgetItem(self._text(step))
            item.setData(_INDEX, i)
            item.setData(_STRENGTH, self.strength_text(step))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
            item.setCheckState(Qt.CheckState.Checked if step.enabled else Qt.CheckState.Unchecked)
            item.setIcon(self._icon(step))
            name = self._text(step)         # the list may elide it: the tooltip says it whole
            item.setToolTip((f"{name}\n" if name != step.prompt else "")
                            + f"{step.prompt}" + (f" (neutral: {step.neutral})" if step.neutral else "")
                            + f"\nα {step.alpha:+.1f}, β {step.beta:.3f}, layers {step.layers}, opacity {step.opacity:.0%}"
                            + f"\nmethod: {step.method_label}"
                            + ("\npainted region" if step.mask else ""))
            self.list.addItem(item)
        self.list.setCurrentRow(active if active is not None else -1)
        self._updating = False
        self._sync_buttons()

    def set_picture(self, image: np.ndarray | None, masks: dict) -> None:
        """The last rendered picture, for the layers' thumbnails."""
        self._picture = None if image is None else (np.asarray(image), dict(masks))
        for row, step in enumerate(self._steps):
            if row < self.list.count():
                self.list.item(row).setIcon(self._icon(step))

    def _icon(self, step: EditStep) -> QIcon:
        if self._picture is None:
            pixmap = qta.icon("mdi6.brush" if step.mask else "mdi6.format-text").pixmap(THUMB, THUMB)
        else:
            image, masks = self._picture
            mask = masks.get(step.mask) if step.mask else None
            pixmap = QPixmap.fromImage(to_qimage(thumbnail(image, mask, step.enabled)))
        return QIcon(_badged(pixmap, step.method))

    def set_draft(self, step: EditStep | None) -> None:
        """Show the prompt panel's edit that is applied but not kept yet."""
        if step is None:
            self.draft.setText("Type a prompt to try an edit; Add edit (Ctrl+Enter) keeps it here."
                               if not self._steps else "")
        else:
            self.draft.setText(f"Trying “{step.prompt}” (α {step.alpha:+.1f}): Add edit (Ctrl+Enter) keeps it.")
        self.draft.setVisible(bool(self.draft.text()))

    @staticmethod
    def _text(step: EditStep) -> str:
        return step.label

    @staticmethod
    def strength_text(step: EditStep) -> str:
        """Shown after a layer's name: its α, its opacity when below 100 % and its method unless
        it is global directions (the default)."""
        return (f"α {step.alpha:+.1f}" + (f" · {step.opacity:.0%}" if step.opacity < 1 else "")
                + (f" · {step.method_label}" if step.method != "directions" else ""))

    def method_menu(self, row: int) -> QMenu:
        """The right-click menu of layer ``row``: its method (checked), the other two, and reading
        its text as an instruction through the universal mapper."""
        menu = QMenu(self)
        step = self._steps[row]
        for method in METHODS:
            again = method == step.method and method in STORED      # made again for this face
            action = menu.addAction(AGAIN[method] if again else MAKE_WITH.get(method, f"Make with {METHOD_LABELS[method]}"))
            action.setCheckable(not again)
            action.setChecked(method == step.method and not again)
            action.triggered.connect(lambda _=False, m=method: self.method_requested.emit(row, m))
        return menu

    def _context_menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is not None:
            self.method_menu(self.list.row(item)).exec(self.list.viewport().mapToGlobal(pos))

    def active(self) -> int | None:
        row = self.list.currentRow()
        return row if row >= 0 else None

    # -- widget -> signals -------------------------------------------------------------------
    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._updating:
            return
        i = self.list.row(item)
        step = self._steps[item.data(_INDEX)]
        name = item.text().strip()
        new = step.with_(enabled=item.checkState() == Qt.CheckState.Checked,
                         name="" if name in ("", step.prompt) else name)
        if new != step:
            steps = list(self._steps)
            steps[i] = new
            self.steps_changed.emit(steps, self.active())

    def _opacity(self, value: int, final: bool) -> None:
        self.opacity_value.setText(f"{value}%")
        row = self.active()
        if row is not None and not self._updating:
            self.opacity_changed.emit(row, value / 100, final)

    def _row_changed(self, row: int) -> None:
        self._sync_buttons()
        if not self._updating:
            self.selected.emit(row if row >= 0 else None)

    def _rows_moved(self, *args) -> None:
        if self._updating:
            return
        order = [self.list.item(r).data(_INDEX) for r in range(self.list.count())]
        steps = [self._steps[i] for i in order]
        self.steps_changed.emit(steps, self.active())

    def _move(self, delta: int) -> None:
        row = self.active()
        if row is None or not (0 <= row + delta < len(self._steps)):
            return
        steps = list(self._steps)
        steps[row], steps[row + delta] = steps[row + delta], steps[row]
        self.steps_changed.emit(steps, row + delta)

    def delete_selected(self) -> None:
        row = self.active()
        if row is None:
            return
        steps = [s for i, s in enumerate(self._steps) if i != row]
        self.steps_changed.emit(steps, None)

    def _deselect(self) -> None:
        self.list.setCurrentRow(-1)
        self.list.clearSelection()

    def _sync_buttons(self) -> None:
        row = self.active()
        self.buttons["up"].setEnabled(row is not None and row > 0)
        self.buttons["down"].setEnabled(row is not None and row < len(self._steps) - 1)
        self.buttons["delete"].setEnabled(row is not None)
        self.buttons["save"].setEnabled(bool(self._steps))
        self.opacity.setEnabled(row is not None)
        self.opacity.blockSignals(True)
        self.opacity.setValue(round(self._steps[row].opacity * 100) if row is not None and row < len(self._steps) else 100)
        self.opacity.blockSignals(False)
        self.opacity_value.setText(f"{self.opacity.value()}%" if row is not None else "")

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Delete:
            self.delete_selected()
        else:
            super().keyPressEvent(event)
