"""Take the editor's screenshot (docs/screenshot.png): a few favorites, two stacked edits and
the before/after split, grabbed from the running window.

    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/editor_screenshot.py
    xvfb-run -a -s "-screen 0 1600x1000x24" python benchmarks/editor_screenshot.py --model FILE --out shot.png

Uses the embedded default model with its built directions when they are installed; otherwise
the 64 px fixture checkpoint with random text directions and a tiny random CLIP (the picture
then shows the window, not meaningful edits).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "data" / "checkpoints" / "sg2ada-64px.pkl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint; default: the embedded default, else the fixture")
    parser.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    parser.add_argument("--size", default="1400x900")
    args = parser.parse_args()
    os.environ["STYLEPAINT_HOME"] = tempfile.mkdtemp(prefix="stylepaint-shot-")

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication([])
    app.setStyle("Fusion")
    from stylepaint.engine.render import Renderer
    from stylepaint.errors import StylepaintError
    from stylepaint.favorites import FavoritesStore
    from stylepaint.gui.main_window import MainWindow
    from stylepaint.gui.settings import Settings
    from stylepaint.gui.worker import RenderWorker

    renderer, clip, model = Renderer(build_directions=False), None, args.model
    try:
        renderer.editor(renderer.generator(model, "auto"), None)
    except StylepaintError as exc:
        print(f"note: {exc}\n      using {FIXTURE.name} with random directions")
        sys.path.insert(0, str(REPO / "tests"))
        from gui_support import make_engine

        model = str(FIXTURE)
        renderer, clip = make_engine(FIXTURE, Path(tempfile.mkdtemp()))
    home = Path(os.environ["STYLEPAINT_HOME"])
    worker = RenderWorker(render_fn=renderer.render)
    w = MainWindow(model=model, clip=clip, worker=worker, settings=Settings(home / "s.json"),
                   store=FavoritesStore(home / "favorites"))
    w.resize(*map(int, args.size.split("x")))
    w.show()

    def settle(seconds=0.8):
        end = time.time() + seconds
        while time.time() < end or worker.busy():
            app.processEvents()
            time.sleep(0.01)

    settle(2)
    c, p = w.controller, w.prompt_panel
    for seed in (11, 23, 5):
        c.on_seed(seed)
        settle(0.4)
        w.actions.add_favorite(f"Seed {seed}")
    c.on_seed(3)
    for target, neutral, ticks in (("curly hair", "", 25), ("smiling", "a face", -15)):
        w.edit_stack.buttons["new"].click()
        p.target.setEditText(target)
        p.neutral.setText(neutral)
        p.target.lineEdit().returnPressed.emit()
        settle()
        p.alpha.slider.setValue(ticks)
        settle()
        if target == "curly hair":
            p.add_button.click()
            settle()
    w.action_split.trigger()
    w.canvas.split = 0.45
    w.message_bar.clear()
    settle(1.5)
    w.grab().save(args.out)
    print(f"saved {args.out} ({w.width()}x{w.height()})")
    w.close()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
