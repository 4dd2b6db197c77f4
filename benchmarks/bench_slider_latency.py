"""Slider-to-pixels latency of the editor on CPU: p50 / p95 milliseconds from moving the α
slider to the new picture being on the canvas (window offscreen, real render worker thread).

    python benchmarks/bench_slider_latency.py                     # the embedded default model
    python benchmarks/bench_slider_latency.py --model tests/data/checkpoints/sg2ada-64px.pkl
    python benchmarks/bench_slider_latency.py --synthetic config-f-1024 --preview-size 128   # issue 19

Text directions: the model's built ones when they are cached; otherwise (or with
--random-directions) random unit relevance rows with a tiny random CLIP, which cost the same
per frame (the edit is a matrix-vector product and a shift) but mean nothing.
--synthetic ARCH saves a generator of a published architecture with random weights
(benchmarks/bench_engine.py) to a temporary file and times that (random directions).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parent.parent


def percentile(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint; default: the embedded default model")
    parser.add_argument("--clip", default=None, help="CLIP spec; default: the model's pairing")
    parser.add_argument("--frames", type=int, default=40, help="slider moves to time (each waits for its picture)")
    parser.add_argument("--random-directions", action="store_true", help="use random directions and a tiny CLIP")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--synthetic", default=None, help="a published architecture with random weights "
                                                          "(config-f-1024, config-f-256, small)")
    parser.add_argument("--preview-size", type=int, default=None, help="the editor's preview size while dragging")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    os.environ.setdefault("STYLEPAINT_HOME", tempfile.mkdtemp(prefix="stylepaint-bench-"))
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import torch

    from stylepaint.engine.render import Renderer
    from stylepaint.errors import StylepaintError
    from stylepaint.favorites import FavoritesStore
    from stylepaint.gui.main_window import MainWindow
    from stylepaint.gui.settings import Settings
    from stylepaint.gui.worker import RenderWorker

    torch.set_num_threads(args.threads or max(torch.get_num_threads(), 1))
    if args.synthetic:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from bench_engine import synthetic

        from stylepaint.engine.checkpoints import save_generator

        args.model = str(Path(os.environ["STYLEPAINT_HOME"]) / f"{args.synthetic}.safetensors")
        save_generator(synthetic(args.synthetic, "cpu"), args.model)
        args.random_directions = True
    renderer, clip = Renderer(build_directions=False), args.clip
    try:
        G = renderer.generator(args.model, args.device)
    except StylepaintError as exc:
        print(f"cannot load the model: {exc}\n(time another model with --model FILE)")
        return 2
    use_random = args.random_directions
    if not use_random:
        try:
            renderer.editor(G, clip)
        except StylepaintError as exc:
            print(f"note: {exc}; timing with random directions instead")
            use_random = True
    if use_random:
        sys.path.insert(0, str(REPO / "tests"))
        from gui_support import make_engine

        renderer, clip = make_engine(Path(G.source_path), Path(tempfile.mkdtemp()))
        renderer.generator(G.source_path, args.device)
    home = Path(os.environ["STYLEPAINT_HOME"])
    settings = Settings(home / "bench.json")
    settings["device"] = args.device
    if args.preview_size is not None:
        settings["preview_size"] = args.preview_size
    worker = RenderWorker(render_fn=renderer.render)
    window = MainWindow(model=G.source_path if args.model else None, clip=clip, worker=worker, settings=settings,
                        store=FavoritesStore(home / "favorites"))
    window.resize(1200, 800)
    window.show()

    shown = {}
    window.controller.image_shown.connect(lambda r: shown.__setitem__(
        (r["args"]["edits"] or [{}])[0].get("alpha"), (time.perf_counter(), r)))

    def wait_for(alpha, timeout=120.0):
        end = time.perf_counter() + timeout
        while alpha not in shown and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.0005)
        return shown.get(alpha)

    panel = window.prompt_panel
    panel.target.setEditText("curly hair")
    panel.target.lineEdit().returnPressed.emit()
    if wait_for(0.0) is None:
        print("no first picture:", window.message_bar.text())
        return 1
    slider = panel.alpha.slider

    def run(dragging: bool, frames: int):
        latencies, render_ms = [], []
        slider.setSliderDown(dragging)
        for i in range(frames):
            ticks = (i % 2 * 2 - 1) * (10 + i)          # alternate sides so each frame differs
            alpha = ticks / panel.alpha.per_unit
            shown.pop(alpha, None)
            t0 = time.perf_counter()
            slider.setValue(ticks)
            got = wait_for(alpha)
            if got is None:
                raise SystemExit(f"no picture for alpha {alpha}: {window.message_bar.text()}")
            latencies.append((got[0] - t0) * 1e3)
            render_ms.append(got[1]["timings"])
        slider.setSliderDown(False)
        return latencies, render_ms

    run(True, 3)                                          # warm-up
    meta = window.controller.result["metadata"]
    print(f"model {Path(str(meta['model'])).name} ({meta['resolution']} px), device {meta['device']}, "
          f"torch threads {torch.get_num_threads()}, directions {'random' if use_random else 'built'}")
    for label, dragging in (("while dragging (preview when smaller)", True), ("on release (full size)", False)):
        lat, ren = run(dragging, args.frames if dragging else max(3, args.frames // 4))
        size = window.controller.result["image"].shape[0]
        part = {k: statistics.median(t.get(k, 0.0) for t in ren) for k in ("total_ms", "edit_ms", "synthesis_ms")}
        print(f"{label:40s} {size:5d} px  slider-to-pixels p50 {statistics.median(lat):7.1f} ms  "
              f"p95 {percentile(lat, 0.95):7.1f} ms   (render alone p50 {part['total_ms']:6.1f} ms: edit "
              f"{part['edit_ms']:.1f}, synthesis {part['synthesis_ms']:.1f})", flush=True)
    from stylepaint.gui import unsaved_dialog

    unsaved_dialog.ask = lambda parent, name: "discard"   # the timed edits are not kept: no question on close
    window.close()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
