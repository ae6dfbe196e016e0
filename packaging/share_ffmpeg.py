"""One FFmpeg for PyAV and OpenCV in the Linux bundle: ``python packaging/share_ffmpeg.py BUNDLE_DIR``.

Both wheels vendor the same FFmpeg release (libavcodec 62.28, libavformat 62.12, libavutil 60.26,
libswscale 9.5, libswresample 6.3: ABI-compatible within a major version by FFmpeg's policy)
under hashed names. Each of OpenCV's copies becomes a symbolic link to PyAV's, so the dynamic
loader maps one library (it recognises the same file by device and inode), and then the
libraries in ``opencv_python_headless.libs`` that nothing needs any more (libvpx, OpenSSL 1.1,
only OpenCV's FFmpeg used them) are removed. Refuses (exit 1, bundle unchanged) when a major
version differs. Prints the bytes saved. Run by ``build.sh`` after PyInstaller; the smoke check
then imports cv2 with ``RTLD_NOW`` (every symbol resolved) and runs the analysis.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LIBS = ("libavcodec", "libavformat", "libavutil", "libswscale", "libswresample")


def needed(path: Path) -> set[str]:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout
    return set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))


def version(name: str) -> tuple[str, str]:
    m = re.match(r"(lib[a-z]+)-[0-9a-f]{8}\.so\.(\d+)\.(\d+)\.(\d+)$", name)
    if not m:
        raise SystemExit(f"share_ffmpeg: unexpected library name {name}")
    return m.group(1), m.group(2)


def main(bundle: str) -> int:
    internal = Path(bundle) / "_internal"
    ocv, av = internal / "opencv_python_headless.libs", internal / "av.libs"
    if not ocv.is_dir() or not av.is_dir():
        print("share_ffmpeg: no OpenCV or PyAV libraries here; nothing to do", file=sys.stderr)
        return 0
    plan = []
    for lib in LIBS:
        mine = [p for p in ocv.glob(f"{lib}-*.so.*") if not p.is_symlink()]
        theirs = list(av.glob(f"{lib}-*.so.*"))
        if len(mine) != 1 or len(theirs) != 1:
            continue
        if version(mine[0].name) != version(theirs[0].name):
            print(f"share_ffmpeg: {mine[0].name} and {theirs[0].name} differ in major version: not shared",
                  file=sys.stderr)
            return 1
        plan.append((mine[0], theirs[0]))
    saved = 0
    for mine, theirs in plan:
        saved += mine.stat().st_size
        mine.unlink()
        mine.symlink_to(Path("..") / "av.libs" / theirs.name)
    # drop what no ELF file of the bundle needs any more (only inside OpenCV's library folder)
    while True:
        wanted: set[str] = set()
        for f in internal.rglob("*"):
            if f.is_file() and not f.is_symlink() and (f.suffix == ".so" or ".so." in f.name):
                wanted |= needed(f)
        orphans = [p for p in ocv.iterdir() if not p.is_symlink() and p.name not in wanted]
        if not orphans:
            break
        for p in orphans:
            saved += p.stat().st_size
            p.unlink()
            top = internal / p.name  # PyInstaller's top-level link to it
            if top.is_symlink():
                top.unlink()
            print(f"share_ffmpeg: removed {p.name} (nothing needs it now)", file=sys.stderr)
    print(f"share_ffmpeg: OpenCV uses PyAV's FFmpeg ({len(plan)} libraries linked); {saved / 1e6:.1f} MB saved",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
