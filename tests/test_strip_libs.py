"""packaging/strip_libs.py: the bundle's libraries stripped only where the result stays loadable."""
from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "packaging"))
import strip_libs  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform != "linux" or shutil.which("strip") is None,
                                reason="Linux with binutils' strip only")


def _unstripped_library() -> Path:
    import psygnal

    for p in sorted(Path(psygnal.__file__).parent.glob("*.so")):
        if strip_libs.is_shared_elf(p) and strip_libs.has_symtab(p):
            return p
    pytest.skip("no library with a symbol table at hand")


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "_internal").mkdir()
    lib = tmp_path / "_internal" / "libdemo.so"
    shutil.copy2(_unstripped_library(), lib)
    (tmp_path / "_internal" / "link.so").symlink_to("libdemo.so")
    return tmp_path, lib


def test_a_library_is_stripped_and_still_loads(bundle, capsys):
    root, lib = bundle
    before = lib.stat().st_size
    assert strip_libs.main(str(root)) == 0
    assert not strip_libs.has_symtab(lib) and lib.stat().st_size < before
    assert strip_libs.load_segments_ok(lib) and strip_libs.loads([lib]) == {lib: True}
    assert "stripped 1 of 1" in capsys.readouterr().err   # the symbolic link is not a second file


def test_a_misaligned_load_segment_is_seen(bundle):
    _root, lib = bundle
    assert strip_libs.load_segments_ok(lib)
    data = bytearray(lib.read_bytes())
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54)
    for i in range(phnum):
        off = phoff + i * phentsize
        if struct.unpack_from("<I", data, off)[0] == strip_libs.PT_LOAD:
            struct.pack_into("<Q", data, off + 8, struct.unpack_from("<Q", data, off + 8)[0] + 16)  # p_offset
            break
    lib.write_bytes(bytes(data))
    assert not strip_libs.load_segments_ok(lib)


def test_a_copy_that_stops_loading_is_put_back(bundle, monkeypatch, capsys):
    root, lib = bundle
    original = lib.read_bytes()
    calls = []

    def fake_loads(paths):
        calls.append(list(paths))
        return {p: len(calls) == 1 for p in paths}   # loads before stripping, not after

    monkeypatch.setattr(strip_libs, "loads", fake_loads)
    assert strip_libs.main(str(root)) == 0
    assert lib.read_bytes() == original
    assert "put back" in capsys.readouterr().err


def test_loads_reports_a_file_that_is_no_library(tmp_path):
    bad = tmp_path / "libbad.so"
    bad.write_bytes(b"\x7fELF not really")
    assert strip_libs.loads([bad]) == {bad: False}
