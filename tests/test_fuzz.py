"""Hostile and damaged files: every mutated feed gives a result or one line naming the file.

Seeded: three small generated feeds (MP4, MKV, WebM) are mutated 60 ways -- bit flips, smashed
MP4 box sizes, truncations, Latin-1 and oversized tags -- and ``evidence-audit info`` and
``analyze`` run on each through :func:`media_core.cli.main`. No exception may escape, no
traceback may be printed, the exit code is 0 or 2, and an error names the file.
"""
from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pytest

SEED = 11
N_MUTANTS = 60
SR = 16000
#: MP4 boxes whose payload is a list of boxes (walked to find sizes to smash).
MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"dinf", b"edts", b"udta", b"meta",
                  b"ilst", b"mvex", b"moof", b"traf"}


def _signal(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.2 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(t.size)
    y[int(1.0 * SR):int(1.8 * SR)] = 0.0  # a digital-silence mute the analysis should find
    return y.astype(np.float32)


def make_bases(folder: Path) -> list[Path]:
    """Three short feeds (2-3 s) in MP4, MKV and WebM."""
    from sample_media.encode import write_media

    kw = dict(sr=SR, fps=10.0, size=(64, 48))
    return [write_media(folder / "base.mp4", audio=_signal(3.0, 1), duration_s=3.0, **kw),
            write_media(folder / "base.mkv", audio=_signal(3.0, 2), duration_s=3.0, **kw),
            write_media(folder / "base.webm", audio=_signal(2.0, 3), duration_s=2.0, **kw)]


def mp4_boxes(data: bytes, start: int = 0, end: int | None = None, depth: int = 0) -> list[tuple[int, bytes]]:
    """``(offset, type)`` of every MP4 box, walking into container boxes."""
    end = len(data) if end is None else end
    out, pos = [], start
    while pos + 8 <= end and depth < 8:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        head = 8
        if size == 1 and pos + 16 <= end:
            size, head = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            break
        out.append((pos, kind))
        if kind in MP4_CONTAINERS:
            inner = pos + head + (4 if kind == b"meta" else 0)  # meta is a full box
            out += mp4_boxes(data, inner, pos + size, depth + 1)
        pos += size
    return out


def _flip(data: bytearray, rng: random.Random) -> str:
    n = rng.choice([1, 8, 64, 400])
    lo = rng.choice([0, len(data) // 2])  # headers and index, or only the payload half
    for _ in range(n):
        p = rng.randrange(lo, len(data))
        data[p] ^= 1 << rng.randrange(8)
    return f"{n} bit flips from byte {lo}"


def _smash(data: bytearray, rng: random.Random) -> str:
    boxes = mp4_boxes(bytes(data))
    off, kind = rng.choice(boxes)
    value = rng.choice([0, 1, 7, 0xFFFFFFFF, 0x7FFFFFFF, rng.randrange(1 << 32)])
    data[off:off + 4] = struct.pack(">I", value)
    return f"box {kind.decode('latin-1')} at {off} size -> {value}"


def _truncate(data: bytearray, rng: random.Random) -> str:
    cut = rng.randrange(1, len(data))
    del data[cut:]
    return f"truncated at byte {cut}"


def mutate(base: Path, out: Path, rng: random.Random, how: str) -> str:
    """Write a mutated copy of ``base`` to ``out``; return what was done."""
    if how in ("latin1", "oversized"):
        import av

        value = "Cam\udce9ra 14" if how == "latin1" else "x" * 100_000
        with av.open(str(base)) as src, av.open(str(out), "w", format=src.format.name.split(",")[0]
                                                 if base.suffix != ".mp4" else "mp4",
                                                 metadata_errors="surrogateescape") as dst:
            dst.metadata["title"] = value
            dst.metadata["comment"] = value
            streams = {}
            for s in src.streams:
                streams[s.index] = dst.add_stream_from_template(s)
            for pkt in src.demux():
                if pkt.dts is None:
                    continue
                pkt.stream = streams[pkt.stream_index]
                dst.mux(pkt)
        return f"{how} tags"
    data = bytearray(base.read_bytes())
    what = {"flip": _flip, "smash": _smash, "truncate": _truncate}[how](data, rng)
    out.write_bytes(bytes(data))
    return what


def mutants(folder: Path, n: int = N_MUTANTS, seed: int = SEED) -> list[tuple[Path, str]]:
    rng = random.Random(seed)
    bases = make_bases(folder)
    out = []
    for i in range(n):
        base = bases[i % len(bases)]
        hows = ["flip"] * 3 + ["truncate"] * 3 + ["latin1", "oversized"]
        if base.suffix == ".mp4":
            hows += ["smash"] * 4
        how = rng.choice(hows)
        p = folder / f"m{i:02d}_{how}{base.suffix}"
        out.append((p, f"{p.name}: {mutate(base, p, rng, how)}"))
    return out


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    return mutants(tmp_path_factory.mktemp("fuzz"))


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    from media_core.cli import main

    code = main(argv)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("command", ["info", "analyze"])
def test_every_mutant_gives_a_result_or_one_line_naming_it(fuzzed, capsys, command):
    failures = []
    for path, what in fuzzed:
        code, out, err = _run(capsys, [command, str(path)])  # analyze: mutes and gunshots
        problems = []
        if "Traceback" in err or "Traceback" in out:
            problems.append("traceback")
        if "internal error" in err:
            problems.append("an unforeseen exception (caught by the last-resort handler)")
        if code not in (0, 2):
            problems.append(f"exit {code}")
        lines = [line for line in err.splitlines() if line.strip()]
        if not all(line.startswith("evidence-audit: ") and path.name in line for line in lines):
            problems.append("a stderr line is raw or does not name the file")
        if code == 2 and sum(not line.startswith("evidence-audit: warning: ") for line in lines) != 1:
            problems.append("not exactly one error line")
        if code == 0 and path.name not in out:
            problems.append("no result")
        if problems:
            failures.append(f"{what}: {', '.join(problems)}\n{err[-2000:]}")
    assert not failures, "\n".join(failures)


def test_the_mutants_cover_every_mutation(fuzzed):
    kinds = {p.name.split("_")[1].split(".")[0] for p, _ in fuzzed}
    assert kinds == {"flip", "smash", "truncate", "latin1", "oversized"}
    assert {p.suffix for p, _ in fuzzed} == {".mp4", ".mkv", ".webm"}
