#!/usr/bin/env bash
# Build the stylepaint folder bundle on Linux or macOS: dist/stylepaint/ (and dist/Stylepaint.app on macOS).
# Usage: installer/build.sh [--cpu]
#   --cpu  (Linux) a CPU-only torch in the build environment, so the bundle holds no CUDA libraries
#          (the spec refuses to finish a CPU build that would). torch comes from $TORCH_CPU_INDEX
#          (default: PyTorch's CPU wheel index) or, on a machine without that index, from a local
#          wheel: TORCH_CPU_WHEEL=/path/to/torch-X+cpu-….whl installer/build.sh --cpu
# The build environment is build/venv (kept between builds: a rebuild takes minutes, not a download).
set -euo pipefail
cd "$(dirname "$0")/.."

CPU=0
[[ "${1:-}" == "--cpu" && "$(uname)" == "Linux" ]] && CPU=1

[[ -x build/venv/bin/python ]] || python3 -m venv build/venv
source build/venv/bin/activate
python -m pip install --quiet --upgrade pip

CONSTRAINT=()
if [[ $CPU == 1 ]]; then
  if [[ -n "${TORCH_CPU_WHEEL:-}" ]]; then
    python -m pip install --quiet "$TORCH_CPU_WHEEL"
  else
    python -m pip install --quiet torch torchvision --index-url "${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
  fi
  # Keep exactly that torch: torchvision and open_clip must not replace it with a CUDA build.
  python -c "import torch; assert torch.version.cuda is None, 'not a CPU-only torch: ' + torch.__version__; print('torch==' + torch.__version__)" \
    > build/torch-cpu-constraint.txt
  CONSTRAINT=(-c build/torch-cpu-constraint.txt)
  export STYLEPAINT_BUNDLE_CPU=1
fi
python -m pip install --quiet "${CONSTRAINT[@]}" . "pyinstaller>=6.3"

if [[ $CPU == 1 ]] && ! python -c "import torchvision" 2> /dev/null; then
  # Only with TORCH_CPU_WHEEL: torchvision then comes from PyPI, a CUDA build whose C++ ops cannot
  # load on a CPU-only torch (stylepaint and open_clip use none of them: only transforms). Its
  # import then fails registering fake kernels for nms and qnms, the two ops it registers without
  # the `_has_ops()` guard it uses for all the others; add that guard, in build/venv only.
  tv=$(python -c "import importlib.util as u; print(u.find_spec('torchvision').submodule_search_locations[0])")
  sed -i -E 's/^@torch\.library\.register_fake\("torchvision::(q?nms)"\)/@register_meta("\1")/' "$tv/_meta_registrations.py"
  python -c "import torchvision, open_clip" || { echo "torchvision does not import on this torch" >&2; exit 1; }
fi

pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller installer/pyinstaller.spec

if [[ "$(uname)" == "Linux" ]]; then   # the menu entry and icon travel with the folder
  cp installer/linux/stylepaint.desktop installer/linux/stylepaint.png installer/linux/stylepaint.svg \
     installer/linux/install-desktop.sh dist/stylepaint/
fi

# Smoke test the frozen programs: the CLI starts, finds its packaged resources, and the catalogue loads.
dist/stylepaint/stylepaint --help > /dev/null
dist/stylepaint/stylepaint models list
echo "built: dist/stylepaint/ ($(du -sh dist/stylepaint | cut -f1))"
