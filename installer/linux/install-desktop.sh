#!/usr/bin/env bash
# Add the stylepaint editor to the desktop's application menu, for this user (no root needed).
# Run it from the unpacked bundle: stylepaint/install-desktop.sh   (build.sh copies it there)
# Undo: rm ~/.local/share/applications/stylepaint.desktop ~/.local/share/icons/hicolor/*/apps/stylepaint.*
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$data/applications" "$data/icons/hicolor/256x256/apps" "$data/icons/hicolor/scalable/apps"
cp "$here/stylepaint.png" "$data/icons/hicolor/256x256/apps/stylepaint.png"
cp "$here/stylepaint.svg" "$data/icons/hicolor/scalable/apps/stylepaint.svg"
sed -e "s#^Exec=stylepaint-gui#Exec=\"$here/stylepaint-gui\"#" -e "s#^TryExec=stylepaint-gui#TryExec=$here/stylepaint-gui#" \
  "$here/stylepaint.desktop" > "$data/applications/stylepaint.desktop"
command -v update-desktop-database > /dev/null && update-desktop-database "$data/applications" || true
echo "added: $data/applications/stylepaint.desktop"
