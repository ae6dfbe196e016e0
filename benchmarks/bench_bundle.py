"""Desktop bundle: start-to-window time and size, against the source install in the same run.

    python benchmarks/bench_bundle.py [BUNDLE_DIR] [--runs 3] [--case CASE.evcase]

Start to a shown window: ``evidence-audit-gui --screenshot PNG --quit-after 0`` offscreen; the
app shows its window, and once nothing is pending it waits 300 ms, grabs the window and prints
``screenshot:``. Start-to-shown is the time to that line minus those 300 ms (an upper bound:
it includes the grab and PNG write). The baseline is the source install (``.venv/bin/python -m
audit_gui.app``) run the same way, interleaved, so both see the same machine load. Also prints
the bundle's size and its ten largest parts (packaging/sizes.py). Target: < 3 s on 2 cores.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))
import sizes  # noqa: E402

GRAB_DELAY_S = 0.3


def start_to_window(cmd: list[str], env: dict, extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "w.png")
        t0 = time.perf_counter()
        p = subprocess.Popen([*cmd, *extra, "--screenshot", png, "--quit-after", "0"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        shown = None
        for line in p.stdout:
            if line.startswith("screenshot:") and shown is None:
                shown = time.perf_counter() - t0 - GRAB_DELAY_S
        rc = p.wait(timeout=120)
        if rc != 0 or shown is None:
            raise SystemExit(f"{cmd[0]} exited {rc} without a screenshot")
        return shown


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("bundle", nargs="?", help="default: the newest packaging/dist/evidence-audit-*/")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--case", help="open this case too (default: the empty window)")
    args = ap.parse_args()
    bundle = args.bundle or max((d for d in glob.glob(str(ROOT / "packaging/dist/evidence-audit-*")) if os.path.isdir(d)),
                                key=os.path.getmtime, default=None)
    if not bundle:
        raise SystemExit("no bundle: run packaging/build.sh first")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    extra = [args.case] if args.case else []
    frozen_cmd = [os.path.join(bundle, "evidence-audit-gui")]
    source_cmd = [str(ROOT / ".venv/bin/python"), "-m", "audit_gui.app"]
    have_source = os.path.exists(source_cmd[0])
    frozen, source = [], []
    for _ in range(args.runs):
        frozen.append(start_to_window(frozen_cmd, env, extra))
        if have_source:
            source.append(start_to_window(source_cmd, {**env, "PYTHONPATH": str(ROOT)}, extra))
    res = sizes.parts(bundle)
    print(f"bundle: {bundle}")
    print(f"cores: {os.cpu_count()}, runs: {args.runs}, window: {'the case ' + args.case if args.case else 'empty'}")
    print(f"{'start to shown window':28s} {'best s':>8s} {'median s':>9s} {'vs source':>10s}")
    med_f = statistics.median(frozen)
    if have_source:
        med_s = statistics.median(source)
        print(f"{'source install (baseline)':28s} {min(source):8.2f} {med_s:9.2f} {1.0:9.2f}x")
        print(f"{'bundle':28s} {min(frozen):8.2f} {med_f:9.2f} {med_f / med_s:9.2f}x")
    else:
        print(f"{'bundle':28s} {min(frozen):8.2f} {med_f:9.2f} {'n/a':>10s}")
    print(f"target < 3 s: {'met' if med_f < 3.0 else 'MISSED'} (median {med_f:.2f} s)")
    print(sizes.format_parts(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
