"""The review video (media_core/export/review_video.py): frame-exact tiles on drifting clocks, slates,
badges, shot markers, captions, hostile text, cancel and failure leaving nothing, changed originals.

The helpers at the top (a small generated case, the frame checker) are shared with
test_export_clips.py, test_manifest.py and test_gui_export.py.
"""
from __future__ import annotations

import json
import math
import os
import subprocess

import numpy as np
import pytest


def tone(freq: float, dur: float, sr: int = 48000, amp: float = 0.2) -> np.ndarray:
    t = np.arange(int(dur * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def make_case(tmp_path, *, labels=("Officer A", "Officer B", "Dash cam"), mutes=True, shots=True):
    """Three coded feeds (30 fps 4 s, 25 fps 3 s, 24 fps 2.5 s without audio) with drifting clocks."""
    from media_core import pipeline
    from media_core.case.store import Case
    from media_core.clock import Clock
    from sample_media.frame_code import write_coded_feed

    d = tmp_path / "media"
    a = write_coded_feed(d / "a.mp4", fps=30, duration_s=4.0, size=(320, 180), audio=tone(440, 4.0))
    b = write_coded_feed(d / "b.mp4", fps=25, duration_s=3.0, size=(320, 180), tint=(160, 60, 40), audio=tone(660, 3.0))
    c = write_coded_feed(d / "c.mp4", fps=24, duration_s=2.5, size=(240, 180), tint=(60, 160, 60))
    case = Case.create(tmp_path / "t.evcase")
    fa = case.add_feed(a, kind="bodycam", label=labels[0])
    fb = case.add_feed(b, kind="bodycam", label=labels[1])
    fc = case.add_feed(c, kind="dashcam", label=labels[2])
    case.reference_feed_id = fa.id
    case.set_clock(fb.id, Clock(0.6123, 5000.0), method="manual", confidence=1.0)
    case.set_clock(fc.id, Clock(-0.4567, -7000.0), method="manual", confidence=1.0)
    if mutes or shots:
        res = {"has_audio": True, "mutes": [{"start_s": 1.0, "end_s": 2.0, "kind": "digital-silence",
                                             "confidence": 0.99}] if mutes else [],
               "shots": [{"time_s": 2.5, "confidence": 0.9, "confident": True},
                         {"time_s": 3.0, "confidence": 0.9, "confident": True}] if shots else []}
        case.store_analysis(fa.id, algorithm=pipeline.ANALYSIS_ALGORITHM, version=pipeline.analysis_version(),
                            params=pipeline.analysis_params(), result=res)
    return case, (fa.id, fb.id, fc.id)


def video_output(folder):
    man = json.loads((folder / "manifest.json").read_text())
    return man, next(o for o in man["outputs"] if o["role"] == "video")


def check_frames(case, folder):
    """Decode the review video; count tiles not showing the frame the clocks put on screen."""
    import av

    from media_core.case.timeline import build_timeline
    from sample_media.frame_code import read_code

    man, vid = video_output(folder)
    tl = build_timeline(case)
    num, den = (int(x) for x in vid["fps"].split("/"))
    fps = num / den
    meta = {f.id: (case.feed(f.id).fps, case.feed(f.id).probe["video"]["frames"]) for f in tl.feeds}
    start = vid["shared_range"][0]
    checked = slates = bad = frames = 0
    with av.open(str(folder / vid["file"])) as c:
        for k, fr in enumerate(c.decode(video=0)):
            frames += 1
            img = fr.to_ndarray(format="rgb24")
            T = start + k / fps
            for t in vid["tiles"]:
                f = tl.feed(t["feed_id"])
                x, y, w, h = t["pic"]
                ffps, nfr = meta[f.id]
                e = (f.clock.to_media(T) + 1e-6) * ffps
                want = math.floor(e) if 0 <= e < nfr else None
                slates += want is None
                checked += 1
                bad += read_code(img[y:y + h, x:x + w]) != want
    return frames, checked, slates, bad


def frame_at(folder, k: int) -> np.ndarray:
    import av

    _, vid = video_output(folder)
    with av.open(str(folder / vid["file"])) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i == k:
                return fr.to_ndarray(format="rgb24")
    raise IndexError(k)


# ============================================================================ tests
@pytest.fixture
def small(tmp_path):
    case, ids = make_case(tmp_path)
    yield case, ids, tmp_path
    case.close()


def test_frame_exact_on_drifting_clocks_with_slates(small):
    """Every tile of every output frame shows the frame the case's clocks put on screen (or a slate)."""
    from media_core.export.review_video import ReviewOptions, export_review

    case, ids, tmp = small
    # from -0.5 s (the dash cam is already running, the others are not), to 4.2 s (B and the dash cam ended)
    res = export_review(case, tmp / "out", ReviewOptions(start_s=-0.5, end_s=4.2, size=(480, 270)))
    frames, checked, slates, bad = check_frames(case, tmp / "out")
    assert frames == 141  # 4.7 s at the fastest feed's 30 fps
    assert bad == 0, f"{bad} of {checked} tiles show the wrong frame"
    assert slates > 40
    assert res.details["feeds"] == list(ids)
    # and at the common case: same fps as the reference, start at 0 (frame times on exact boundaries)
    res2 = export_review(case, tmp / "out2", ReviewOptions(start_s=0.0, end_s=1.0, size=(320, 180), feeds=[ids[0]]))
    assert check_frames(case, tmp / "out2")[3] == 0
    assert res2.stats["frames"] == 30


def test_overlays_badge_marker_slate_and_audio(small):
    from media_core.export.review_video import ReviewOptions, export_review

    case, ids, tmp = small
    res = export_review(case, tmp / "out", ReviewOptions(start_s=0.0, end_s=3.5, size=(640, 360), fps=10))
    _, vid = video_output(tmp / "out")
    ta = next(t for t in vid["tiles"] if t["feed_id"] == ids[0])

    def red(img, x0, y0, x1, y1):
        p = img[y0:y1, x0:x1].astype(int)
        return int(((p[..., 0] > 150) & (p[..., 1] < 60) & (p[..., 2] < 60)).sum())

    status = (ta["x"], ta["y"] + ta["h"] - ta["strip_h"] - 1, ta["x"] + ta["w"] // 2, ta["y"] + ta["h"])
    assert red(frame_at(tmp / "out", 15), *status) > 50      # 1.5 s: inside the mute (1.0-2.0)
    assert red(frame_at(tmp / "out", 25), *status) == 0      # 2.5 s: after it
    header = (400, 0, 640, 30)
    assert red(frame_at(tmp / "out", 25), *header) > 50      # 2.5 s: the shot marker
    assert red(frame_at(tmp / "out", 20), *header) == 0
    # audio: AAC, as long as the video, and the tone of the reference feed
    import av

    with av.open(str(tmp / "out" / vid["file"])) as c:
        a = c.streams.audio[0]
        y = np.concatenate([f.to_ndarray().mean(axis=0) for f in c.decode(a)])
    assert abs(len(y) / 48000 - 3.5) < 0.05
    spec = np.abs(np.fft.rfft(y[int(0.2 * 48000):int(0.9 * 48000)]))
    assert abs(np.argmax(spec) / (0.7) - 440) < 3
    seg = y[int(1.1 * 48000):int(1.9 * 48000)]  # the reference feed's file is not silent there: kept as is
    assert np.sqrt(np.mean(seg ** 2)) > 0.05
    assert res.notes == [] or all("font" not in n for n in res.notes)


NASTY = ["quote ' double \" colon : semi ; back \\ end", "%{pts} and %{localtime} [0:v] [out]",
         "line one\nline two", "-y -i /etc/passwd", "RTL \u200f\u202eabc\u202c mark", "中文 日本語 한국어",
         "عربي نص", "{\\an8}{\\fs80}\\N\\h tags"]


def _ink_box(img):
    m = img.astype(int).max(axis=2) > 128
    ys, xs = np.nonzero(m)
    if len(xs) == 0:
        return 0, 0
    return int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_hostile_text_appears_verbatim_and_never_reaches_the_graph(tmp_path):
    """Labels and annotations with graph, shell and ASS syntax, newlines, RTL marks and CJK: the picture
    matches an independent rendering (FFmpeg drawtext, textfile=, expansion=none) and the command
    lines FFmpeg ran contain none of them.
    """
    from media_core.export.ass import find_fonts
    from media_core.export.ffmpeg import ffmpeg_exe
    from media_core.export.review_video import ReviewOptions, export_review

    case, ids = make_case(tmp_path, labels=(NASTY[0], NASTY[1], NASTY[4]), mutes=False, shots=False)
    texts = ["Control caption ABC 123"] + NASTY
    for j, s in enumerate(texts):
        case.add_annotation(start_s=j * 0.5, end_s=j * 0.5 + 0.5, text=s)
    res = export_review(case, tmp_path / "out", ReviewOptions(start_s=0.0, end_s=len(texts) * 0.5, size=(960, 540),
                                                              fps=4, name="-y; ../../evil [0:v]"))
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "y_evil_0_v.ffmpeg.log", "y_evil_0_v.mp4"]
    log = (out / "y_evil_0_v.ffmpeg.log").read_text(encoding="utf-8", errors="replace")
    commands = [ln for ln in log.splitlines() if ln.startswith("$ ")]
    assert commands
    for s in NASTY + ["evil", str(tmp_path)]:
        for ln in commands:
            assert s not in ln
    # every caption, measured in the export and in an independent drawtext rendering of the same text
    fonts = find_fonts()
    H, bottom = 540, None
    from media_core.export.review_video import bands

    bottom = bands((960, 540))[1]
    size = max(11, int(round(H * 0.028)))
    ours, theirs = [], []
    for j, s in enumerate(texts):
        img = frame_at(out, j * 2 + 1)
        band = img[H - bottom - 40:H, :]
        band = band * (band.astype(int).min(axis=2, keepdims=True) > 150)  # white caption text only
        ours.append(_ink_box(band))
        (tmp_path / f"cap{j}.txt").write_text("[custom] " + s, encoding="utf-8")  # what the export burns
        png = tmp_path / f"cap{j}.png"
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=black:s=1600x200", "-vf",
                        f"drawtext=fontfile={fonts.files['main']}:textfile=cap{j}.txt:expansion=none:"
                        f"fontsize={size}:fontcolor=white:x=20:y=20:text_shaping=1",
                        "-frames:v", "1", "-update", "1", png.name], cwd=tmp_path, check=True,
                       env={**os.environ, "FONTCONFIG_FILE": str(_fc(tmp_path, fonts))})
        import av

        with av.open(str(png)) as c:
            theirs.append(_ink_box(next(c.decode(video=0)).to_ndarray(format="rgb24")))
    rx = ours[0][0] / theirs[0][0]
    for s, (w1, h1), (w2, h2) in zip(texts, ours, theirs):
        assert w1 > 0 and w2 > 0, s
        assert abs(w1 / w2 / rx - 1) < 0.15, (s, w1, w2 * rx)
        assert (h1 > 1.6 * ours[0][1]) == ("\n" in s), s  # two lines only where the text has a newline
    assert res.outputs


