"""Strip the bundle's shared libraries, safely: ``python packaging/strip_libs.py BUNDLE_DIR``.

A blanket ``strip`` (PyInstaller's ``strip=True``) breaks the wheels' auditwheel-repaired
libraries: patchelf gave them an extra program header, and binutils' rewrite of such a file can
leave a LOAD segment whose file offset and address disagree modulo the page size, which the
loader refuses ("ELF load command address/offset not page-aligned", seen on numpy's OpenBLAS).
So every ELF file that still has a symbol table is stripped (``strip --strip-unneeded``) into a
copy, and the copy replaces it only if

1. every ``PT_LOAD`` segment of the copy keeps ``p_vaddr - p_offset`` a multiple of the page size
   and of its alignment (what ``dl-load.c`` checks), and
2. the copy still loads where the original loaded: each changed library is ``dlopen``-ed
   (``RTLD_NOW``: every symbol resolved) in a child process, original and copy alike; any copy
   that fails where its original did not is put back.

Files already without a symbol table (most wheels ship stripped) are left alone. Prints what was
stripped, put back or refused, and the bytes saved. Run by ``build.sh`` after PyInstaller (Linux);
the smoke check then runs the bundle.
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = 4096
PT_LOAD = 1
SHT_SYMTAB = 2


def _elf_header(data: bytes):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:  # 64-bit little-endian only
        return None
    (e_type, _m, _v, _entry, phoff, shoff, _flags, _ehsize, phentsize, phnum, shentsize, shnum,
     _shstrndx) = struct.unpack_from("<HHIQQQIHHHHHH", data, 16)
    return e_type, phoff, phentsize, phnum, shoff, shentsize, shnum


def is_shared_elf(path: Path) -> bool:
    """An ELF shared object or executable (64-bit little-endian), not a symbolic link."""
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as fh:
        head = fh.read(64)
    h = _elf_header(head) if len(head) == 64 else None
    return h is not None and h[0] in (2, 3)  # ET_EXEC, ET_DYN


def has_symtab(path: Path) -> bool:
    """Whether the file still carries a ``.symtab`` (not yet stripped)."""
    data = path.read_bytes()
    h = _elf_header(data)
    if h is None:
        return False
    _t, _phoff, _phentsize, _phnum, shoff, shentsize, shnum = h
    for i in range(shnum):
        off = shoff + i * shentsize
        if off + 8 > len(data):
            break
        if struct.unpack_from("<II", data, off)[1] == SHT_SYMTAB:
            return True
    return False


def load_segments_ok(path: Path) -> bool:
    """Every PT_LOAD has ``p_vaddr - p_offset`` a multiple of the page size and of its ``p_align``."""
    data = path.read_bytes()
    h = _elf_header(data)
    if h is None:
        return False
    _t, phoff, phentsize, phnum, *_ = h
    for i in range(phnum):
        p_type, _flags, p_offset, p_vaddr, _paddr, _filesz, _memsz, p_align = struct.unpack_from(
            "<IIQQQQQQ", data, phoff + i * phentsize)
        if p_type != PT_LOAD:
            continue
        delta = p_vaddr - p_offset
        if delta % PAGE or (p_align > 1 and delta % p_align):
            return False
    return True


_LOADER = r"""
import ctypes, os, sys
for line in sys.stdin:
    p = line.rstrip("\n")
    try:
        ctypes.CDLL(p, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        print(f"ok\t{p}", flush=True)
    except OSError as exc:
        print(f"no\t{p}\t" + str(exc).replace("\n", " "), flush=True)
"""


def loads(paths: list[Path]) -> dict[Path, bool]:
    """Which of ``paths`` a fresh process can ``dlopen`` with every symbol resolved.

    One child process reads the paths one by one; if loading one crashes it, that one counts as
    not loading and a new child goes on with the rest.
    """
    result: dict[Path, bool] = {}
    todo = list(paths)
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    while todo:
        proc = subprocess.run([sys.executable, "-c", _LOADER], input="".join(f"{p}\n" for p in todo),
                              capture_output=True, text=True, env=env, timeout=600)
        done = 0
        for line in proc.stdout.splitlines():
            status, name = line.split("\t")[:2]
            result[Path(name)] = status == "ok"
            done += 1
        if done < len(todo):      # the child died on todo[done]
            result[todo[done]] = False
            done += 1
        todo = todo[done:]
    return result


def main(bundle: str) -> int:
    root = Path(bundle)
    if not (root / "_internal").is_dir():
        print(f"strip_libs: {root} is not a bundle (no _internal/)", file=sys.stderr)
        return 2
    strip = shutil.which("strip")
    if strip is None:
        print("strip_libs: no strip on PATH (binutils): nothing stripped", file=sys.stderr)
        return 0
    candidates = sorted(p for p in root.rglob("*") if is_shared_elf(p) and has_symtab(p))
    loaded_before = loads(candidates)
    backup = Path(tempfile.mkdtemp(prefix="strip-libs-"))
    changed: list[tuple[Path, Path, int]] = []
    refused: list[str] = []
    try:
        for i, p in enumerate(candidates):
            out = backup / f"{i}.stripped"
            r = subprocess.run([strip, "--strip-unneeded", "-o", str(out), str(p)], capture_output=True, text=True)
            if r.returncode != 0 or not out.exists():
                refused.append(f"{p.relative_to(root)} (strip failed: {r.stderr.strip()[:120]})")
                continue
            if not load_segments_ok(out):
                refused.append(f"{p.relative_to(root)} (a LOAD segment would be misaligned)")
                out.unlink()
                continue
            before = p.stat().st_size
            if out.stat().st_size >= before:
                out.unlink()
                continue
            orig = backup / f"{i}.orig"
            shutil.copy2(p, orig)
            shutil.copymode(p, out)
            os.replace(out, p)
            changed.append((p, orig, before - p.stat().st_size))
        loaded_after = loads([p for p, _o, _s in changed])
        saved = 0
        for p, orig, s in changed:
            if loaded_before.get(p) and not loaded_after.get(p):
                os.replace(orig, p)
                refused.append(f"{p.relative_to(root)} (stopped loading once stripped: put back)")
            else:
                saved += s
    finally:
        shutil.rmtree(backup, ignore_errors=True)
    for line in refused:
        print(f"strip_libs: kept unstripped: {line}", file=sys.stderr)
    n_ok = len(changed) - sum("put back" in r for r in refused)
    print(f"strip_libs: stripped {n_ok} of {len(candidates)} files with symbol tables; {saved / 1e6:.1f} MB saved",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
