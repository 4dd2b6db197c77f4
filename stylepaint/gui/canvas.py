"""The canvas: shows the rendered image with fit/zoom/pan, before/after and a split view,
paints region masks with a brush and eraser (size, hardness, opacity) shown as a quick-mask
overlay in a colour that stands out from the picture, overlays the "what changed" heat map, and
offers "Add to favorites" on right-click. Overlays belong to the edited picture: in the split
view they stay off its "before" half."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QMenu, QWidget

from stylepaint import masks as maskgen

TOOLS = ("view", "brush", "eraser")
MASK_SIZE = 256
_HEAT_STOPS = np.array([[0, 0, 0, 0], [40, 0, 120, 90], [200, 30, 80, 170], [255, 160, 0, 210], [255, 255, 160, 240]], np.float32)


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage that owns a copy of an RGB or RGBA uint8 array."""
    array = np.ascontiguousarray(array, np.uint8)
    h, w, c = array.shape
    fmt = QImage.Format.Format_RGB888 if c == 3 else QImage.Format.Format_RGBA8888
    return QImage(array.data, w, h, w * c, fmt).copy()


def heat_rgba(heat: np.ndarray) -> np.ndarray:
    """Map a [H, W] change map to a translucent RGBA overlay (scaled to its own maximum)."""
    heat = np.asarray(heat, np.float32)
    top = float(heat.max()) if heat.size else 0.0
    t = np.clip(heat / top, 0, 1) if top > 0 else np.zeros_like(heat)
    pos = t * (len(_HEAT_STOPS) - 1)
    i = np.minimum(pos.astype(int), len(_HEAT_STOPS) - 2)
    f = (pos - i)[..., None]
    return (_HEAT_STOPS[i] * (1 - f) + _HEAT_STOPS[i + 1] * f).astype(np.uint8)


def mask_rgba(mask: np.ndarray, colour=(40, 200, 255)) -> np.ndarray:
    m = np.clip(np.asarray(mask, np.float32), 0, 1)
    rgba = np.zeros(m.shape + (4,), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 2] = colour
    rgba[..., 3] = (m * 110).astype(np.uint8)
    return rgba