def _fc(tmp_path, fonts):
    d = tmp_path / "fc"
    d.mkdir(exist_ok=True)
    for k, p in fonts.files.items():
        if not (d / os.path.basename(p)).exists():
            os.symlink(p, d / os.path.basename(p))
    conf = tmp_path / "fc.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><dir>{d}</dir><cachedir>{tmp_path / "fccache"}</cachedir>'
                    '</fontconfig>')
    return conf


def test_cancel_and_ffmpeg_failure_leave_no_final_file(small):
    from media_core.errors import Cancelled
    from media_core.export.ffmpeg import ExportError
    from media_core.export.review_video import ReviewOptions, export_review, plan_review, render_review

    case, ids, tmp = small
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 20

    with pytest.raises(Cancelled):
        export_review(case, tmp / "c", ReviewOptions(size=(320, 180)), should_stop=stop)
    assert list((tmp / "c").iterdir()) == []
    plan = plan_review(case, tmp / "f", ReviewOptions(size=(320, 180)))
    plan.preset = "nosuchpreset"
    with pytest.raises(ExportError) as ei:
        render_review(plan)
    msg = str(ei.value)
    assert "\n" not in msg and "FFmpeg failed" in msg and str(tmp / "f") in msg and "full log in" in msg
    names = [p.name for p in (tmp / "f").iterdir()]
    assert names == [f"{plan.name}.failed.ffmpeg.log"]
    assert not any(a["action"].startswith("export.") for a in case.audit_log())


