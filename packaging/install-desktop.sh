#!/bin/sh
# Put Evidence Audit in this user's desktop menu (or, with --system, everyone's), from wherever
# this folder was unpacked. Undo with --uninstall. Nothing outside the menu, icon and metainfo
# folders is written; the bundle itself stays where it is.
#   ./install-desktop.sh [--system] [--uninstall]
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
APPID=org.evidenceaudit.EvidenceAudit
PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN="$HOME/.local/bin"
uninstall=0
for a in "$@"; do
  case "$a" in
    --system) PREFIX=/usr/local/share; BIN=/usr/local/bin ;;
    --uninstall) uninstall=1 ;;
    *) echo "usage: $0 [--system] [--uninstall]" >&2; exit 2 ;;
  esac
done
files="applications/$APPID.desktop metainfo/$APPID.metainfo.xml icons/hicolor/scalable/apps/$APPID.svg
icons/hicolor/48x48/apps/$APPID.png icons/hicolor/128x128/apps/$APPID.png icons/hicolor/256x256/apps/$APPID.png"
if [ $uninstall = 1 ]; then
  for f in $files; do rm -f "$PREFIX/$f"; done
  for b in evidence-audit evidence-audit-gui; do [ -L "$BIN/$b" ] && rm -f "$BIN/$b"; done
  echo "removed Evidence Audit from the menu ($PREFIX)"; exit 0
fi
for f in $files; do
  mkdir -p "$(dirname "$PREFIX/$f")"
  cp "$HERE/share/$f" "$PREFIX/$f"
done
# the menu entry starts this folder's executable, wherever it is
sed -i "s|^Exec=.*|Exec=\"$HERE/evidence-audit-gui\" %F|; s|^TryExec=.*|TryExec=$HERE/evidence-audit-gui|" \
  "$PREFIX/applications/$APPID.desktop"
mkdir -p "$BIN"
ln -sf "$HERE/evidence-audit" "$BIN/evidence-audit"
ln -sf "$HERE/evidence-audit-gui" "$BIN/evidence-audit-gui"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$PREFIX/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$PREFIX/icons/hicolor" || true
echo "Evidence Audit is in the menu ($PREFIX/applications/$APPID.desktop); commands linked in $BIN"
