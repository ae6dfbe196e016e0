"""Clips (media_core/export/clips.py): fast = stream copy at keyframes (and says so), exact = the
frames on screen in the range; named after the feed and the shared range; the CLI.
"""
from __future__ import annotations

import json

import pytest
from test_export_video import make_case


def _codes(path):
    import av

    from sample_media.frame_code import read_code

    with av.open(str(path)) as c:
        has_audio = bool(c.streams.audio)
        return [read_code(f.to_ndarray(format="rgb24")) for f in c.decode(video=0)], has_audio


@pytest.fixture
def small(tmp_path):
    case, ids = make_case(tmp_path)
    yield case, ids, tmp_path
    case.close()


def test_exact_clips_hold_exactly_the_frames_on_screen(small):
    from media_core.export.clips import ClipOptions, export_clips

    case, ids, tmp = small
    res = export_clips(case, tmp / "out", ClipOptions(start_s=1.5, end_s=2.2, mode="exact"))
    man = json.loads((tmp / "out" / "manifest.json").read_text())
    clips = [o for o in man["outputs"] if o["role"] == "clip"]
    assert len(clips) == 3
    for o in clips:
        f = case.feed(o["feed_id"])
        clock = case.clock(f.id)
        first = int((clock.to_media(1.5) + 1e-6) * f.fps)
        last = min(int((clock.to_media(2.2) - 1e-6) * f.fps), f.probe["video"]["frames"] - 1)
        codes, has_audio = _codes(tmp / "out" / o["file"])
        assert codes == list(range(first, last + 1)), o["file"]
        assert has_audio == f.has_audio
        assert o["file"].startswith(f"feed{f.id}_") and "shared_00-00-01.500_to_00-00-02.200" in o["file"]
    row = case.audit_log()[-1]
    assert row["action"] == "export.clips" and len(row["details"]["outputs"]) == 6
    assert res.manifest_sha256 == row["details"]["manifest_sha256"]


def test_fast_clips_cut_at_keyframes_and_say_so(small, capsys):
    from media_core.cli import main

    case, ids, tmp = small
    path = str(case.path)
    case.close()
    assert main(["export", "clip", path, "--out", str(tmp / "fast"), "--start", "1.5", "--end", "00:02.2",
                 "--mode", "fast", "--feeds", "1"]) == 0
    cap = capsys.readouterr()
    assert "stream copies cut at keyframes" in cap.err and "starts 0.500 s before" in cap.out
    man = json.loads((tmp / "fast" / "manifest.json").read_text())
    clip = next(o for o in man["outputs"] if o["role"] == "clip")
    codes, has_audio = _codes(tmp / "fast" / clip["file"])
    assert codes == list(range(30, 90)) and has_audio  # keyframes every 30 frames: 1.0 s to 3.0 s
    assert "shared_00-00-01.000_to_00-00-03.000" in clip["file"]


def test_clip_outside_every_feed_is_refused(small):
    from media_core.export.clips import ClipOptions, export_clips
    from media_core.export.ffmpeg import ExportError

    case, ids, tmp = small
    with pytest.raises(ExportError, match="no feed is recording"):
        export_clips(case, tmp / "out", ClipOptions(start_s=50.0, end_s=51.0))
    assert list((tmp / "out").iterdir()) == []