def test_changed_original_refused_then_recorded(small):
    from media_core.errors import IntegrityError
    from media_core.export.review_video import ReviewOptions, export_review

    case, ids, tmp = small
    p = case.feed(ids[1]).path
    with open(p, "ab") as fh:
        fh.write(b"\0" * 16)
    with pytest.raises(IntegrityError) as ei:
        export_review(case, tmp / "out", ReviewOptions(size=(320, 180)))
    assert "\n" not in str(ei.value) and "feed 2" in str(ei.value) and "CHANGED" in str(ei.value)
    assert not (tmp / "out").exists() or list((tmp / "out").iterdir()) == []
    res = export_review(case, tmp / "out2", ReviewOptions(size=(320, 180), end_s=1.0, allow_changed=True))
    man = json.loads((tmp / "out2" / "manifest.json").read_text())
    src = {s["feed_id"]: s for s in man["sources"]}
    assert src[ids[1]]["status"] == "changed" and src[ids[1]]["sha256_now"] != src[ids[1]]["sha256"]
    assert res.details["changed_originals"] == [ids[1]]
    os.remove(p)
    with pytest.raises(IntegrityError, match="cannot be found"):
        export_review(case, tmp / "out3", ReviewOptions(size=(320, 180), allow_changed=True))


@pytest.mark.parametrize("opts, message", [
    ({"layout": "mosaic"}, "layout must be one of"),
    ({"size": (641, 360)}, "size must be even"),
    ({"fps": 240.0}, "fps must be from 1 to 60"),
    ({"start_s": 3.0, "end_s": 1.0}, "the range must end after it starts"),
    ({"feeds": [9]}, "no feed 9"),
    ({"audio": [3]}, "has no audio track"),
    ({"wall_zone": "Mars/Olympus"}, "unknown time zone"),
])
def test_bad_choices(small, opts, message):
    from media_core.errors import ParameterError
    from media_core.export.review_video import ReviewOptions, plan_review

    case, ids, tmp = small
    with pytest.raises(ParameterError, match=message):
        plan_review(case, tmp / "out", ReviewOptions(**opts))


def test_main_layout_and_folder_rules(small):
    from media_core.export.ffmpeg import ExportError
    from media_core.export.review_video import ReviewOptions, export_review, layout_tiles, plan_review

    case, ids, tmp = small
    plan = plan_review(case, tmp / "x", ReviewOptions(layout="main", main_feed=ids[1]))
    tiles = layout_tiles(plan.feeds, plan.size, "main", ids[1])
    assert tiles[0].feed_id == ids[1] and tiles[0].w == 1280 and tiles[1].w < 700
    export_review(case, tmp / "out", ReviewOptions(size=(320, 180), end_s=0.5))
    with pytest.raises(ExportError, match="already holds an export"):
        export_review(case, tmp / "out", ReviewOptions(size=(320, 180), end_s=0.5))
    rows = [a for a in case.audit_log() if a["action"] == "export.review"]
    assert len(rows) == 1 and rows[0]["details"]["manifest_sha256"]
