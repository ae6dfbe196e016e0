#!/usr/bin/env bash
# Smoke check of a built desktop bundle, run with NO Python reachable: PATH is a private folder
# holding only the shell tools this script calls, PYTHONPATH and PYTHONHOME are empty, and HOME,
# the signing key and the caches are in a temporary folder.
#
#   packaging/smoke.sh BUNDLE_DIR [--reference ANALYZE.json]
#
# 1. evidence-audit --version                      (prints the source tree's version)
# 2. evidence-audit analyze --json on the demo incident (sample_media/generated/*.mp4): identical
#    to the source install's result (.venv/bin/evidence-audit, or --reference), paths aside
# 3. evidence-audit demo (sample_media inside the bundle builds, analyses and syncs the demo case)
# 4. evidence-audit verify on that case            (exit 0: intact)
# 5. evidence-audit-gui offscreen: opens the demo case, saves a screenshot, quits cleanly (exit 0)
# Prints the time of each step; exit 0 only if all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
[ $# -ge 1 ] || { echo "usage: $0 BUNDLE_DIR [--reference ANALYZE.json]" >&2; exit 2; }
B=$(cd "$1" && pwd)
ref=""
[ "${2:-}" = "--reference" ] && ref=$3
T=$(mktemp -d /tmp/evidence-audit-smoke.XXXXXX)
trap 'rm -rf "$T"' EXIT
t_all=$(date +%s.%N)
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
fail() { echo "[smoke] FAIL: $*" >&2; exit 1; }

# the clean room: only these tools, none of them Python
mkdir -p "$T/bin" "$T/home"
for tool in bash sh env cat ls mkdir rm cp date timeout stat head tail grep; do
  p=$(command -v "$tool") || fail "$tool missing"
  ln -s "$p" "$T/bin/$tool"
done
clean() {
  env -i PATH="$T/bin" HOME="$T/home" PYTHONPATH= PYTHONHOME= LANG=C.UTF-8 \
      EVIDENCE_AUDIT_KEY_DIR="$T/keys" XDG_CACHE_HOME="$T/home/.cache" XDG_CONFIG_HOME="$T/home/.config" \
      XDG_RUNTIME_DIR="$T/run" QT_QPA_PLATFORM=offscreen "$@"
}
mkdir -p "$T/run" && chmod 700 "$T/run"
clean bash -c 'command -v python3 || command -v python' >/dev/null 2>&1 && fail "python is reachable in the clean room"

demo=(sample_media/generated/bodycam_A.mp4 sample_media/generated/bodycam_B.mp4
      sample_media/generated/dashcam.mp4 sample_media/generated/helicopter_ir.mp4)
for f in "${demo[@]}"; do [ -f "$f" ] || fail "$f missing (run: python sample_media/generate.py)"; done

# 1. version
t=$(now)
want="evidence-audit $(sed -n 's/^__version__ = "\(.*\)"/\1/p' media_core/__init__.py)"
got=$(clean "$B/evidence-audit" --version) || fail "--version exited non-zero"
[ "$got" = "$want" ] || fail "--version printed '$got', expected '$want'"
echo "[smoke] 1/5 --version: $got ($(took "$t"))" >&2

# 2. analyze: the same JSON as the source install
t=$(now)
clean "$B/evidence-audit" analyze --json "${demo[@]}" >"$T/frozen.json" 2>"$T/frozen.err" \
  || { tail -5 "$T/frozen.err" >&2; fail "frozen analyze exited non-zero"; }
frozen_s=$(took "$t")
if [ -z "$ref" ]; then
  [ -x .venv/bin/evidence-audit ] || fail "no source install (.venv) to compare with: pass --reference ANALYZE.json"
  .venv/bin/evidence-audit analyze --json "${demo[@]}" >"$T/source.json" 2>/dev/null || fail "source analyze failed"
  ref="$T/source.json"
fi
PYBIN=.venv/bin/python
[ -x "$PYBIN" ] || PYBIN=packaging/.venv-build/bin/python
"$PYBIN" packaging/compare_json.py "$ref" "$T/frozen.json" || fail "frozen analyze differs from the source install"
echo "[smoke] 2/5 analyze on the demo incident: identical to the source install (frozen run $frozen_s)" >&2

# 3. the demo case, built by the bundle's own sample_media
t=$(now)
(cd "$T" && clean "$B/evidence-audit" demo --out "$T/demo" >"$T/demo.out" 2>"$T/demo.err") \
  || { tail -5 "$T/demo.err" >&2; fail "evidence-audit demo exited non-zero"; }
[ -f "$T/demo/demo.evcase/case.sqlite" ] || fail "demo made no case"
grep -q "Incident shots" "$T/demo.out" || fail "demo printed no incident shots"
echo "[smoke] 3/5 demo: $(grep 'Incident shots' "$T/demo.out") ($(took "$t"))" >&2

# 4. verify the case
t=$(now)
clean "$B/evidence-audit" verify "$T/demo/demo.evcase" >"$T/verify.out" 2>&1 \
  || { tail -5 "$T/verify.out" >&2; fail "verify did not find the demo case intact"; }
echo "[smoke] 4/5 verify: intact ($(took "$t"))" >&2

# 5. the app, offscreen: open the case, screenshot, quit
t=$(now)
rc=0
clean timeout 180 "$B/evidence-audit-gui" "$T/demo/demo.evcase" --screenshot "$T/shot.png" --quit-after 3 \
  >"$T/gui.out" 2>"$T/gui.err" || rc=$?
[ $rc = 0 ] || { tail -8 "$T/gui.err" >&2; fail "the app exited with $rc"; }
[ -f "$T/shot.png" ] || fail "the app saved no screenshot"
size=$(stat -c %s "$T/shot.png")
[ "$size" -gt 20000 ] || fail "the screenshot is only $size bytes"
[ -n "${SMOKE_KEEP_SCREENSHOT:-}" ] && cp "$T/shot.png" "$SMOKE_KEEP_SCREENSHOT"
echo "[smoke] 5/5 app offscreen: case opened, screenshot $size bytes, clean exit ($(took "$t"))" >&2
echo "[smoke] bundle $B passed in $(took "$t_all")" >&2