class Canvas(QWidget):
    add_favorite_requested = Signal()
    mask_painted = Signal(object)          # the whole mask (float32 [H, W]) after a stroke
    split_changed = Signal(float)
    brush_changed = Signal(float, float, float)   # radius, hardness, opacity after [ or ]
    zoom_changed = Signal(float)                   # percent: screen pixels per 100 image pixels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(240, 240)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.image: np.ndarray | None = None
        self._qimage: QImage | None = None
        self._before: QImage | None = None
        self._heat: QImage | None = None
        self._mask_img: QImage | None = None
        self.mask: np.ndarray | None = None
        self.logical_size = 0                 # full resolution; previews are drawn at this size
        self.tool = "view"
        self.brush_radius = 0.06              # fraction of the image width
        self.brush_hardness = 0.5             # 0 = soft edge .. 1 = hard edge
        self.brush_opacity = 1.0              # how far one stroke moves the mask
        self.overlay_colour = maskgen.OVERLAY_COLOURS[0]
        self._stroke_base: np.ndarray | None = None   # the mask before the stroke being painted
        self._stroke: np.ndarray | None = None        # that stroke's coverage
        self.compare = "off"                  # off | before | split
        self.split = 0.5
        self.show_heatmap = False
        self.show_mask = True
        self.empty_title = "No model loaded"
        self.empty_hint = "Open a checkpoint (Ctrl+O) or pick one in Models…"
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fit = True
        self._drag = None                     # ("pan", start, offset) | ("paint", last) | ("split",)
        self._hover = None
        self.extra_actions: list[QAction] = []
        self.action_favorite = QAction("Add to favorites", self)
        self.action_favorite.setShortcut(QKeySequence("Ctrl+D"))
        self.action_favorite.triggered.connect(self.add_favorite_requested)

    # -- content -----------------------------------------------------------------------------
    def set_image(self, image: np.ndarray | None, logical_size: int | None = None) -> None:
        self.image = None if image is None else np.asarray(image)
        self._qimage = None if image is None else to_qimage(self.image)
        if image is not None:
            self.logical_size = int(logical_size or max(self.image.shape[:2]))
            colour = maskgen.contrast_colour(self.image)
            if colour != self.overlay_colour:
                self.overlay_colour = colour
                self._mask_img = None if self.mask is None else to_qimage(mask_rgba(self.mask, colour))
        if self._fit:
            self._apply_fit()
        self.update()

    def set_before(self, image: np.ndarray | None) -> None:
        self._before = None if image is None else to_qimage(image)
        self.update()

    def set_heatmap(self, heat: np.ndarray | None) -> None:
        self._heat = None if heat is None else to_qimage(heat_rgba(heat))
        self.update()

    def set_mask(self, mask: np.ndarray | None) -> None:
        if mask is None and self.mask is None:
            return
        if mask is not None and self.mask is not None and mask.shape == self.mask.shape and np.array_equal(mask, self.mask):
            return
        self.mask = None if mask is None else np.array(mask, np.float32)
        self._mask_img = None if self.mask is None else to_qimage(mask_rgba(self.mask, self.overlay_colour))
        self.update()

    def set_overlay(self, on: bool) -> None:
        self.show_mask = bool(on)
        self.update()

    def set_brush(self, radius: float, hardness: float, opacity: float) -> None:
        self.brush_radius = float(np.clip(radius, 0.005, 0.5))
        self.brush_hardness = float(np.clip(hardness, 0.0, 1.0))
        self.brush_opacity = float(np.clip(opacity, 0.01, 1.0))
        self.update()

    def resize_brush(self, factor: float) -> None:
        """``[`` and ``]``: a smaller or larger brush (within 0.5 % .. 50 % of the width)."""
        self.set_brush(self.brush_radius * factor, self.brush_hardness, self.brush_opacity)
        self.brush_changed.emit(self.brush_radius, self.brush_hardness, self.brush_opacity)

    def blank_mask(self) -> np.ndarray:
        """An empty mask at the size strokes paint at."""
        size = min(self.logical_size or (self.image.shape[0] if self.image is not None else MASK_SIZE), MASK_SIZE)
        return np.zeros((size, size), np.float32)

    def set_empty(self, title: str, hint: str = "") -> None:
        self.empty_title, self.empty_hint = title, hint
        self.update()

    def set_tool(self, tool: str) -> None:
        assert tool in TOOLS, tool
        self.tool = tool
        self.setCursor(Qt.CursorShape.BlankCursor if tool != "view" else Qt.CursorShape.ArrowCursor)
        self.update()

    def set_compare(self, mode: str) -> None:
        self.compare = mode
        self.update()

    # -- view --------------------------------------------------------------------------------
    def image_rect(self) -> QRectF:
        size = self.logical_size or 1
        return QRectF(self._offset.x(), self._offset.y(), size * self._scale, size * self._scale)

    def _apply_fit(self) -> None:
        size = self.logical_size or 1
        margin = 16
        self._scale = max(min((self.width() - margin) / size, (self.height() - margin) / size), 0.01)
        self._offset = QPointF((self.width() - size * self._scale) / 2, (self.height() - size * self._scale) / 2)
        self.zoom_changed.emit(self.zoom_percent())

    def zoom_percent(self) -> float:
        return self._scale * 100.0

    def fit(self) -> None:
        self._fit = True
        self._apply_fit()
        self.update()

    def zoom(self, factor: float, anchor: QPointF | None = None) -> None:
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        new_scale = min(max(self._scale * factor, 0.05), 64.0)
        f = new_scale / self._scale
        self._offset = anchor + (self._offset - anchor) * f
        self._scale = new_scale
        self._fit = False
        self.zoom_changed.emit(self.zoom_percent())
        self.update()

    def actual_size(self) -> None:
        self.zoom(1.0 / self._scale)

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        size = self.logical_size or 1
        r = self.image_rect()
        return ((pos.x() - r.x()) / r.width() * size, (pos.y() - r.y()) / r.height() * size)

    # -- painting ----------------------------------------------------------------------------
    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().window().color().darker(115))
        if self._qimage is None:
            self._paint_empty(p)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._fit or self._scale * self.logical_size < 4 * max(self.width(), 1))
        r = self.image_rect()
        shown = self._before if (self.compare == "before" and self._before is not None) else self._qimage
        p.drawImage(r, shown)
        after = r                             # where overlays of the edited picture may go
        if self.compare == "split" and self._before is not None:
            x = r.x() + r.width() * self.split
            p.save()
            p.setClipRect(QRectF(r.x(), r.y(), x - r.x(), r.height()))
            p.drawImage(r, self._before)
            p.restore()
            after = QRectF(x, r.y(), r.right() - x, r.height())
            p.setPen(QPen(QColor(255, 255, 255, 220), 2))
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()))
            p.setBrush(QColor(255, 255, 255, 220))
            p.drawEllipse(QPointF(x, r.center().y()), 6, 6)
            self._label(p, QPointF(r.x() + 8, r.y() + 8), "before")
            self._label(p, QPointF(r.right() - 52, r.y() + 8), "after")
        elif self.compare == "before":
            self._label(p, QPointF(r.x() + 8, r.y() + 8), "before")
        showing_before = self.compare == "before" and self._before is not None
        p.save()
        p.setClipRect(after)
        if self.show_heatmap and self._heat is not None and not showing_before:
            p.drawImage(r, self._heat)
        if (self.show_mask and self._mask_img is not None and not showing_before
                and (self.tool != "view" or self.mask.max() > 0)):
            p.drawImage(r, self._mask_img)
        p.restore()
        if self.tool != "view" and self._hover is not None:
            radius = self.brush_radius * r.width()
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.setPen(QPen(QColor(0, 0, 0, 160), 3))
            p.drawEllipse(self._hover, radius, radius)
            p.setPen(QPen(QColor(255, 255, 255) if self.tool == "brush" else QColor(255, 120, 120), 1.5))
            p.drawEllipse(self._hover, radius, radius)

    def _label(self, p: QPainter, at: QPointF, text: str) -> None:
        p.save()
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 140))
        p.drawRoundedRect(QRectF(at.x(), at.y(), 46, 20), 4, 4)
        p.setPen(QColor(255, 255, 255))
        p.drawText(QRectF(at.x(), at.y(), 46, 20), Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    def _paint_empty(self, p: QPainter) -> None:
        p.setPen(self.palette().text().color())
        font = p.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        p.setFont(font)
        top = QRectF(0, self.height() / 2 - 40, self.width(), 36)
        p.drawText(top, Qt.AlignmentFlag.AlignCenter, self.empty_title)
        font.setPointSizeF(font.pointSizeF() / 1.5)
        p.setFont(font)
        p.setPen(self.palette().placeholderText().color())
        p.drawText(QRectF(20, self.height() / 2, self.width() - 40, 60),
                   Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap, self.empty_hint)

    # -- input -------------------------------------------------------------------------------
    def resizeEvent(self, event):
        if self._fit:
            self._apply_fit()
        super().resizeEvent(event)

    def wheelEvent(self, event):
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom(1.15 ** steps, event.position())

    def _near_split(self, pos: QPointF) -> bool:
        r = self.image_rect()
        return self.compare == "split" and abs(pos.x() - (r.x() + r.width() * self.split)) < 8 and r.contains(pos)

    def mousePressEvent(self, event):
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self.tool == "view" and not self._near_split(pos)
        ):
            self._drag = ("pan", pos, QPointF(self._offset))
        elif event.button() == Qt.MouseButton.LeftButton and self._near_split(pos):
            self._drag = ("split",)
        elif event.button() == Qt.MouseButton.LeftButton and self.tool in ("brush", "eraser") and self._qimage is not None:
            self.begin_stroke(self.to_image(pos))
            self._drag = ("paint", self.to_image(pos))
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event):
        pos = event.position()
        self._hover = pos
        if self._drag and self._drag[0] == "pan":
            self._offset = self._drag[2] + (pos - self._drag[1])
            self._fit = False
        elif self._drag and self._drag[0] == "split":
            r = self.image_rect()
            self.split = float(np.clip((pos.x() - r.x()) / max(r.width(), 1), 0, 1))
            self.split_changed.emit(self.split)
        elif self._drag and self._drag[0] == "paint":
            here = self.to_image(pos)
            self.continue_stroke(self._drag[1], here)
            self._drag = ("paint", here)
        elif self.tool == "view":
            shape = Qt.CursorShape.SplitHCursor if self._near_split(pos) else Qt.CursorShape.ArrowCursor
            self.setCursor(shape)
        self.update()

    def mouseReleaseEvent(self, event):
        if self._drag and self._drag[0] == "paint":
            self.end_stroke()
        self._drag = None

    def leaveEvent(self, event):
        self._hover = None
        self.update()

    # strokes (also driven directly by tests)
    def begin_stroke(self, xy: tuple[float, float]) -> None:
        """Start painting at image pixel ``xy``. Masks are kept at most MASK_SIZE square (the
        renderer resizes them per block), so a long undo history of strokes stays small."""
        blank = self.blank_mask()
        if self.mask is None or self.mask.shape != blank.shape:
            self.mask = blank
        self._stroke_base, self._stroke = self.mask.copy(), np.zeros_like(self.mask)
        self.continue_stroke(xy, xy)

    def continue_stroke(self, a: tuple[float, float], b: tuple[float, float]) -> None:
        k = self.mask.shape[1] / max(self.logical_size or self.mask.shape[1], 1)
        radius = self.brush_radius * self.mask.shape[1]
        if self._stroke is None or self._stroke.shape != self.mask.shape:
            self._stroke_base, self._stroke = self.mask.copy(), np.zeros_like(self.mask)
        maskgen.stroke(self._stroke, (a[0] * k, a[1] * k), (b[0] * k, b[1] * k), radius, 1.0, self.brush_hardness)
        self.mask = maskgen.apply_stroke(self._stroke_base, self._stroke, 1.0 if self.tool == "brush" else 0.0,
                                         self.brush_opacity)
        self._mask_img = to_qimage(mask_rgba(self.mask, self.overlay_colour))
        self.update()

    def end_stroke(self) -> None:
        self._stroke_base = self._stroke = None
        if self.mask is not None:
            self.mask_painted.emit(self.mask.copy())

    # -- context menu ------------------------------------------------------------------------
    def context_menu(self) -> QMenu:
        menu = QMenu(self)
        self.action_favorite.setEnabled(self._qimage is not None)
        menu.addAction(self.action_favorite)
        for action in self.extra_actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
        return menu

    def contextMenuEvent(self, event):
        self.context_menu().exec(event.globalPos())
