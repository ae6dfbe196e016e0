"""Review-video export speed and frame-exactness: three 720p30 feeds of 60 s with drifting clocks.

    .venv/bin/python benchmarks/bench_export.py [--duration 60] [--repeat 1] [--no-check]

Generates three 1280x720 30 fps H.264 + AAC feeds whose frames carry their frame number
(``sample_media.frame_code``) into ``benchmarks/_work/export/`` (once), puts them in a case with
drifting clocks (+180 ppm and -240 ppm, offsets 0.437 s and -0.861 s), and times in the same run:

* the baseline: a plain FFmpeg transcode of one feed (same binary, libx264 veryfast crf 20 + AAC);
* the review video of the three feeds (grid, 1280x720, 30 fps, audio mix of two feeds).

Then it decodes the whole review video, reads every tile's frame number and counts the tiles that
do not show the frame the case's clocks put on screen at that output frame's shared time.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORK = ROOT / "benchmarks" / "_work" / "export"


def make_feeds(duration: float) -> list[Path]:
    from sample_media.frame_code import write_coded_feed

    WORK.mkdir(parents=True, exist_ok=True)
    out = []
    sr = 48000
    for j, tint in enumerate([(40, 90, 160), (160, 60, 40), (60, 150, 60)]):
        p = WORK / f"feed{j}_{int(duration)}s.mp4"
        if not p.exists():
            t = np.arange(int(duration * sr)) / sr
            y = (0.1 * np.sin(2 * np.pi * (300 + 150 * j) * t)).astype(np.float32)
            tmp = p.with_suffix(".tmp.mp4")
            write_coded_feed(tmp, fps=30.0, duration_s=duration, size=(1280, 720), tint=tint, audio=y, sr=sr)
            os.replace(tmp, p)
        out.append(p)
    return out


def check_frames(case_path: Path, folder: Path) -> tuple[int, int, int]:
    """(tiles checked, slates, mismatches) over every output frame."""
    import json

    import av

    from media_core.case.store import Case
    from media_core.case.timeline import build_timeline
    from sample_media.frame_code import read_code

    man = json.loads((folder / "manifest.json").read_text())
    vid = next(o for o in man["outputs"] if o["role"] == "video")
    num, den = (int(x) for x in vid["fps"].split("/"))
    fps = num / den
    with Case.open(case_path) as case:
        tl = build_timeline(case)
        meta = {f.id: (case.feed(f.id).fps, case.feed(f.id).probe["video"]["frames"]) for f in tl.feeds}
    start = vid["shared_range"][0]
    checked = slates = bad = 0
    with av.open(str(folder / vid["file"])) as c:
        for k, fr in enumerate(c.decode(video=0)):
            img = fr.to_ndarray(format="rgb24")
            T = start + k / fps
            for t in vid["tiles"]:
                f = tl.feed(t["feed_id"])
                x, y, w, h = t["pic"]
                ffps, nfr = meta[f.id]
                e = (f.clock.to_media(T) + 1e-6) * ffps  # 1 µs: the export's rule for rounded timestamps
                want = math.floor(e) if 0 <= e < nfr else None
                slates += want is None
                checked += 1
                bad += read_code(img[y:y + h, x:x + w]) != want
    return checked, slates, bad


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("EVIDENCE_AUDIT_KEY_DIR", str(WORK / "keys"))

    from media_core.case.store import Case
    from media_core.clock import Clock
    from media_core.export.ffmpeg import ffmpeg_exe
    from media_core.export.review_video import ReviewOptions, export_review

    t = time.monotonic()
    feeds = make_feeds(args.duration)
    print(f"feeds ready in {time.monotonic() - t:.1f} s: {[p.name for p in feeds]}")
    cp = WORK / "bench.evcase"
    shutil.rmtree(cp, ignore_errors=True)
    with Case.create(cp) as case:
        ids = [case.add_feed(p, kind="bodycam", label=f"Camera {j + 1}").id for j, p in enumerate(feeds)]
        case.reference_feed_id = ids[0]
        case.set_clock(ids[1], Clock(0.437, 180.0), method="manual", confidence=1.0)
        case.set_clock(ids[2], Clock(-0.861, -240.0), method="manual", confidence=1.0)
    rows = []
    for r in range(args.repeat):
        base_out = WORK / "baseline.mp4"
        t0, c0 = time.monotonic(), os.times()
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(feeds[0]), "-c:v", "libx264",
                        "-preset", "veryfast", "-crf", "20", "-c:a", "aac", "-b:a", "160k", str(base_out)], check=True)
        c1 = os.times()
        base = time.monotonic() - t0
        base_cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
        out = WORK / f"review_{r}"
        shutil.rmtree(out, ignore_errors=True)
        load0 = os.getloadavg()[0]
        t0, c0 = time.monotonic(), os.times()
        with Case.open(cp) as case:
            export_review(case, out, ReviewOptions(start_s=0.0, end_s=args.duration, size=(1280, 720),
                                                         audio=[ids[0], ids[1]]))
        c1 = os.times()
        el = time.monotonic() - t0
        cpu = (c1.user + c1.system + c1.children_user + c1.children_system) - (c0.user + c0.system + c0.children_user
                                                                                 + c0.children_system)
        rows.append((r, base, base_cpu, el, cpu, load0, os.getloadavg()[0], out))
    print(f"\n{os.cpu_count()} cores; {args.duration:g} s of video; review = 3 tiles 720p30 -> 1280x720 30 fps, "
          "x264 veryfast crf 20, AAC mix of 2 feeds")
    print("| run | baseline transcode of 1 feed (wall / CPU) | review export (wall / CPU) | x real time | "
          "vs baseline (wall) | load avg before-after |")
    print("|---|---|---|---|---|---|")
    for r, base, base_cpu, el, cpu, l0, l1, _ in rows:
        print(f"| {r} | {base:.1f} s / {base_cpu:.1f} s | {el:.1f} s / {cpu:.1f} s | {args.duration / el:.2f}x | "
              f"{el / base:.2f}x | {l0:.1f}-{l1:.1f} |")
    if not args.no_check:
        t0 = time.monotonic()
        checked, slates, bad = check_frames(cp, rows[-1][-1])
        print(f"\nframe check: {checked} tile frames ({slates} slates) over {checked // 3} output frames: "
              f"{bad} mismatches ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
