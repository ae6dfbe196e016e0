"""Clips: a shared-clock range of one feed or of every feed, each its own file, in one folder.

* ``mode="fast"``: stream copy (no re-encoding, the original's bytes for every packet), so the clip
  can only start at a keyframe: it runs from the keyframe at or before the range start to the
  keyframe at or after its end (or the feed's end), and the result says how much earlier and later
  that is. The file name gives the shared range the clip really covers.
* ``mode="exact"``: frame-accurate re-encode (H.264 + AAC): exactly the frames on screen during the
  range (the first one covers the range start) with their sound. The name gives the asked range.

Each clip is named ``feed<ID>_<label>_shared_HH-MM-SS.mmm_to_HH-MM-SS.mmm.mp4`` (sanitised), and
the folder gets a signed ``manifest.json`` (:mod:`media_core.export.manifest`) like every export.
Media times here are each feed's own (``clock.to_media`` of the shared range); the clip keeps its
feed's own frames and timing (no drift correction: that is what the review video is for).
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from media_core.errors import ParameterError
from media_core.export.ffmpeg import num
from media_core.export.review_video import ExportResult, record_export
from media_core.progress import Progress, ShouldStop, check_cancel, no_progress

__all__ = ["ClipOptions", "ClipPlan", "plan_clips", "render_clips", "export_clips", "MODES"]

MODES = ("fast", "exact")


@dataclass
class ClipOptions:
    """The choices; ``start_s``/``end_s`` on the shared clock."""

    start_s: float
    end_s: float
    feeds: Sequence[int] | None = None   # default: every feed with video or audio
    mode: str = "exact"
    allow_changed: bool = False
    crf: int = 18
    preset: str = "veryfast"


@dataclass
class _ClipFeed:
    id: int
    label: str
    path: str
    offset_s: float
    drift_ppm: float
    has_video: bool
    has_audio: bool
    index: dict | None


@dataclass
class ClipPlan:
    """What :func:`render_clips` needs, read from the case by :func:`plan_clips` (picklable)."""

    folder: str
    feeds: list[_ClipFeed]
    options: dict
    sources: list[dict]
    case: dict
    made_by: str
    notes: list[str] = field(default_factory=list)


def plan_clips(case, folder: str | os.PathLike, options: ClipOptions, *, timeline=None) -> ClipPlan:
    """Check the choices and the originals; read the clocks and video indexes from the case."""
    from media_core import pipeline
    from media_core.case.timeline import build_timeline
    from media_core.export.output import case_record, source_records

    o = options
    if o.mode not in MODES:
        raise ParameterError(f"mode must be 'fast' or 'exact' (got {o.mode!r})")
    if not (o.end_s > o.start_s):
        raise ParameterError(f"the range must end after it starts (got {o.start_s:.3f} to {o.end_s:.3f} s)")
    tl = timeline if timeline is not None else build_timeline(case)
    ids = list(o.feeds) if o.feeds is not None else [f.id for f in tl.feeds]
    if not ids:
        raise ParameterError(f"case {case.path} has no feeds")
    feeds = []
    for fid in ids:
        f = tl.feed(fid)
        if f is None:
            raise ParameterError(f"no feed {fid} in case {case.path}")
        idx = pipeline.stored_video_index(case, fid) if f.has_video else None
        if idx is not None and idx.get("schema") is None:
            idx = None
        feeds.append(_ClipFeed(fid, f.label, f.path, f.clock.offset_s, f.clock.drift_ppm, f.has_video, f.has_audio,
                               idx))
    sources, notes = source_records(case, tl, ids, allow_changed=o.allow_changed)
    opts = asdict(o)
    opts["feeds"] = ids
    try:
        made_by = case.user
    except Exception:
        made_by = case.account
    return ClipPlan(os.fspath(folder), feeds, opts, sources, case_record(case), made_by, notes)


def _clip_name(f: _ClipFeed, a: float, b: float) -> str:
    from media_core.export.output import range_tag, safe_name

    return f"feed{f.id}_{safe_name(f.label, fallback='feed', max_len=40)}_{range_tag(a, b)}.mp4"


def render_clips(plan: ClipPlan, *, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> ExportResult:
    """Make every clip, its FFmpeg log and the signed manifest in ``plan.folder`` (never touches the case)."""
    from media_core.clock import Clock
    from media_core.export.ffmpeg import ExportError, Graph, file_arg, run_ffmpeg
    from media_core.export.manifest import build_manifest, output_record, write_manifest
    from media_core.export.output import ExportFolder
    from media_core.io.video import VideoIndex, build_index

    report = progress or no_progress
    o = plan.options
    a_s, b_s, mode = float(o["start_s"]), float(o["end_s"]), o["mode"]
    out = ExportFolder(plan.folder, originals=[f.path for f in plan.feeds])
    notes = list(plan.notes)
    outputs, clip_info = [], []
    t0 = time.monotonic()
    try:
        for j, f in enumerate(plan.feeds):
            check_cancel(should_stop, "clip export")
            clock = Clock(f.offset_s, f.drift_ppm)
            m0, m1 = clock.to_media(a_s), clock.to_media(b_s)
            idx = None
            if f.has_video:
                idx = VideoIndex.from_dict(f.index) if f.index else build_index(f.path, should_stop=should_stop)
                lo, hi = idx.start_s, idx.end_s
            else:
                from media_core.io.probe import probe

                lo, hi = 0.0, float(probe(f.path).get("duration_s") or 0.0)
            if m1 <= lo or m0 >= hi:
                notes.append(f"feed {f.id} '{f.label}': not recording between shared {a_s:.3f} and {b_s:.3f} s; "
                             "no clip")
                continue
            m0c, m1c = max(m0, lo), min(m1, hi)
            info = {"feed_id": f.id, "mode": mode, "asked_shared": [a_s, b_s], "asked_media": [m0, m1]}
            if m0c > m0 or m1c < m1:
                info["note"] = "the feed covers only part of the range; the clip is that part"
            if mode == "fast":
                if idx is not None and len(idx):
                    i0 = idx.keyframe_at_or_before(idx.nearest_index(m0c))
                    i_last = idx.index_at(m1c - 1e-9)
                    i_last = idx.nearest_index(m1c - 1e-9) if i_last is None else i_last
                    nxt = [int(k) for k in idx._keyframe_idx if k > i_last]
                    s_media = float(idx.times_s[i0])
                    e_media = float(idx.times_s[nxt[0]]) if nxt else idx.end_s
                else:
                    s_media, e_media = m0c, m1c
                name = _clip_name(f, clock.to_shared(s_media), clock.to_shared(e_media))
                tmp = out.temp(f"clip{j}.mp4")
                # seek a quarter frame past the keyframe: the demuxer lands on it, never on the one before
                eps = 0.25 / (idx.fps if idx is not None else 30.0)
                args = ["-ss", num(s_media + eps), "-i", file_arg(f.path), "-t", num(e_media - s_media - 2 * eps),
                        "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy", "-avoid_negative_ts", "make_zero",
                        "-movflags", "+faststart", "-f", "mp4", "file:" + tmp.name]
                info.update({"clip_media": [s_media, e_media],
                             "clip_shared": [clock.to_shared(s_media), clock.to_shared(e_media)],
                             "says": (f"fast clip (stream copy) cut at keyframes: starts {m0c - s_media:.3f} s before "
                                      f"and ends {e_media - m1c:.3f} s after the asked range")})
            else:
                name = _clip_name(f, a_s, b_s)
                tmp = out.temp(f"clip{j}.mp4")
                g = Graph()
                args = ["-copyts", "-start_at_zero"]
                if idx is not None and len(idx):
                    i0 = idx.index_at(m0c)
                    i0 = idx.nearest_index(m0c) if i0 is None else i0
                    i1 = idx.index_at(m1c - 1e-9)
                    i1 = idx.nearest_index(m1c - 1e-9) if i1 is None else i1
                    v0 = float(idx.times_s[i0])
                    v1 = float(idx.times_s[i1] + idx.durations_s[i1])
                    half = 0.5 * idx.frame_interval_s
                    seek = max(0.0, v0 - half)
                    g.chain(["0:v"], [("trim", {"start": num(v0 - half), "end": num(v1 - half)}),
                                      ("setpts", {"expr": "PTS-STARTPTS"})], ["v"])
                    info.update({"clip_media": [v0, v1], "frames": [i0, i1], "clip_shared":
                                 [clock.to_shared(v0), clock.to_shared(v1)],
                                 "says": f"exact clip: frames {i0}-{i1} of the feed (re-encoded)"})
                else:
                    v0, v1, seek = m0c, m1c, max(0.0, m0c - 0.5)
                    info.update({"clip_media": [v0, v1], "clip_shared": [clock.to_shared(v0), clock.to_shared(v1)],
                                 "says": "exact clip (audio only, re-encoded)"})
                if f.has_audio:
                    g.chain(["0:a"], [("atrim", {"start": num(v0), "end": num(v1)}),
                                      ("asetpts", {"expr": "PTS-STARTPTS"})], ["a"])
                g.write(out.work / f"clip{j}.graph.txt")
                args += ["-noaccurate_seek", "-ss", num(seek), "-i", file_arg(f.path),
                         "-/filter_complex", f"clip{j}.graph.txt"]
                if idx is not None and len(idx):
                    args += ["-map", "[v]", "-c:v", "libx264", "-preset", str(o["preset"]), "-crf", str(int(o["crf"])),
                             "-pix_fmt", "yuv420p", "-fps_mode", "passthrough"]
                if f.has_audio:
                    args += ["-map", "[a]", "-c:a", "aac", "-b:a", "160k"]
                args += ["-movflags", "+faststart", "-f", "mp4", "file:" + tmp.name]
            out.final(name)
            log_name = name[:-4] + ".ffmpeg.log"
            log_tmp = out.temp(f"clip{j}.log")
            try:
                run_ffmpeg(args, cwd=out.work, log_path=log_tmp, output_name=str(out.path / name),
                           should_stop=should_stop)
            except ExportError:
                os.replace(log_tmp, out.path / (name[:-4] + ".failed.ffmpeg.log"))
                raise
            clip = out.commit(tmp, name)
            log = out.commit(log_tmp, log_name)
            outputs += [output_record(clip, "clip", **info), output_record(log, "log")]
            clip_info.append((clip.name, info["says"]))
            report((j + 1) / len(plan.feeds), f"wrote {clip.name}")
        if not clip_info:
            raise ExportError(f"{out.path}: no feed is recording between shared {a_s:.3f} and {b_s:.3f} s; "
                              "no clip made")
        notes += [f"{n}: {s}" for n, s in clip_info]
        doc = build_manifest(kind="clips", options=plan.options, case=plan.case, sources=plan.sources,
                             outputs=outputs, notes=notes, made_by=plan.made_by)
        mpath, msha = write_manifest(out.path, doc)
        out.cleanup()
    except BaseException:
        out.cleanup(failed=True)
        raise
    details = {"folder": str(out.path), "manifest_sha256": msha, "mode": mode, "shared_range": [a_s, b_s],
               "outputs": [{"file": x["file"], "sha256": x["sha256"]} for x in outputs],
               "feeds": [f.id for f in plan.feeds],
               "changed_originals": [s["feed_id"] for s in plan.sources if s["status"] == "changed"]}
    return ExportResult("clips", str(out.path), [str(out.path / x["file"]) for x in outputs], str(mpath), msha, notes,
                        details, {"elapsed_s": time.monotonic() - t0})


def export_clips(case, folder: str | os.PathLike, options: ClipOptions, *, progress: Progress | None = None,
                 should_stop: ShouldStop | None = None) -> ExportResult:
    """Plan, render and record clips (what ``evidence-audit export clip`` does)."""
    plan = plan_clips(case, folder, options)
    result = render_clips(plan, progress=progress, should_stop=should_stop)
    record_export(case, result)
    return result
