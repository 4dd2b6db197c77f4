"""The export dialog: where, in which format (PNG, JPEG, WebP, TIFF), at which scale, and
what (the face as rendered, or the edited photo pasted back full size). It only collects these
and exposes them as properties; the window's actions do the export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QPushButton, QRadioButton, QSpinBox, QVBoxLayout,
)

from stylepaint.gui import file_dialogs
from stylepaint.imagefiles import FORMATS, SCALES, SUFFIXES, format_of

NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "tiff": "TIFF"}
KEEPS = {
    "png": "Lossless. Keeps every setting and the whole document: stylepaint re-creates the picture from it.",
    "jpeg": "Small, lossy. Keeps the settings in EXIF; the whole document does not fit there.",
    "webp": "Small, lossy. Keeps the settings and the whole document in EXIF.",
    "tiff": "Lossless (LZW). Keeps the settings and the whole document in its description.",
}


class ExportDialog(QDialog):
    def __init__(self, path: str, fmt: str = "png", scale: int = 1, photo_name: str | None = None,
                 quality: int = 92, parent=None):
        """``photo_name``: the photo this face was inverted from (None: only the face can be exported)."""
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.path_edit = QLineEdit(str(path))
        self.path_edit.setMinimumWidth(320)
        self.browse = QPushButton("Browse…")
        self.format_box = QComboBox()
        for key in FORMATS:
            self.format_box.addItem(NAMES[key], key)
        self.keeps = QLabel()
        self.keeps.setWordWrap(True)
        self.keeps.setStyleSheet("color: palette(placeholder-text);")
        self.scale_box = QComboBox()
        for k in SCALES:
            self.scale_box.addItem("1× (render size)" if k == 1 else f"{k}× (Lanczos)", k)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(int(quality))
        self.face_choice = QRadioButton("The face, as rendered")
        self.photo_choice = QRadioButton(f"The edited photo, full size ({photo_name})" if photo_name
                                         else "The edited photo, full size")
        self.photo_choice.setEnabled(photo_name is not None)
        if photo_name is None:
            self.photo_choice.setToolTip("Only for a face opened from a photo (File > Open photo…)")
        self._source = QButtonGroup(self)
        self._source.addButton(self.face_choice)
        self._source.addButton(self.photo_choice)
        self.face_choice.setChecked(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)

        where = QHBoxLayout()
        where.addWidget(self.path_edit, 1)
        where.addWidget(self.browse)
        source = QVBoxLayout()
        source.addWidget(self.face_choice)
        source.addWidget(self.photo_choice)
        form = QFormLayout()
        form.addRow("File", where)
        form.addRow("Format", self.format_box)
        form.addRow("", self.keeps)
        form.addRow("Quality", self.quality_spin)
        form.addRow("Scale", self.scale_box)
        form.addRow("Export", source)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

        self.format_box.setCurrentIndex(list(FORMATS).index(fmt if fmt in FORMATS else format_of(path)))
        self.scale_box.setCurrentIndex(SCALES.index(scale) if scale in SCALES else 0)
        self.format_box.currentIndexChanged.connect(self._format_chosen)
        self.path_edit.textEdited.connect(self._path_typed)
        self.browse.clicked.connect(self._browse)
        self.photo_choice.toggled.connect(self._update)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._format_chosen()

    # -- what the dialog collected -------------------------------------------------------------
    @property
    def path(self) -> str:
        return self.path_edit.text().strip()

    @property
    def fmt(self) -> str:
        return self.format_box.currentData()

    @property
    def scale(self) -> int:
        return 1 if self.source == "photo" else int(self.scale_box.currentData())

    @property
    def quality(self) -> int:
        return self.quality_spin.value()

    @property
    def source(self) -> str:
        """'face' or 'photo'."""
        return "photo" if self.photo_choice.isChecked() else "face"

    # -- keeping the controls consistent -------------------------------------------------------
    def _format_chosen(self, _=None) -> None:
        """A new format renames the file's suffix to match."""
        path = self.path
        if path and format_of(path) != self.fmt:
            p = Path(path)
            suffix = p.suffix if p.suffix.lower() in SUFFIXES else ""
            base = str(p)[: len(str(p)) - len(suffix)] if suffix else str(p)
            self.path_edit.setText(base + FORMATS[self.fmt][1])
        self._update()

    def _path_typed(self, text: str) -> None:
        """A typed suffix picks the format."""
        if Path(text.strip()).suffix.lower() in SUFFIXES:
            self.format_box.blockSignals(True)
            self.format_box.setCurrentIndex(list(FORMATS).index(format_of(text.strip())))
            self.format_box.blockSignals(False)
        self._update()

    def _update(self, _=None) -> None:
        self.keeps.setText(KEEPS[self.fmt])
        self.quality_spin.setEnabled(self.fmt in ("jpeg", "webp"))
        self.scale_box.setEnabled(self.source == "face")
        self.scale_box.setToolTip("" if self.source == "face" else "The photo is exported at its own full size")
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(self.path))

    def _browse(self) -> None:
        name = NAMES[self.fmt]
        suffix = FORMATS[self.fmt][1]
        chosen = file_dialogs.save_path(self, "Export as", self.path, f"{name} images (*{suffix});;All files (*)")
        if chosen:
            self.path_edit.setText(chosen)
            self._path_typed(chosen)
