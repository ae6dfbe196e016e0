#!/usr/bin/env python
"""Build the demo incident: four camera files and their ground truth.

    python sample_media/generate.py [--out sample_media/generated] [--seed 7] [--force]

Idempotent: when the output folder already holds the incident for this generator version,
seed and duration (every file present with its recorded SHA-256), it does nothing and says so
in well under a second. See sample_media/README.md and the README section "The demo incident".
"""
from __future__ import annotations

import argparse
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "generated"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="generate.py",
        description="Build the synthetic demo incident (two body cams, a dash cam, an infrared "
                    "helicopter feed) and truth.json. Does nothing when it is already up to date.")
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                    help="output folder (default: sample_media/generated)")
    ap.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    ap.add_argument("--duration", type=float, default=90.0,
                    help="incident length in seconds, 80-1200 (default: 90)")
    ap.add_argument("--fast", action="store_true",
                    help="smaller, lower-rate video (320x180, 15 fps); the same audio and truth times")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    ap.add_argument("--workers", type=int, default=None,
                    help="parallel render processes (default: up to 2)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = ap.parse_args(argv)

    if str(ROOT) not in sys.path:  # run from a checkout without installing
        sys.path.insert(0, str(ROOT))
    from media_core.errors import MediaCoreError
    from sample_media.incident import build_incident, incident_up_to_date, load_truth

    def say(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    try:
        if not args.force and incident_up_to_date(args.out, seed=args.seed, duration_s=args.duration,
                                                  fast=args.fast):
            say(f"demo incident up to date in {args.out} (seed {args.seed}); nothing to do")
            return 0
        say(f"building the demo incident in {args.out} (seed {args.seed}, {args.duration:g} s)...")
        truth_path = build_incident(args.out, seed=args.seed, duration_s=args.duration, fast=args.fast,
                                    force=args.force, workers=args.workers, progress=lambda m: say("  " + m))
    except MediaCoreError as e:
        print(f"generate.py: {e}", file=sys.stderr)
        return 2
    if args.out.resolve() == DEFAULT_OUT.resolve():
        ignore = args.out / ".gitignore"
        if not ignore.exists():  # generated media never go into the repository
            ignore.write_text("*\n", encoding="utf-8")
    truth = load_truth(truth_path)
    inc = truth["incident"]
    say(f"done in {time.perf_counter() - t0:.1f} s: {inc['shot_count']} shots "
        f"({', '.join(f'{k} {v}' for k, v in inc['shots_by_shooter'].items())}), truth in {truth_path}")
    for f in truth["feeds"]:
        say(f"  {f['file']:<18} {f['size_bytes'] / 1e6:5.1f} MB  {f['duration_s']:6.2f} s  "
            f"{'audio' if f['has_audio'] else 'no audio'}  {len(f['mutes'])} mute(s)  "
            f"{f['shot_count'] if f['has_audio'] else len(f['flashes'])} "
            f"{'shots' if f['has_audio'] else 'flashes'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
