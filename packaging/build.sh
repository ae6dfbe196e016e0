#!/usr/bin/env bash
# Build the desktop bundle: a one-folder Linux bundle of the app and the CLI (PyInstaller 6), its
# desktop files, and a tarball named with the version and architecture, with its SHA-256.
#
#   packaging/build.sh            -> packaging/dist/evidence-audit-VERSION-linux-ARCH/
#                                    packaging/dist/evidence-audit-VERSION-linux-ARCH.tar.xz (+ .sha256)
#
# PyInstaller lives in its own virtualenv, packaging/.venv-build, made from the same pins as the
# app (pyproject.toml's dependencies and the gui extra), so .venv and .venv-core stay as they are.
# The project itself is NOT installed there: the spec analyses the source tree (packaging data
# files straight from it). Prints the bundle's size, its ten largest parts and the tarball's size.
# Environment: PYTHON (a Python 3.11), NO_TARBALL=1 (skip the tarball), XZ_LEVEL (the tarball's
# xz preset, default 3: 268 MB in about 3 min on 2 loaded cores; 6: 249 MB in about 10 min).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$(date +%s)
PYINSTALLER_PIN="pyinstaller==6.22.3"
HOOKS_PIN="pyinstaller-hooks-contrib==2026.9"
venv=packaging/.venv-build

find_python() {
  for c in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "[build] needs Python 3.11 on PATH (set PYTHON=/path/to/python3.11)" >&2; return 1
}

# 1. the build virtualenv (pinned; reinstalled only when pyproject.toml or the pins change)
if [ ! -x "$venv/bin/python" ]; then
  echo "[build] creating $venv" >&2
  "$(find_python)" -m venv "$venv"
fi
stamp="$venv/.installed-$( { cat pyproject.toml; echo "$PYINSTALLER_PIN $HOOKS_PIN"; } | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "[build] installing the pinned dependencies and $PYINSTALLER_PIN into $venv" >&2
  reqs="$venv/requirements.txt"
  "$venv/bin/python" - >"$reqs" <<'EOF'
import tomllib
p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["gui"]))
EOF
  log="$venv/pip-install.log"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip \
         && "$venv/bin/python" -m pip install --disable-pip-version-check -r "$reqs" "$PYINSTALLER_PIN" "$HOOKS_PIN"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2; echo "[build] pip install failed; full log in $log" >&2; exit 1
  fi
  # the source tree is analysed, never an installed copy
  "$venv/bin/python" -m pip uninstall -y -q evidence-audit >/dev/null 2>&1 || true
  rm -f "$venv"/.installed-*; touch "$stamp"
fi
PY="$venv/bin/python"
export PYTHONPATH="$ROOT" PYTHONDONTWRITEBYTECODE=1
VERSION=$("$PY" -c "from media_core import __version__; print(__version__)")
NAME=$("$PY" -c "
import platform, sys
plat = {'win32': 'windows', 'darwin': 'macos'}.get(sys.platform, 'linux')
m = platform.machine().lower(); arch = {'amd64': 'x86_64', 'arm64': 'aarch64'}.get(m, m)
print(f'evidence-audit-$VERSION-{plat}-{arch}')")

# 3. the demo incident ships in the bundle (so `evidence-audit demo` never runs the generator)
"$PY" sample_media/generate.py >&2

# 4. icons: PNGs rendered from the SVG with Qt's QSvgRenderer
QT_QPA_PLATFORM=offscreen "$PY" packaging/render_icons.py >&2

# 5. PyInstaller (one folder, no UPX); the analysis cache in packaging/build makes rebuilds quicker
echo "[build] PyInstaller: $NAME" >&2
rm -rf "packaging/dist/$NAME"
"$venv/bin/pyinstaller" --noconfirm --log-level WARN --distpath packaging/dist --workpath packaging/build \
  packaging/evidence_audit.spec >&2
B="packaging/dist/$NAME"
[ -x "$B/evidence-audit" ] && [ -x "$B/evidence-audit-gui" ] || { echo "[build] executables missing in $B" >&2; exit 1; }
# symbol tables out of every library that still has one, where that is safe (LOAD segments stay
# aligned, the library still loads); a blanket strip breaks the auditwheel-repaired ones (see the spec)
if [ "$(uname -s)" = Linux ]; then
  "$PY" packaging/strip_libs.py "$B"
fi

# 6. desktop integration: .desktop entry, icons, AppStream metainfo, an installer for the menu
APPID=org.evidenceaudit.EvidenceAudit
install -Dm644 "packaging/desktop/$APPID.desktop" "$B/share/applications/$APPID.desktop"
install -Dm644 "packaging/desktop/$APPID.metainfo.xml" "$B/share/metainfo/$APPID.metainfo.xml"
install -Dm644 packaging/icons/evidence-audit.svg "$B/share/icons/hicolor/scalable/apps/$APPID.svg"
for s in 48 128 256; do
  install -Dm644 "packaging/icons/evidence-audit-$s.png" "$B/share/icons/hicolor/${s}x${s}/apps/$APPID.png"
done
install -m755 packaging/install-desktop.sh "$B/install-desktop.sh"
sed "s/@VERSION@/$VERSION/g" packaging/BUNDLE_README.txt >"$B/README.txt"

missing=""
command -v appstreamcli >/dev/null 2>&1 || missing="$missing appstream"
command -v desktop-file-validate >/dev/null 2>&1 || missing="$missing desktop-file-utils"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "[build] installing$missing with apt-get (metainfo and .desktop validators)" >&2
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      $missing; } >&2 || echo "[build] warning:$missing not installed" >&2
fi
if command -v appstreamcli >/dev/null 2>&1; then
  appstreamcli validate --no-net --explain "$B/share/metainfo/$APPID.metainfo.xml" >&2
else
  echo "[build] warning: appstreamcli missing: metainfo not validated" >&2
fi
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$B/share/applications/$APPID.desktop" >&2
fi

# 7. size: total and the ten largest parts
"$PY" packaging/sizes.py "$B" >&2

# 8. the tarball (xz: gzip -6 leaves it over 300 MB) and its SHA-256
if [ "${NO_TARBALL:-0}" != 1 ]; then
  tarball="packaging/dist/$NAME.tar.xz"
  rm -f "packaging/dist/$NAME".tar.* "packaging/dist/$NAME".tar.*.sha256
  t_tar=$(date +%s)
  tar -C packaging/dist --owner=0 --group=0 --sort=name -cf - "$NAME" | xz -T0 "-${XZ_LEVEL:-3}" >"$tarball"
  (cd packaging/dist && sha256sum "$NAME.tar.xz" >"$NAME.tar.xz.sha256")
  echo "[build] tarball: $tarball ($(( $(stat -c %s "$tarball") / 1000000 )) MB, xz -${XZ_LEVEL:-3} in" \
       "$(( $(date +%s) - t_tar )) s), sha256 $(cut -c1-16 "$tarball.sha256")..." >&2
fi
echo "[build] done in $(( $(date +%s) - t0 )) s: $B" >&2
echo "$B"
