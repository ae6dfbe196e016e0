"""The bundle's size and its largest parts: ``python packaging/sizes.py BUNDLE_DIR [--top N] [--json]``.

A part is a top-level entry of ``_internal/`` (a package folder such as ``scipy`` or
``PySide6``, a ``*.libs`` folder of vendored libraries) or an executable; loose shared
libraries at the top of ``_internal/`` (libpython, OpenSSL, ...) are summed as one part.
Used by ``build.sh`` and ``benchmarks/bench_bundle.py``; needs only the standard library.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def tree_size(path: Path) -> int:
    if path.is_symlink():
        return 0
    if path.is_file():
        return path.stat().st_size
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def parts(bundle: str | os.PathLike) -> dict:
    """Total bytes and bytes per part, largest first."""
    bundle = Path(bundle)
    internal = bundle / "_internal"
    sizes: dict[str, int] = {}
    for entry in sorted(bundle.iterdir()):
        if entry.name != "_internal":
            sizes[entry.name + ("/" if entry.is_dir() else "")] = tree_size(entry)
    loose = 0
    for entry in sorted(internal.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            sizes["_internal/" + entry.name + "/"] = tree_size(entry)
        else:
            loose += tree_size(entry)
    sizes["_internal/* (loose libraries, base_library.zip)"] = loose
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    return {"total_bytes": sum(sizes.values()), "parts": [{"part": k, "bytes": v} for k, v in ranked]}


def format_parts(res: dict, top: int = 10) -> str:
    lines = [f"bundle: {res['total_bytes'] / 1e6:.0f} MB unpacked; the {top} largest parts:"]
    for p in res["parts"][:top]:
        lines.append(f"  {p['bytes'] / 1e6:8.1f} MB  {p['part']}")
    rest = sum(p["bytes"] for p in res["parts"][top:])
    lines.append(f"  {rest / 1e6:8.1f} MB  the other {max(0, len(res['parts']) - top)} parts")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = parts(args.bundle)
    print(json.dumps(res, indent=1) if args.json else format_parts(res, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
