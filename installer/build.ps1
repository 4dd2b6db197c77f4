# Build the stylepaint folder bundle on Windows: dist\stylepaint\stylepaint.exe and stylepaint-gui.exe.
# Usage (PowerShell, repository root or anywhere):  installer\build.ps1 [-Cpu]
param([switch]$Cpu)
$ErrorActionPreference = "Stop"
Set-Location (Join-Path $PSScriptRoot "..")
py -3.11 -m venv build\venv
& build\venv\Scripts\Activate.ps1
python -m pip install --upgrade pip
if ($Cpu) {
  python -m pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
  $env:STYLEPAINT_BUNDLE_CPU = "1"   # the spec leaves CUDA libraries out and checks torch is CPU-only
}
python -m pip install . "pyinstaller>=6.3"
pyinstaller --noconfirm --clean --distpath dist --workpath build\pyinstaller installer\pyinstaller.spec
dist\stylepaint\stylepaint.exe --help | Out-Null
dist\stylepaint\stylepaint.exe models list
Write-Host "built: dist\stylepaint\"
