"""``evidence-audit export review|clip CASE ...``: the review video and clips, with a signed manifest."""
from __future__ import annotations

import argparse
import sys
import time

from .common import error_line, finite_float, print_json, safe_text, warning_line


def _time(text: str) -> float:
    """Argparse ``type=``: seconds (``47.5``) or ``[-][H:]MM:SS[.mmm]`` on the shared clock."""
    s = text.strip()
    neg = s.startswith("-")
    body = s[1:] if neg else s
    if ":" in body:
        try:
            parts = [float(p) for p in body.split(":")]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a time: {text!r}") from None
        if len(parts) > 3 or any(p < 0 for p in parts):
            raise argparse.ArgumentTypeError(f"not a time: {text!r}")
        v = 0.0
        for p in parts:
            v = v * 60 + p
        return -v if neg else v
    return finite_float(s)


def _size(text: str) -> tuple[int, int]:
    named = {"360p": (640, 360), "480p": (854, 480), "540p": (960, 540), "720p": (1280, 720), "1080p": (1920, 1080)}
    if text in named:
        return named[text]
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size is WxH (e.g. 1280x720) or one of {', '.join(named)}") from None
    return w, h


def _feeds(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"feeds are ids separated by commas, e.g. 1,3 (got {text!r})") from None


def register(esub: argparse._SubParsersAction) -> None:
    from media_core.export.review_video import LAYOUTS

    r = esub.add_parser("review", help="one MP4 with every chosen feed side by side on the shared clock",
                        description="Tiles decoded frame-exactly on the shared clock, slates where a feed has no "
                                    "footage, the shared and wall clocks, mute badges, shot markers and annotation "
                                    "captions burned in; audio from one feed or a mix. Writes OUT/NAME.mp4, its "
                                    "FFmpeg log and a signed manifest.json, and records the export in the case's "
                                    "audit log.")
    r.add_argument("case", metavar="CASE")
    r.add_argument("--out", required=True, metavar="DIR", help="folder to write (created; must not hold an export)")
    r.add_argument("--start", type=_time, metavar="T",
                   help="shared-clock start (s or H:MM:SS.mmm); default: first feed")
    r.add_argument("--end", type=_time, metavar="T", help="shared-clock end; default: last feed end")
    r.add_argument("--feeds", type=_feeds, metavar="IDS", help="feed ids, e.g. 1,3 (default: all)")
    r.add_argument("--layout", choices=LAYOUTS, default="grid", help="grid, or main: one large feed over the others")
    r.add_argument("--main", type=int, metavar="ID", help="the large feed of --layout main (default: the reference)")
    r.add_argument("--size", type=_size, default=(1280, 720), metavar="WxH", help="e.g. 1280x720 (default) or 1080p")
    r.add_argument("--fps", type=finite_float, help="output frame rate (default: the fastest feed's)")
    r.add_argument("--audio", metavar="IDS|none", help="feed(s) heard; several are mixed (default: the reference)")
    r.add_argument("--wall-zone", default="UTC", metavar="ZONE",
                   help="UTC (default) or an IANA zone, e.g. Europe/Berlin")
    r.add_argument("--name", metavar="NAME", help="file name (sanitised; default review_<shared range>)")
    r.add_argument("--allow-changed", action="store_true",
                   help="export even from an original whose SHA-256 changed (the manifest records it)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=run_review)

    c = esub.add_parser("clip", help="clips of a shared-clock range, one file per feed",
                        description="fast: stream copy cut at the keyframes around the range (says how far); exact: "
                                    "frame-accurate re-encode. Each clip is named after its feed and shared range.")
    c.add_argument("case", metavar="CASE")
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--start", type=_time, required=True, metavar="T")
    c.add_argument("--end", type=_time, required=True, metavar="T")
    c.add_argument("--feeds", type=_feeds, metavar="IDS", help="feed ids (default: all)")
    c.add_argument("--mode", choices=("fast", "exact"), default="exact")
    c.add_argument("--allow-changed", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_clip)


class _Progress:
    """Progress with ETA on stderr: a bar on a terminal, otherwise a line every few seconds."""

    def __init__(self, what: str):
        self.what = what
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if self.tty:
            sys.stderr.write(f"\r{self.what}: {100 * fraction:5.1f}%  {safe_text(message)[:90]:<90}")
            sys.stderr.flush()
        elif now - self.last > 5.0 or fraction >= 1.0:
            self.last = now
            sys.stderr.write(f"{self.what}: {100 * fraction:.0f}% {safe_text(message)}\n")

    def done(self) -> None:
        if self.tty:
            sys.stderr.write("\r" + " " * 110 + "\r")


def _report(result, args) -> int:
    if args.json:
        print_json({"kind": result.kind, "folder": result.folder, "outputs": result.outputs,
                    "manifest": result.manifest, "manifest_sha256": result.manifest_sha256, "notes": result.notes,
                    "stats": {k: v for k, v in result.stats.items() if k != "tiles"}})
        return 0
    for p in result.outputs:
        print(f"wrote {safe_text(p)}")
    print(f"wrote {safe_text(result.manifest)} (signed; check with: evidence-audit verify {safe_text(result.folder)})")
    for n in result.notes:
        print(f"note: {safe_text(n)}")
    return 0


def run_review(args) -> int:
    from media_core.case.store import Case
    from media_core.export.review_video import ReviewOptions, export_review

    audio = None
    if args.audio is not None:
        audio = [] if args.audio.strip().lower() == "none" else _feeds(args.audio)
    opts = ReviewOptions(feeds=args.feeds, start_s=args.start, end_s=args.end, layout=args.layout,
                         main_feed=args.main, size=args.size, fps=args.fps, audio=audio, wall_zone=args.wall_zone,
                         allow_changed=args.allow_changed, name=args.name)
    bar = _Progress("review video")
    with Case.open(args.case) as case:
        try:
            result = export_review(case, args.out, opts, progress=bar)
        finally:
            bar.done()
    for n in result.notes:
        if "font" in n:
            warning_line(n)
    return _report(result, args)


def run_clip(args) -> int:
    from media_core.case.store import Case
    from media_core.export.clips import ClipOptions, export_clips

    opts = ClipOptions(start_s=args.start, end_s=args.end, feeds=args.feeds, mode=args.mode,
                       allow_changed=args.allow_changed)
    bar = _Progress("clips")
    with Case.open(args.case) as case:
        try:
            result = export_clips(case, args.out, opts, progress=bar)
        finally:
            bar.done()
    if args.mode == "fast" and not args.json:
        print("fast clips are stream copies cut at keyframes, not at the exact range:", file=sys.stderr)
    return _report(result, args)


__all__ = ["register", "run_review", "run_clip", "error_line"]
