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

extras="test,test-gui,bench,gui,cluster"
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
  "$venv/bin/python" -c "import media_core, av, numpy, scipy, PIL.ImageFont" || { echo "[setup] install failed" >&2; exit 1; }
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi

# Qt needs system libraries, and which ones depends on the platform plugin that will really be
# used: offscreen (no screen: ./test, headless ./run) needs EGL/GL, fontconfig, xkbcommon, glib and
# dbus; a desktop session (xcb, or wayland with xcb as Qt's fallback) needs the X11/xcb libraries
# too (libxcb-cursor0 and friends). Check the plugin this machine will use, not only offscreen.
qt_platform() {
  if [ -n "${QT_QPA_PLATFORM:-}" ]; then echo "${QT_QPA_PLATFORM%%:*}"
  elif [ -n "${EVIDENCE_AUDIT_HEADLESS:-}" ]; then echo offscreen
  elif [ -n "${WAYLAND_DISPLAY:-}" ]; then echo wayland
  elif [ -n "${DISPLAY:-}" ]; then echo xcb
  else echo offscreen
  fi
}
qt_starts() {  # can a QApplication start with platform $1?
  # in a child of a child, so that Qt's abort() on a missing plugin prints nothing here
  QT_QPA_PLATFORM="$1" "$venv/bin/python" -c "import subprocess, sys; sys.exit(subprocess.run([sys.executable, '-c', \
'from PySide6.QtWidgets import QApplication; QApplication([])'], capture_output=True, timeout=60).returncode != 0)" \
    >/dev/null 2>&1
}
if [ $core_only = 0 ]; then
  platforms="offscreen"
  case "$(qt_platform)" in
    xcb) platforms="offscreen xcb" ;;
    wayland) platforms="offscreen wayland" ;;
  esac
  for plat in $platforms; do
    qt_starts "$plat" && continue
    pkgs="libgl1 libegl1 libxkbcommon0 libfontconfig1 libfreetype6 libdbus-1-3 libglib2.0-0 libpulse0 libasound2 fonts-dejavu-core"
    [ "$plat" = offscreen ] || pkgs="$pkgs libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1 libx11-xcb1 libwayland-client0 libwayland-cursor0 libwayland-egl1"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null 2>&1; then
      echo "[setup] Qt's '$plat' platform cannot start: installing its system libraries with apt-get" >&2
      $sudo apt-get update -qq >&2 || true
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >&2
    else
      echo "[setup] Qt's '$plat' platform cannot start and apt-get is not available: install EGL/GL, fontconfig, xkbcommon (and for a desktop the xcb) libraries" >&2
    fi
    if ! qt_starts "$plat"; then
      echo "[setup] warning: Qt still cannot start with platform '$plat'; run with QT_DEBUG_PLUGINS=1 to see why" >&2
    fi
  done
fi
# Fonts for text burned into exports (media_core/export/ass.py): DejaVu Sans (Latin, Arabic), Noto Sans CJK
# (Chinese, Japanese, Korean) and Noto Sans Arabic. Installed with apt-get when it is there and they are
# missing; without them exports still work (a fallback font, and one warning line per export).
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] \
   || [ ! -f /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing fonts for exports (fonts-noto-cjk, fonts-noto-core, fonts-dejavu-core) with apt-get" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        fonts-noto-cjk fonts-noto-core fonts-dejavu-core; } >&2 \
      || echo "[setup] warning: fonts not installed: exports will draw CJK/Arabic text with a fallback font" >&2
  else
    echo "[setup] warning: apt-get is not available: install Noto Sans CJK and DejaVu Sans for exports' text" >&2
  fi
fi
# Speech synthesizers for the test speech (sample_media/speech.py: spoken reasons before mutes): espeak-ng and
# flite, two independent engines. Installed with apt-get when it is there and they are missing; without them the
# speech tests and the demo's "Hey, mute" phrase are skipped (and truth.json says so).
if ! command -v espeak-ng >/dev/null 2>&1 || ! command -v flite >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if command -v apt-get >/dev/null 2>&1; then
    echo "[setup] installing speech synthesizers for test speech (espeak-ng, flite) with apt-get" >&2
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        espeak-ng flite; } >&2 \
      || echo "[setup] warning: espeak-ng/flite not installed: the speech tests and the demo's spoken phrase are skipped" >&2
  else
    echo "[setup] warning: apt-get is not available: install espeak-ng and flite for the speech tests" >&2
  fi
fi
echo "$venv"
