#!/usr/bin/env python3
"""Train the shipped gunshot model (issue 9) and record it in media_core/analysis/models/MODELS.json.

Fits only on sources whose licence allows shipping something derived from them
(``benchmarks/shot_data.py``: ``shippable=True``): our generated families a and b, and the real
recordings under CC BY 4.0 or WTFPL, as they are and re-rendered. Validation-only sources
(GPL, non-commercial, research-only, unlicensed) are never read here.

The real recordings live in ``../shared/real_media``; without them the model is fitted on the
generated families alone (and says so in its metadata).

Usage::

    .venv/bin/python scripts/train_shot_model.py [--version shots-model-2.1.2] [--scale 1.0]

Takes a few minutes on 2 cores (candidate tables are cached in benchmarks/_work/shotdata/).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import shot_data as sd  # noqa: E402
import shot_fit as sf  # noqa: E402

from media_core.analysis.shot_model import DEFAULT_MODEL, MODEL_DIR  # noqa: E402


def shippable_tables(scale: float = 1.0, workers: int = 2) -> dict[str, list[dict]]:
    out = {}
    for name, src in sd.SOURCES.items():
        if not src.shippable or not src.fit:
            continue
        n = int(round(src.n_default * scale)) if src.n_default else None
        tabs = sd.tables(name, n, workers=workers)
        if tabs:
            out[name] = tabs
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--version", default="shots-model-2.1.2")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the number of generated clips")
    ap.add_argument("--out", default=str(MODEL_DIR / DEFAULT_MODEL))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--confident", type=float, default=sf.CONFIDENT,
                    help="probability at which a shot counts (chosen on the leave-one-family-out folds)")
    a = ap.parse_args(argv)
    tabs = shippable_tables(a.scale, a.workers)
    sources = {name: {"family": sd.SOURCES[name].family, "licence": sd.SOURCES[name].licence,
                      "clips": len(t), "candidates": int(sum(x["t"].size for x in t))} for name, t in tabs.items()}
    meta = {"version": a.version, "trained": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "sources": sources, "hyperparameters": sf.HGB,
            "real_media": sd.REAL.is_dir(), "threshold_confident": a.confident, "threshold_possible": sf.POSSIBLE}
    model, blob = sf.fit(tabs, meta)
    out = pathlib.Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    sha = hashlib.sha256(blob).hexdigest()
    reg_path = MODEL_DIR / "MODELS.json"
    if out.resolve().parent == MODEL_DIR:
        reg = json.loads(reg_path.read_text("utf-8")) if reg_path.is_file() else {}
        reg[out.name] = {"sha256": sha, "version": a.version, "trained": meta["trained"],
                         "bytes": len(blob), "sources": sorted(sources)}
        reg_path.write_text(json.dumps(reg, indent=2, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {out} ({len(blob) / 1024:.0f} KiB, sha256 {sha[:16]}...), "
          f"{model.meta['training_rows']} candidates of which {model.meta['training_shots']} shots, "
          f"from {len(sources)} sources")
    for name, s in sources.items():
        print(f"  {name:<22} family {s['family']}  {s['clips']:>5} clips {s['candidates']:>7} candidates  {s['licence']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
