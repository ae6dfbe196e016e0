#!/usr/bin/env bash
# Set up everything Evidence Audit needs on a fresh machine with Python 3.11:
# a virtualenv in .venv with the pinned dependencies, and (when Qt cannot start) the system
# libraries Qt needs, from Debian's packages. Idempotent and quick when nothing changed.
# Usage: scripts/setup.sh [--core-only]   (--core-only: no PySide6, to test the Qt-free core)
set -euo pipefail
cd "$(dirname "$0")/.."

core_only=0
[ "${1:-}" = "--core-only" ] && core_only=1

find_python() {
  for c in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "Evidence Audit needs Python 3.11 or newer on PATH (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

venv=.venv
[ $core_only = 1 ] && venv=.venv-core
if [ ! -x "$venv/bin/python" ]; then
  py=$(find_python)
  echo "[setup] creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi

extras="test,test-gui,bench,gui"
[ $core_only = 1 ] && extras="test"
stamp="$venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$extras"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing Python packages (pinned in pyproject.toml) into $venv" >&2
  log="$venv/pip-install.log"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
         && "$venv/bin/python" -m pip install --disable-pip-version-check -e ".[${extras}]"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "[setup] pip install failed; full log in $log" >&2
    exit 1
  fi
  "$venv/bin/python" -c "import media_core, av, numpy, scipy, librosa, cv2" || { echo "[setup] install failed" >&2; exit 1; }
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi

# Qt needs a few system libraries even offscreen (EGL/GL, fontconfig, xkbcommon, glib, dbus).
if [ $core_only = 0 ]; then
  if ! QT_QPA_PLATFORM=offscreen "$venv/bin/python" -c "from PySide6.QtWidgets import QApplication; QApplication([])" >/dev/null 2>&1; then
    pkgs="libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libpulse0 libasound2 fonts-dejavu-core"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null 2>&1; then
      echo "[setup] installing Qt's system libraries with apt-get" >&2
      $sudo apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >&2
    else
      echo "[setup] Qt cannot start and apt-get is not available: install EGL/GL, fontconfig and xkbcommon libraries" >&2
    fi
  fi
fi
echo "$venv"
