"""Build the Linux one-folder app and time it: bundle size, CLI start-up and render, editor start-up.

Not in CI (a build takes many minutes)::

    python benchmarks/bench_installer.py                 # installer/build.sh --cpu, then measure
    python benchmarks/bench_installer.py --no-build      # measure the dist/stylepaint/ already built
    TORCH_CPU_WHEEL=/path/torch-X+cpu.whl python benchmarks/bench_installer.py   # offline build machines

Prints the bundle's size (and its ten largest parts), any CUDA library that slipped in, the wall
time of ``stylepaint --help``, ``stylepaint info`` and ``stylepaint render`` (a PNG, checked), and
the editor's start-up: ``stylepaint-gui --model FIXTURE`` under QT_QPA_PLATFORM=offscreen, timed
until its event loop goes idle (its CPU time stops growing), and required to stay up for 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "dist" / "stylepaint"
FIXTURE = REPO / "tests" / "data" / "checkpoints" / "sg2ada-64px.pkl"
CUDA = re.compile(r"^(nvidia|triton)/|(^|/)lib(cuda|cudart|cublas|cufft|curand|cusolver|cusparse|cudnn|cupti|cufile|nccl|nvrtc|nvjitlink|nvjpeg|nvToolsExt|nvshmem)[^/]*\.so")   # as in installer/pyinstaller.spec


def tree_bytes(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def largest_parts(root: Path, count: int = 10) -> list[tuple[str, int]]:
    inner = root / "_internal"
    parts = [(p.relative_to(root).as_posix(), tree_bytes(p) if p.is_dir() else p.stat().st_size)
             for p in inner.iterdir()]
    return sorted(parts, key=lambda item: -item[1])[:count]


def timed(cmd: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - start, out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def editor_start(env: dict, stay: float = 10.0, idle_window: float = 1.0) -> dict:
    """Seconds until the editor's CPU use over ``idle_window`` drops under 2 %, and whether it is
    still running after ``stay`` seconds."""
    cmd = [str(BUNDLE / "stylepaint-gui"), "--model", str(FIXTURE)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    idle_at = None
    try:
        while time.perf_counter() - start < stay and proc.poll() is None:
            now = time.perf_counter() - start
            samples.append((now, cpu_seconds(proc.pid)))
            old = [s for s in samples if s[0] <= now - idle_window]
            if idle_at is None and old and samples[-1][1] - old[-1][1] < 0.02 * idle_window:
                idle_at = old[-1][0]
            time.sleep(0.1)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    return {"startup_to_idle_s": idle_at, "alive_after_s": stay if alive else None,
            "cpu_s": samples[-1][1] if samples else None, "stderr_tail": err[-2000:]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-build", action="store_true", help="measure the existing dist/stylepaint/")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()

    figures: dict = {}
    if not args.no_build:
        start = time.perf_counter()
        subprocess.run(["nice", "-n", "10", str(REPO / "installer" / "build.sh"), "--cpu"], check=True, cwd=REPO)
        figures["build_s"] = round(time.perf_counter() - start, 1)

    figures["bundle_bytes"] = tree_bytes(BUNDLE)
    figures["bundle_files"] = sum(1 for p in BUNDLE.rglob("*") if p.is_file())
    figures["largest"] = largest_parts(BUNDLE)
    inner = BUNDLE / "_internal"
    figures["cuda_files"] = [p.relative_to(inner).as_posix() for p in inner.rglob("*") if CUDA.search(p.relative_to(inner).as_posix())]

    home = tempfile.mkdtemp(prefix="stylepaint-bench-home-")
    env = {**os.environ, "STYLEPAINT_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
    env.pop("PYTHONPATH", None)
    cli = str(BUNDLE / "stylepaint")
    png = Path(home) / "render.png"
    runs = {"help": [cli, "--help"], "info": [cli, "info", str(FIXTURE)],
            "render": [cli, "render", str(FIXTURE), "--seed", "1", "-o", str(png)],
            "render_again": [cli, "render", str(FIXTURE), "--seed", "2", "-o", str(png)]}
    for name, cmd in runs.items():
        seconds, out = timed(cmd, env)
        if out.returncode != 0:
            print(out.stdout, out.stderr, file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} failed with status {out.returncode}")
        figures[f"{name}_s"] = round(seconds, 2)
    figures["render_png_ok"] = png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figures["editor"] = editor_start(env)

    print(f"bundle: {BUNDLE}  {figures['bundle_bytes'] / 2**20:.0f} MiB in {figures['bundle_files']} files")
    for part, size in figures["largest"]:
        print(f"  {size / 2**20:8.1f} MiB  {part}")
    print(f"CUDA libraries in the bundle: {figures['cuda_files'] or 'none'}")
    for name in runs:
        print(f"stylepaint {name:<13} {figures[f'{name}_s']:6.2f} s")
    print(f"render wrote a PNG: {figures['render_png_ok']}")
    ed = figures["editor"]
    print(f"editor: start-up to idle {ed['startup_to_idle_s']} s; still up after 10 s: {ed['alive_after_s'] is not None}")
    if ed["alive_after_s"] is None:
        print(ed["stderr_tail"], file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0 if figures["render_png_ok"] and ed["alive_after_s"] is not None and not figures["cuda_files"] else 1


if __name__ == "__main__":
    sys.exit(main())
