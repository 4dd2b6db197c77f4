"""Issue 16: the Linux menu entry and its installer script (the bundle itself is built by
benchmarks/bench_installer.py, not in CI: it takes many minutes)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess

from conftest import REPO

LINUX = REPO / "installer" / "linux"


def read_entry(path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str   # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_names_the_editor_and_an_icon_that_exists():
    entry = read_entry(LINUX / "stylepaint.desktop")
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == "stylepaint-gui"
    assert (LINUX / f"{entry['Icon']}.png").is_file() and (LINUX / f"{entry['Icon']}.svg").is_file()
    assert entry["Categories"].endswith(";")
    assert (LINUX / "stylepaint.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_install_desktop_points_the_entry_at_the_unpacked_folder(tmp_path):
    bundle = tmp_path / "unpacked here" / "stylepaint"   # a space in the path, as users have
    bundle.mkdir(parents=True)
    for name in ("stylepaint.desktop", "stylepaint.png", "stylepaint.svg", "install-desktop.sh"):
        shutil.copy2(LINUX / name, bundle / name)
    data = tmp_path / "xdg-data"
    out = subprocess.run(["bash", str(bundle / "install-desktop.sh")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "XDG_DATA_HOME": str(data)})
    assert out.returncode == 0, out.stderr
    entry = read_entry(data / "applications" / "stylepaint.desktop")
    assert entry["Exec"] == f'"{bundle}/stylepaint-gui"'
    assert entry["TryExec"] == f"{bundle}/stylepaint-gui"
    assert (data / "icons" / "hicolor" / "256x256" / "apps" / "stylepaint.png").is_file()
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "stylepaint.svg").is_file()
