"""Hashing and probing throughput against plain hashlib on the same file, in the same process.

Usage: .venv/bin/python benchmarks/bench_hash_probe.py [--size-mb 512] [FILE ...]

Generates a large H.264/AAC file (cached in benchmarks/_work/) unless FILEs are given, then
prints MB/s for: plain ``hashlib.sha256(f.read())`` over the whole file (the baseline), our
streaming ``sha256_file``, ``probe`` (container + timing scan) and ``Case.add_feed`` (both),
with peak memory of each, and the ratios against the baseline.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"


def make_big_file(size_mb: int) -> Path:
    """A real MP4 of about ``size_mb`` MB: high-bitrate noise video so it is large yet quick to make."""
    import imageio_ffmpeg

    WORK.mkdir(exist_ok=True)
    out = WORK / f"big_{size_mb}MB.mp4"
    if out.exists():
        return out
    secs = max(10, size_mb // 4)  # about 32 Mbit/s
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ff, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=30:duration={secs}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={secs}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "32M", "-minrate", "32M", "-maxrate", "32M",
                    "-bufsize", "64M", "-x264-params", "nal-hrd=cbr:filler=1", "-c:a", "aac", "-shortest", str(out)],
                   check=True)
    return out


def measure(fn) -> tuple[float, float]:
    """(seconds, peak RSS growth in MB) of fn() run in a child process, so peaks don't mix."""
    code = f"""
import resource, time, sys
sys.path.insert(0, {str(HERE.parent)!r})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
{fn}
t0 = time.perf_counter(); run(); dt = time.perf_counter() - t0
print(dt, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--size-mb", type=int, default=512)
    args = ap.parse_args()
    files = [Path(f) for f in args.files] or [make_big_file(args.size_mb)]
    for path in files:
        size_mb = path.stat().st_size / 1e6
        p = str(path)
        # warm the page cache so every contender reads from memory
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass
        tmp = tempfile.mkdtemp()
        cases = {
            "hashlib.sha256(read()) [baseline]": f"import hashlib\ndef run():\n    hashlib.sha256(open({p!r},'rb').read()).hexdigest()",
            "hashlib.file_digest": f"import hashlib\ndef run():\n    hashlib.file_digest(open({p!r},'rb'), 'sha256').hexdigest()",
            "media_core sha256_file": f"from media_core.io.hashing import sha256_file\ndef run():\n    sha256_file({p!r})",
            "media_core probe": f"from media_core.io.probe import probe\ndef run():\n    probe({p!r})",
            "Case.add_feed (probe+hash+store)": f"from media_core.case.store import Case\nimport uuid\ndef run():\n    Case.create({tmp!r} + '/c' + uuid.uuid4().hex).add_feed({p!r})",
        }
        rows = []
        for name, code in cases.items():
            best = min((measure(code) for _ in range(3)), key=lambda r: r[0])
            rows.append((name, *best))
        base = rows[0][1]
        print(f"\n{path.name}: {size_mb:.1f} MB (page cache warm, best of 3, {os.cpu_count()} cores)")
        print(f"{'operation':38s} {'time s':>8s} {'MB/s':>9s} {'peak MB':>8s} {'vs baseline':>11s}")
        for name, t, mem in rows:
            print(f"{name:38s} {t:8.3f} {size_mb / t:9.0f} {mem:8.1f} {t / base:10.2f}x")


if __name__ == "__main__":
    main()
