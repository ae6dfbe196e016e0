"""Damaged media is reported, never silently shortened; bad tag text never stops a feed.

Issue 11, items A-C: a Latin-1 title tag, an MP4 cut after its front index, a stream whose
packets end before its declared length, a smashed box size, and FFmpeg's own log lines.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest

from media_core.analysis.feed import analyze_feed
from media_core.errors import NotMediaError
from media_core.io.probe import open_container, probe
from sample_media import write_media

SR = 16000


def _audio(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def feed6(tmp_path_factory):
    """A 6 s MP4 with its index at the front (faststart), as cameras write them."""
    d = tmp_path_factory.mktemp("dmg")
    return write_media(d / "cam.mp4", audio=_audio(6.0), sr=SR, fps=10.0, size=(64, 48), duration_s=6.0)


def _latin1_copy(src, dst, fmt="mp4"):
    """A remux of ``src`` whose title tag holds the Latin-1 bytes of 'Caméra 14'."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w", format=fmt, metadata_errors="surrogateescape") as o:
        o.metadata["title"] = "Cam\udce9ra 14"  # the byte 0xE9 exactly as written, not UTF-8
        out = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for pkt in i.demux():
            if pkt.dts is None:
                continue
            pkt.stream = out[pkt.stream_index]
            o.mux(pkt)
    return dst


def _cut(src, dst, fraction: float):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def _run(capsys, *argv):
    from media_core.cli import main

    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# ----------------------------------------------------------------------------- A: tag text
def test_latin1_title_is_read_with_replacement_and_flagged(feed6, tmp_path, capsys):
    p = _latin1_copy(feed6, tmp_path / "latin1.mp4")
    assert open_container(p).metadata["title"] == "Cam\ufffdra 14"  # every opener: replacement
    info = probe(p)
    assert info["tags"]["title"] == "Cam\ufffdra 14"
    assert info["tag_warnings"] == ["tag 'title' text is not UTF-8; shown with replacement characters"]

    code, out, err = _run(capsys, "info", p)
    assert code == 0 and "latin1.mp4" in out
    assert f"warning: {p}: tag 'title' text is not UTF-8" in err


def test_latin1_feed_does_not_stop_a_batch(feed6, tmp_path, capsys):
    bad = _latin1_copy(feed6, tmp_path / "latin1.mp4")
    code, out, err = _run(capsys, "analyze", "--mutes-only", bad, feed6)
    assert code == 0, err
    assert "Traceback" not in err
    assert str(bad) in out and str(feed6) in out


def test_utf8_tags_give_no_warning(feed6):
    assert probe(feed6)["tag_warnings"] == []
    assert probe(feed6)["damage"] == []


# ----------------------------------------------------------------------------- B: truncation
def test_probe_reports_a_file_cut_after_its_front_index(feed6, tmp_path):
    p = _cut(feed6, tmp_path / "half.mp4", 0.5)
    info = probe(p)
    assert info["duration_s"] == pytest.approx(6.0, abs=0.05)  # what the index declares
    (d,) = info["damage"]
    assert d["kind"] == "truncated" and d["stream"] is None
    assert 1.5 < d["start_s"] < 4.5 and d["end_s"] == pytest.approx(6.0, abs=0.05)
    m = d["evidence"]["measurements"]
    assert m["file_size"] == p.stat().st_size
    assert m["declared_duration_s"] == pytest.approx(6.0, abs=0.05)
    assert m["last_packet_end_s"] == pytest.approx(d["start_s"])
    assert m["data_reaches_end_of_file"] is True


def test_analyze_reports_the_missing_tail_as_a_truncated_span(feed6, tmp_path):
    p = _cut(feed6, tmp_path / "half.mp4", 0.5)
    feed = analyze_feed(p, shots=False)
    assert feed["duration_s"] == pytest.approx(6.0, abs=0.05)  # not silently shortened
    (t,) = [m for m in feed["mutes"] if m["kind"] == "truncated"]
    assert t["end_s"] == pytest.approx(6.0, abs=0.05) and 1.5 < t["start_s"] < 4.5
    meas = t["evidence"]["measurements"]
    assert {"declared_duration_s", "last_packet_end_s", "file_size"} <= set(meas)
    assert not [m for m in feed["mutes"] if m["kind"] == "audio-ends-early"]


def test_cli_analyze_shows_the_damage(feed6, tmp_path, capsys):
    p = _cut(feed6, tmp_path / "half.mp4", 0.5)
    code, out, err = _run(capsys, "analyze", "--mutes-only", p)
    assert code == 0 and "truncated" in out and "DAMAGED: data ends at" in out
    code, out, err = _run(capsys, "info", p)
    assert code == 0 and "truncated" in out
    assert f"warning: {p}: truncated: the file's data ends at" in err


