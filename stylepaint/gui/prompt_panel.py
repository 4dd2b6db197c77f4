"""The prompt panel: target text (with history and vocabulary suggestions), optional neutral
text, the α (strength) and β (disentanglement) sliders, the live count of channels that β
lets the edit move, and how the edit is made (StyleCLIP's three methods: choosing "optimized" or
"mapper" asks the window to run that job; the edit's method changes only when the job succeeds)."""

from __future__ import annotations

import qtawesome as qta
from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QCompleter, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMenu,
    QPushButton, QSlider, QToolButton, QVBoxLayout, QWidget,
)

from stylepaint.edits import LAYER_GROUPS, METHOD_LABELS, METHODS, EditStep

ALPHA_MAX = 10.0
ALPHA_STEPS = 10        # slider ticks per unit of α
BETA_MAX = 0.5
BETA_STEPS = 200        # slider ticks per unit of β


class _SliderRow(QWidget):
    """A slider with a spin box; emits (value, final) - final is False while dragging."""

    changed = Signal(float, bool)

    def __init__(self, lo: float, hi: float, per_unit: int, decimals: int, parent=None):
        super().__init__(parent)
        self.per_unit = per_unit
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(lo * per_unit), round(hi * per_unit))
        self.spin = QDoubleSpinBox()
        self.spin.setRange(lo, hi)
        self.spin.setDecimals(decimals)
        self.spin.setSingleStep(1.0 / per_unit)
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(72)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.slider.sliderReleased.connect(lambda: self.changed.emit(self.value(), True))
        self.spin.valueChanged.connect(self._from_spin)

    def value(self) -> float:
        return round(self.spin.value(), 6)

    def set_value(self, v: float) -> None:
        for w in (self.slider, self.spin):
            w.blockSignals(True)
        self.spin.setValue(v)
        self.slider.setValue(round(v * self.per_unit))
        for w in (self.slider, self.spin):
            w.blockSignals(False)

    def _from_slider(self, ticks: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(ticks / self.per_unit)
        self.spin.blockSignals(False)
        self.changed.emit(self.value(), not self.slider.isSliderDown())

    def _from_spin(self, v: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(v * self.per_unit))
        self.slider.blockSignals(False)
        self.changed.emit(self.value(), True)


class PromptPanel(QWidget):
    edit_changed = Signal(object, bool)    # EditStep | None, final (False while a slider drags)
    add_requested = Signal()
    method_requested = Signal(str)         # one of edits.METHODS, picked by the user

    METHOD_TIPS = {
        "directions": "Global directions: instant, any prompt, the same change on every face",
        "optimize": "Latent optimizer: best fidelity for this face (seconds to minutes, runs as a job); "
                    "the layer keeps the result",
        "mapper": "Latent mapper: trained once per prompt (minutes, runs as a job), then instant and "
                  "specific to each face",
        "instruction": "Universal mapper: type an instruction (\"make the hair red\", \"take off the glasses\") "
                       "or a description; no training per prompt. The layer is named by how it was understood "
                       "and keeps the result for this face",
    }

    def __init__(self, parent=None):
        super().__init__(parent)
        self._step_name = ""
        self._step_mask = None
        self._step_enabled = True
        self._step_opacity = 1.0
        self._step_made = None               # (prompt, neutral, layers, method, delta) of the shown step
        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target.lineEdit().setPlaceholderText("What to change, e.g. curly hair")
        self.target.lineEdit().setClearButtonEnabled(True)
        self._words = QStringListModel()
        completer = QCompleter(self._words, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.target.setCompleter(completer)
        self.suggest = QToolButton()
        self.suggest.setIcon(qta.icon("mdi6.lightbulb-on-outline"))
        self.suggest.setToolTip("Suggestions from this model's vocabulary")
        self.suggest.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.suggest.setMenu(QMenu(self.suggest))
        self.suggest.setEnabled(False)
        self.neutral = QLineEdit()
        self.neutral.setPlaceholderText("Neutral text (optional), e.g. hair")
        self.neutral.setClearButtonEnabled(True)
        self.alpha = _SliderRow(-ALPHA_MAX, ALPHA_MAX, ALPHA_STEPS, 1)
        self.alpha.setToolTip("α: strength of the edit (negative = the opposite)")
        self.beta = _SliderRow(0.0, BETA_MAX, BETA_STEPS, 3)
        self.beta.setToolTip("β: disentanglement - only channels more relevant than β move")
        self.channels = QLabel("moves – channels")
        self.channels.setObjectName("channelCount")
        self.layers = QComboBox()
        self.layers.addItems(LAYER_GROUPS)
        self.layers.setToolTip("Which layers the edit may move: coarse = shape, fine = colour")
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_LABELS[m], m)
            self.method.setItemData(self.method.count() - 1, self.METHOD_TIPS[m], Qt.ItemDataRole.ToolTipRole)
        self.method.setToolTip("How the prompt becomes an edit; α scales every method the same way")
        self.add_button = QPushButton(qta.icon("mdi6.layers-plus"), "Add edit")
        self.add_button.setShortcut(QKeySequence("Ctrl+Return"))
        self.add_button.setToolTip("Keep this prompt as a layer of the edit stack (Ctrl+Enter)")
        self.reset_button = QToolButton()
        self.reset_button.setIcon(qta.icon("mdi6.restore"))
        self.reset_button.setToolTip("Reset α to 0")
        self.problem = QLabel()
        self.problem.setObjectName("problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d9822b;")
        self.problem.hide()
        self.feedback = QLabel()             # a gentle word on the prompt itself (near neutral, moves nothing)
        self.feedback.setObjectName("promptFeedback")
        self.feedback.setWordWrap(True)
        self.feedback.setStyleSheet("color: palette(placeholder-text); font-style: italic;")
        self.feedback.hide()

        target_row = QHBoxLayout()
        target_row.addWidget(self.target, 1)
        target_row.addWidget(self.suggest)
        form = QFormLayout()
        form.addRow("Target", target_row)
        form.addRow("Neutral", self.neutral)
        form.addRow("α", self.alpha)
        form.addRow("β", self.beta)
        form.addRow("", self.channels)
        form.addRow("Layers", self.layers)
        form.addRow("Method", self.method)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.problem)
        layout.addWidget(self.feedback)
        layout.addLayout(buttons)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(450)
        self._debounce.timeout.connect(lambda: self._emit(True))
        self.target.editTextChanged.connect(lambda _: self._debounce.start())
        self.target.lineEdit().returnPressed.connect(lambda: self._emit(True))
        self.target.activated.connect(lambda _: self._emit(True))
        self.neutral.textChanged.connect(lambda _: self._debounce.start())
        self.alpha.changed.connect(lambda v, final: self._emit(final))
        self.beta.changed.connect(lambda v, final: self._emit(final))
        self.layers.currentTextChanged.connect(lambda _: self._emit(True))
        self.method.activated.connect(self._method_picked)
        self.add_button.clicked.connect(self._add)
        self.reset_button.clicked.connect(lambda: (self.alpha.set_value(0.0), self._emit(True)))

    # -- reading -----------------------------------------------------------------------------
    def current_step(self) -> EditStep | None:
        text = self.target.currentText().strip()
        if not text:
            return None
        neutral, layers = self.neutral.text().strip() or None, self.layers.currentText()
        method, delta = "directions", None
        made = self._step_made
        if made is not None and made[:3] == (text, neutral, layers):
            method, delta = made[3:]             # another prompt drops the optimizer's result
        return EditStep(
            prompt=text, neutral=neutral, alpha=self.alpha.value(),
            beta=self.beta.value(), layers=layers, enabled=self._step_enabled,
            name=self._step_name, mask=self._step_mask, opacity=self._step_opacity, method=method, delta=delta,
        )

    def _method_picked(self, index: int) -> None:
        """A method chosen: the window runs its job; until it succeeds the edit keeps its own."""
        method = self.method.itemData(index)
        self._show_method(self._step_made[3] if self._step_made else "directions")
        self.method_requested.emit(method)

    def _show_method(self, method: str) -> None:
        self.method.blockSignals(True)
        self.method.setCurrentIndex(max(self.method.findData(method), 0))
        self.method.blockSignals(False)
        self.beta.setEnabled(method == "directions")
        self.beta.setToolTip("β: disentanglement - only channels more relevant than β move" if method == "directions"
                             else "β applies to global directions only")

    def _emit(self, final: bool) -> None:
        self._debounce.stop()
        step = self.current_step()
        if step is None and self.alpha.value() != 0:
            self.show_problem("Type what to change first, for example “curly hair”.")
        elif step is not None and self.problem.text().startswith("Type what"):
            self.show_problem("")
        self.edit_changed.emit(step, final)

    def _add(self) -> None:
        if self.current_step() is None:
            self.show_problem("Type what to change first, for example “curly hair”.")
            return
        self.add_requested.emit()

    # -- writing (state -> controls; emits nothing) ------------------------------------------
    def set_edit(self, step: EditStep | None, keep_text: bool = False) -> None:
        self._debounce.stop()
        for w in (self.target, self.neutral, self.layers):
            w.blockSignals(True)
        if step is not None:
            self.target.setEditText(step.prompt)
            self.neutral.setText(step.neutral or "")
            self.layers.setCurrentText(step.layers)
            self.alpha.set_value(step.alpha)
            self.beta.set_value(step.beta)
            self._step_name, self._step_mask, self._step_enabled = step.name, step.mask, step.enabled
            self._step_opacity = step.opacity
            self._step_made = (step.prompt, step.neutral, step.layers, step.method, step.delta)
        else:
            if not keep_text:
                self.target.setEditText("")
                self.neutral.setText("")
            self.alpha.set_value(0.0)
            self._step_name, self._step_mask, self._step_enabled = "", None, True
            self._step_opacity = 1.0
            self._step_made = None
        self._show_method(step.method if step is not None else "directions")
        for w in (self.target, self.neutral, self.layers):
            w.blockSignals(False)

    def set_default_beta(self, beta: float) -> None:
        self.beta.set_value(beta)

    def set_channel_count(self, n: int | None, total: int | None = None) -> None:
        if n is None:
            self.channels.setText("moves – channels")
        else:
            self.channels.setText(f"moves {n} channel{'s' if n != 1 else ''}" + (f" of {total}" if total else ""))

    def set_history(self, items: list[str]) -> None:
        text = self.target.currentText()
        self.target.blockSignals(True)
        self.target.clear()
        self.target.addItems(items)
        self.target.setEditText(text)
        self.target.blockSignals(False)
        self._words.setStringList(list(dict.fromkeys(items + self._vocab_words())))

    def set_vocabulary(self, groups: dict[str, list[str]] | None) -> None:
        """Group -> phrases ("hair colour" -> ["red hair", ...]); None = this model has none."""
        self._vocab = groups or {}
        menu = self.suggest.menu()
        menu.clear()
        for group, words in self._vocab.items():
            sub = menu.addMenu(group.replace("_", " "))
            for word in words:
                sub.addAction(word, lambda w=word: self._suggested(w))
        self.suggest.setEnabled(bool(self._vocab))
        history = [self.target.itemText(i) for i in range(self.target.count())]
        self._words.setStringList(list(dict.fromkeys(history + self._vocab_words())))

    def _vocab_words(self) -> list[str]:
        return [w for words in getattr(self, "_vocab", {}).values() for w in words]

    def _suggested(self, word: str) -> None:
        self.target.setEditText(word)
        self._emit(True)

    def set_feedback(self, text: str) -> None:
        self.feedback.setText(text)
        self.feedback.setVisible(bool(text))

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
