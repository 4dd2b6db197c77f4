"""Issue 16: the built wheel carries every packaged resource, and an installed wheel finds them,
used from a folder outside the checkout (a fresh virtual environment that reuses this one's
torch, Qt and the rest through --system-site-packages, so it installs in seconds)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import CHECKPOINTS, REPO

pytestmark = pytest.mark.slow

PACKAGE_RESOURCES = REPO / "stylepaint" / "resources"
FIXTURE = CHECKPOINTS / "sg2ada-32px-fp16-clamp.pkl"


def resource_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel`` of a clean copy of the source (an in-tree build/ could hold stale files)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "stylepaint", src / "stylepaint", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(src)], check=True, timeout=300, cwd=out)
    (built,) = out.glob("stylepaint-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> dict:
    """The wheel installed into a new virtual environment; returns its python and a cwd outside the repo."""
    root = tmp_path_factory.mktemp("venv")
    env_dir = root / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)],
                   check=True, timeout=120)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", "--ignore-installed", str(wheel)], check=True, timeout=300)
    work = root / "work"
    work.mkdir()
    return {"dir": env_dir, "python": python, "bin": env_dir / "bin", "cwd": work}


def run_in(venv: dict, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return subprocess.run(list(args), cwd=venv["cwd"], env=env, capture_output=True, text=True, timeout=timeout)


def test_wheel_lists_every_resource_file(wheel):
    expected = resource_files(PACKAGE_RESOURCES)
    assert {"catalogue.json", "clip_models.json", "prompt_templates.json", "clip_configs/portrait-clip.json",
            "models/manifest.json", "portraits/vocabulary.json"} <= expected
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(f for f in expected if f"stylepaint/resources/{f}" not in names)
    assert missing == [], f"not in {wheel.name}: {missing}"


def test_installed_wheel_finds_its_resources_outside_the_checkout(venv):
    code = ("import json, stylepaint, stylepaint.paths as p; "
            "print(json.dumps({'package': stylepaint.__file__, 'resources': str(p.RESOURCES)}))")
    out = run_in(venv, str(venv["python"]), "-c", code)
    assert out.returncode == 0, out.stderr
    where = json.loads(out.stdout)
    assert Path(where["package"]).is_relative_to(venv["dir"]), where   # the wheel's copy, not the checkout's
    resources = Path(where["resources"])
    assert resources.is_relative_to(venv["dir"]), where
    assert resource_files(resources) == resource_files(PACKAGE_RESOURCES)


def test_installed_cli_info_render_and_models_list(venv):
    stylepaint = str(venv["bin"] / "stylepaint")
    info = run_in(venv, stylepaint, "info", str(FIXTURE))
    assert info.returncode == 0, info.stderr
    assert "32" in info.stdout

    png = venv["cwd"] / "fixture.png"
    render = run_in(venv, stylepaint, "render", str(FIXTURE), "--seed", "3", "-o", str(png))
    assert render.returncode == 0, render.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The embedded default: rendered if the wheel's manifest names one, else the one-sentence error.
    manifest = json.loads((PACKAGE_RESOURCES / "models" / "manifest.json").read_text(encoding="utf-8"))
    ships_default = any(isinstance(e, dict) and e.get("role") == "default-generator"
                        for e in manifest.get("files", manifest).values())
    default = run_in(venv, stylepaint, "render", "--seed", "0", "-o", str(venv["cwd"] / "default.png"))
    if ships_default:
        assert default.returncode == 0, default.stderr
    else:
        assert default.returncode == 2 and "no embedded default generator" in default.stderr, default.stderr

    listing = run_in(venv, stylepaint, "models", "list")
    assert listing.returncode == 0, listing.stderr
    assert f"catalogue: {venv['dir']}" in listing.stdout, listing.stdout   # the wheel's own catalogue
    catalogue = json.loads((PACKAGE_RESOURCES / "catalogue.json").read_text(encoding="utf-8"))
    names = [g["name"] for g in catalogue["generators"]]
    assert names and all(name in listing.stdout for name in names), listing.stdout


def test_installed_editor_stays_up_offscreen(venv):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.Popen([str(venv["bin"] / "stylepaint"), "gui", "--model", str(FIXTURE)], cwd=venv["cwd"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(8)
        alive = proc.poll() is None
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert alive, f"the editor exited with {proc.returncode}: {err}"
    assert "Traceback" not in err, err
