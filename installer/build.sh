#!/usr/bin/env bash
# Build the stylepaint folder bundle on Linux or macOS: dist/stylepaint/ (and dist/Stylepaint.app on macOS).
# Usage: installer/build.sh [--cpu]   (--cpu installs the CPU-only torch wheel first: a much smaller bundle)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv build/venv
source build/venv/bin/activate
python -m pip install --upgrade pip
if [[ "${1:-}" == "--cpu" && "$(uname)" == "Linux" ]]; then
  python -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
fi
python -m pip install . "pyinstaller>=6.3"
pyinstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller installer/pyinstaller.spec
# Smoke test the frozen programs: the CLI starts, sees its resources, and the catalogue loads.
dist/stylepaint/stylepaint --help > /dev/null
dist/stylepaint/stylepaint models list
echo "built: dist/stylepaint/"
