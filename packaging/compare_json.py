"""Compare two ``analyze --json`` documents, paths and timings aside: ``compare_json.py A.json B.json``.

Keys that name where a file is or how long something took (``path``, ``file``, ``elapsed_s``,
``wall_s``, ``timings``) are dropped before the comparison; every other value must be equal
(floats exactly: the bundle runs the same code on the same libraries). Prints the first
differences and exits 1 when there are any. Used by ``smoke.sh``.
"""
from __future__ import annotations

import json
import sys

SKIP = {"path", "paths", "file", "elapsed_s", "wall_s", "timings", "decode_s", "seconds_wall"}


def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in SKIP}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x


def diff(a, b, where="$", out=None):
    out = [] if out is None else out
    if type(a) is not type(b):
        out.append(f"{where}: {a!r} != {b!r}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'the first' if k in a else 'the second'}")
            else:
                diff(a[k], b[k], f"{where}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{where}[{i}]", out)
    elif a != b:
        out.append(f"{where}: {a!r} != {b!r}")
    return out


def main(argv: list[str]) -> int:
    a, b = (strip(json.load(open(p))) for p in argv[:2])
    d = diff(a, b)
    for line in d[:20]:
        print(line, file=sys.stderr)
    if d:
        print(f"{len(d)} difference(s)", file=sys.stderr)
        return 1
    n = len(a.get("feeds", [])) if isinstance(a, dict) else 0
    print(f"identical ({n} feeds, paths and timings aside)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