def test_audio_chunks_past_the_end_of_the_file_are_reported(feed6, tmp_path):
    """The index lists audio the file does not hold (chunk offsets past its end): every second of
    the declared length is either analysed or inside a reported span."""
    data = bytearray(feed6.read_bytes())
    j = data.find(b"stco", data.find(b"soun"))
    n = struct.unpack(">I", data[j + 8:j + 12])[0]
    for k in range(n // 2, n):
        data[j + 12 + 4 * k:j + 16 + 4 * k] = struct.pack(">I", len(data) + 100_000)
    p = tmp_path / "lost_audio.mp4"
    p.write_bytes(bytes(data))
    assert [d["kind"] for d in probe(p)["damage"]] == ["truncated"]
    feed = analyze_feed(p, shots=False)
    assert feed["duration_s"] == pytest.approx(6.0, abs=0.05)
    spans = sorted((m["start_s"], m["end_s"]) for m in feed["mutes"])
    assert spans[-1][1] == pytest.approx(6.0, abs=0.05) and spans[0][0] < 3.5
    assert all(a2 <= b1 + 1e-6 for (_, b1), (a2, _) in zip(spans, spans[1:]))  # no hole
    assert "truncated" in [m["kind"] for m in feed["mutes"]]


def test_audio_stream_shorter_than_declared_is_a_truncated_span():
    from media_core.io.decode import _truncation

    got = _truncation("/nonexistent", declared_end=10.0, data_end=10.0, audio_declared_end=10.0,
                      audio_end=6.0, fps=30.0, last_byte=0)
    assert got is not None
    start, end, ev = got
    assert (start, end) == (6.0, 10.0)
    assert ev["method"] == "audio packets end before the stream's declared duration"
    assert _truncation("/nonexistent", declared_end=10.0, data_end=9.8, audio_declared_end=9.8,
                       audio_end=9.8, fps=30.0, last_byte=0) is None  # within tolerance


def test_intact_files_have_no_truncated_span(feed6):
    feed = analyze_feed(feed6, shots=False)
    assert [m["kind"] for m in feed["mutes"]] == []
    assert feed["duration_s"] == pytest.approx(6.0, abs=0.05)


def test_video_only_truncated_file(tmp_path):
    p = write_media(tmp_path / "v.mp4", audio=None, fps=10.0, size=(64, 48), duration_s=6.0)
    cut = _cut(p, tmp_path / "vcut.mp4", 0.5)
    feed = analyze_feed(cut, shots=False)
    kinds = [m["kind"] for m in feed["mutes"]]
    assert kinds == ["no-audio-track", "truncated"]


# ----------------------------------------------------------------------------- C: one line, never a traceback
def _smash_video_sample_entry(src, dst):
    """Give the video trak's stbl box a 64-bit size marker (1): FFmpeg then knows no decoder."""
    data = bytearray(src.read_bytes())
    i = data.find(b"stbl")
    data[i - 4:i] = struct.pack(">I", 1)
    dst.write_bytes(bytes(data))
    return dst


def test_smashed_box_size_is_one_line_naming_the_file(feed6, tmp_path, capsys):
    p = _smash_video_sample_entry(feed6, tmp_path / "smashed.mp4")
    code, out, err = _run(capsys, "info", p)
    assert "Traceback" not in err and "NoneType" not in err
    if code == 2:
        assert err.count("\n") == 1 and str(p) in err
    else:  # the audio is still usable: the file is described
        assert code == 0 and "smashed.mp4" in out


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "abc", "1e999"])
def test_min_mute_must_be_finite_and_positive(feed6, capsys, value):
    code, out, err = _run(capsys, "analyze", "--min-mute", value, feed6)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--min-mute" in err and "Traceback" not in err


def test_min_mute_is_checked_by_the_listener_too():
    from media_core.analysis.mutes import MuteListener
    from media_core.errors import ParameterError

    with pytest.raises(ParameterError, match="finite"):
        MuteListener(min_mute_s=float("inf"))


def test_broken_pipe_ends_quietly(feed6):
    import subprocess
    import sys

    files = [str(feed6)] * 400
    cmd = f"{sys.executable} -m media_core.cli info {' '.join(files)} | head -n 1"
    r = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd}"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert r.returncode in (0, 141)
    assert r.stdout.startswith("file")


def test_ffmpeg_log_lines_are_summarised_per_file_never_raw(feed6, tmp_path, capfd):
    """Bit flips in the video make FFmpeg complain; its lines arrive as one summary naming the file."""
    import random

    data = bytearray(feed6.read_bytes())
    rng = random.Random(4)
    mdat = data.find(b"mdat")
    for _ in range(300):
        k = rng.randrange(mdat + 8, len(data))
        data[k] ^= 1 << rng.randrange(8)
    p = tmp_path / "flipped.mp4"
    p.write_bytes(bytes(data))
    from media_core.cli import main

    main(["info", str(p)])
    main(["analyze", "--mutes-only", str(p)])
    err = capfd.readouterr().err  # file-descriptor level: catches FFmpeg writing to fd 2 directly
    for line in err.splitlines():
        assert line.startswith("evidence-audit: "), f"raw line reached the terminal: {line!r}"
        assert str(p) in line


def test_not_media_still_one_line(tmp_path, capsys):
    p = tmp_path / "notes.mp4"
    p.write_text("hello\n")
    with pytest.raises(NotMediaError):
        probe(p)
    code, out, err = _run(capsys, "info", p)
    assert code == 2 and err.count("\n") == 1 and str(p) in err
