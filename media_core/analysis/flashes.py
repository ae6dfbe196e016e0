"""Silent feeds on the shared clock: visual flashes matched to shots heard in synced feeds.

A feed without usable audio (a helicopter's infrared camera) cannot be placed by sound. Muzzle
flashes, though, are short *local* brightness spikes: a small patch of the picture jumps up for one
or two frames and falls back. :func:`detect_flashes` finds them on small frames (the decoder scales
them down, so a 30-minute feed costs the decode and little more); :func:`match_flashes` then slides
the flash sequence along shared-clock event times (shots or onsets heard by feeds already synced,
flashes seen by placed videos) and keeps the offset where most flashes land on an event, refined by
least squares.

Time convention: a flash seen first in the frame with presentation time ``pts`` happened during
that frame's interval ``[pts, pts + 1/fps)``; its ``time_s`` is the interval's centre,
``pts + 0.5 / fps``, so the placement error from frame quantisation is at most half a frame.

Known limit: shot times from audio are *arrival* times at the nearest synced microphone, late by
the sound's travel from the muzzle (about 3 ms per metre); light arrives at once. Flash sync
inherits that delay (small when an officer with a body cam fires; large when the only microphones
are 30 m away).
"""
from __future__ import annotations

import os
from collections import deque
from typing import Any, Iterable, Sequence

import numpy as np

from media_core.clock import Clock, ticks_to_seconds
from media_core.errors import DecodeError, MediaError, ParameterError
from media_core.io.probe import container_duration_s, container_start_s
from media_core.progress import Progress, ShouldStop, check_cancel

ALGORITHM_VERSION = "flashes/2"
BLOCK_PX = 4            # local patches of 4x4 pixels on the small frame
HISTORY = 4             # frames before a flash that form its background
MIN_RISE = 20.0         # grey levels (0..255) a patch must jump at least
DECAY_FRAMES = 3        # a flash falls back within this many frames


NOISE_MIN_FRAMES = 32   # the online noise model (for taking flashes out of the background) needs these
NOISE_EVERY = 64        # ... and is refreshed every so many frames


def _noise_model(rises: Sequence[float]) -> tuple[float, float]:
    """Median and robust standard deviation (MAD x 1.4826 + 1 grey level) of frames' largest rises."""
    r = np.asarray(rises, dtype=np.float64) if len(rises) else np.zeros(1)
    med = float(np.median(r))
    return med, float(np.median(np.abs(r - med))) * 1.4826 + 1.0


class FlashDetector:
    """Streaming flash detector over grey frames (any size; patches of ``BLOCK_PX``).

    Call :meth:`push` with each frame's presentation time and grey image (uint8, HxW) in display
    order, then :meth:`finish` for the list of flash events.

    A patch's background is the brightest of its :data:`HISTORY` previous frames, except where a
    flash was already seen there: as soon as a candidate has risen (>= ``min_rise``, local, and
    ``z_min`` above the noise of the frames so far) and its whole footprint (the patches around it
    that rose by at least half as much) has fallen back (within :data:`DECAY_FRAMES`), its frame
    and the decay frames are put back to the background it rose from over that footprint. A
    shooter firing again at one spot 0.2-0.4 s later (2-4 frames at 10 fps) is then measured
    against the scene, not against his last flash.
    """

    def __init__(self, *, fps: float, min_rise: float = MIN_RISE, z_min: float = 8.0):
        if not fps or fps <= 0:
            raise ParameterError(f"fps must be > 0 (got {fps})")
        self.fps = float(fps)
        self.min_rise = float(min_rise)
        self.z_min = float(z_min)
        self._hist: deque = deque(maxlen=HISTORY)   # (pts_s, patch means): the background
        self._pending: deque = deque()          # frames waiting for their decay check
        self._rises: list[float] = []           # every frame's largest local rise (noise model)
        self._cand: list[dict[str, Any]] = []
        self._noise: tuple[float, float] | None = None   # (median, robust sd) of the rises so far
        self.frames = 0

    def push(self, pts_s: float, gray: np.ndarray) -> None:
        g = np.asarray(gray)
        h, w = g.shape[:2]
        bw, bh = max(1, w // BLOCK_PX), max(1, h // BLOCK_PX)
        # whole grey levels, as the noise model (MAD + 1 level, MIN_RISE) was calibrated: unrounded
        # means lower the noise floor and let the blinking of a patrol car's lights through as flashes
        blk = np.rint(area_mean(g, (bh, bw)))
        self.frames += 1
        # earlier candidates hear this frame; one that has fallen back is a flash: take it out of
        # the background before this frame is measured against it
        fallen = []
        for p in self._pending:
            if len(p["after"]) < DECAY_FRAMES and p["pts_s"] < pts_s:
                p["after"].append(float(blk.flat[p["block"]]))
                # short: the whole footprint back to within half its rise (an object that moves on
                # leaves its leading patch dark but the next one lit: not a flash)
                if not p["fell"] and bool(np.all(blk.flat[p["foot"]] <= p["foot_base"] + 0.5 * p["foot_rise"])):
                    p["fell"] = True
                    if self._flash_like(p, online=True):
                        fallen.append(p)
        for p in fallen:
            self._mask(p, blk)
        while self._pending and len(self._pending[0]["after"]) >= DECAY_FRAMES:
            self._judge(self._pending.popleft())
        if len(self._hist) == HISTORY:
            bg = np.max(np.stack([b for _, b in self._hist]), axis=0)  # beat every recent frame
            rise = blk - bg
            k = int(np.argmax(rise))
            r = float(rise.flat[k])
            self._rises.append(r)
            # local: most of the picture did not rise with it (not a cut or exposure change)
            frac = float(np.mean(rise > 0.5 * r)) if r > 0 else 1.0
            by, bx = divmod(k, bw)
            y0, x0 = max(0, by - 1), max(0, bx - 1)
            near = rise[y0:by + 2, x0:bx + 2]
            yy, xx = np.nonzero(near > 0.5 * r) if r > 0 else (np.zeros(0, int), np.zeros(0, int))
            foot = (yy + y0) * bw + (xx + x0)          # the flash's footprint: patches around k
            self._pending.append(dict(pts_s=float(pts_s), rise=r, block=k, shape=(bh, bw),
                                      base=float(bg.flat[k]), frac=frac, after=[], fell=False,
                                      foot=foot, foot_base=bg.flat[foot].copy(),
                                      foot_rise=rise.flat[foot].copy()))
        self._hist.append((float(pts_s), blk))

    def _flash_like(self, p: dict[str, Any], *, online: bool = False) -> bool:
        """Rose enough, locally; ``online``: and stands out of the noise of the frames so far (the
        final judgement uses the whole feed's).
        """
        if p["rise"] < self.min_rise or p["frac"] > 0.3:
            return False
        if online:
            n = len(self._rises)
            if n >= NOISE_MIN_FRAMES and (self._noise is None or n % NOISE_EVERY == 0):
                self._noise = _noise_model(self._rises)
            if self._noise is not None and (p["rise"] - self._noise[0]) / self._noise[1] < self.z_min:
                return False
        return True

    def _mask(self, p: dict[str, Any], now: np.ndarray) -> None:
        """Put the flash's frame and its decay, up to and including ``now`` (the frame that shows
        it fallen back; changed in place), back to the background over its footprint: an
        afterglow is then no flash of its own, and the next flash there rises from the scene.
        """
        foot, base = p["foot"], p["foot_base"]
        for b in [b for t, b in self._hist if t >= p["pts_s"]] + [now]:
            b.flat[foot] = np.minimum(b.flat[foot], base)

    def _judge(self, p: dict[str, Any]) -> None:
        # kept whether or not it fell back within DECAY_FRAMES (``fell``): a rise that lasted is
        # no flash, but shows where something moved (see :func:`drop_moving_objects`)
        if self._flash_like(p):
            self._cand.append(p)

    def finish(self) -> list[dict[str, Any]]:
        while self._pending:
            p = self._pending.popleft()
            if len(p["after"]) >= 1:
                self._judge(p)
        med, mad = _noise_model(self._rises)
        strong = [(p, (p["rise"] - med) / mad) for p in self._cand if (p["rise"] - med) / mad >= self.z_min]
        out = [self._event(p, z) for p, z in _one_per_run([c for c in strong if c[0]["fell"]], 1.5 / self.fps)]
        # local rises that lasted are no flashes, but they trace where a warm object moved
        trail = [self._event(p, z) for p, z in strong if not p["fell"]]
        return drop_moving_objects(out, trail=trail)

    def _event(self, p: dict[str, Any], z: float) -> dict[str, Any]:
        bh, bw = p["shape"]
        by, bx = divmod(p["block"], bw)
        conf = float(np.clip((z - self.z_min) / (2 * self.z_min), 0.0, 1.0) * 0.5 + 0.5)
        return {
            "time_s": p["pts_s"] + 0.5 / self.fps,
            "frame_pts_s": p["pts_s"],
            "confidence": round(conf, 3),
            "evidence": {"method": "visual-flash", "algorithm_version": ALGORITHM_VERSION,
                         "measurements": {"rise_grey": round(p["rise"], 1), "z": round(z, 1),
                                          "x": round((bx + 0.5) / bw, 3), "y": round((by + 0.5) / bh, 3),
                                          "picture_fraction_rising": round(p["frac"], 3)}},
        }


def _one_per_run(cands: list[tuple[dict[str, Any], float]], gap_s: float) -> list[tuple[dict[str, Any], float]]:
    """Candidates in consecutive frames (each within ``gap_s`` of the last) are one event: its
    first frame; except two, at spots more than a patch apart, which are two flashes (two
    shooters a frame apart). Three or more frames in a row rising at one spot after another are
    the camera or something in the picture moving, kept as one (what it is, the others judge).
    """
    out: list[tuple[dict[str, Any], float]] = []
    run: list[tuple[dict[str, Any], float]] = []
    for c in cands + [None]:  # type: ignore[list-item]
        if c is not None and run and c[0]["pts_s"] - run[-1][0]["pts_s"] < gap_s:
            run.append(c)
            continue
        if run:
            out.append(run[0])
            if len(run) == 2:
                (a, _), (b, _) = run
                bw = a["shape"][1]
                (ay, ax), (by, bx) = divmod(a["block"], bw), divmod(b["block"], bw)
                if max(abs(ay - by), abs(ax - bx)) > 1:
                    out.append(run[1])
        run = [c] if c is not None else []
    return out


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` averaging weights: output cell ``i`` is the mean over the input span
    ``[i * n_in / n_out, (i + 1) * n_in / n_out)``, partly covered pixels weighted by their overlap.

    Each row sums to 1; for ``n_in = k * n_out`` a row is ``k`` ones over ``k``.
    """
    if n_in < 1 or n_out < 1:
        raise ParameterError(f"area weights need sizes >= 1 (got {n_in} -> {n_out})")
    edges = np.arange(n_out + 1, dtype=np.float64) * (n_in / n_out)
    px = np.arange(n_in, dtype=np.float64)
    lo = np.maximum(edges[:-1, None], px[None, :])
    hi = np.minimum(edges[1:, None], px[None, :] + 1.0)
    return np.clip(hi - lo, 0.0, None) / (n_in / n_out)


_WEIGHTS: dict[tuple[int, int], np.ndarray] = {}


def area_mean(gray: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A grey image (H, W) reduced to ``shape`` = (h, w) by area averaging, as float32.

    Exact block means where the sizes divide; otherwise every output cell averages the input area
    it covers, partly covered pixels weighted by their overlap (what OpenCV's ``INTER_AREA``
    computes, without its rounding to the input's integer type).
    """
    g = np.asarray(gray, dtype=np.float32)
    (H, W), (h, w) = g.shape[:2], shape
    if H % h == 0 and W % w == 0:
        return g.reshape(h, H // h, w, W // w).mean(axis=(1, 3), dtype=np.float32)
    ry = _WEIGHTS.get((H, h))
    if ry is None:
        ry = _WEIGHTS.setdefault((H, h), area_weights(H, h).astype(np.float32))
    rx = _WEIGHTS.get((W, w))
    if rx is None:
        rx = _WEIGHTS.setdefault((W, w), area_weights(W, w).astype(np.float32))
    return ry @ g @ rx.T


#: A warm object crossing the picture (a car, a running person) brightens patch after patch along
#: its path; a muzzle flash lights one spot. Chains of at least this many "flashes", each within
#: MOVING_GAP_S of the last and a small step away from it, are a moving object, not gunfire.
MOVING_CHAIN = 4
MOVING_GAP_S = 0.35
MOVING_STEP = (0.01, 0.12)  # picture fractions: moved, but not jumped across the frame


def drop_moving_objects(flashes: list[dict[str, Any]], *,
                        trail: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Remove flash events that together trace a moving bright object (see :data:`MOVING_CHAIN`).

    ``trail``: local rises that did not fall back in time (not flashes themselves, same fields),
    which continue such a path between the flashes a moving object makes at patch edges.
    Flashes repeating at the *same* spot (one shooter firing again) never form such a chain.
    """
    def pos(f):
        m = f["evidence"]["measurements"]
        return np.array([m["x"], m["y"]])

    items = sorted([(f["frame_pts_s"], 0, k) for k, f in enumerate(flashes)]
                   + [(f["frame_pts_s"], 1, k) for k, f in enumerate(trail)])
    every = [(flashes, trail)[src][k] for _, src, k in items]
    n = len(every)
    chain_of = list(range(n))
    for i in range(1, n):
        for j in range(i - 1, -1, -1):  # the nearest earlier flash that continues a path
            if every[i]["frame_pts_s"] - every[j]["frame_pts_s"] > MOVING_GAP_S:
                break
            step = float(np.hypot(*(pos(every[i]) - pos(every[j]))))
            if MOVING_STEP[0] <= step <= MOVING_STEP[1]:
                chain_of[i] = chain_of[j]
                break
    sizes: dict[int, int] = {}
    for c in chain_of:
        sizes[c] = sizes.get(c, 0) + 1
    moving = set()
    for c, k in sizes.items():
        # net travel must be large too: alternating shooters 1-2 steps apart never add up
        if k >= MOVING_CHAIN:
            members = [pos(every[i]) for i in range(n) if chain_of[i] == c]
            if float(np.hypot(*(members[-1] - members[0]))) >= 2 * MOVING_STEP[1]:
                moving.add(c)
    dropped = {k for i, (_, src, k) in enumerate(items) if src == 0 and chain_of[i] in moving}
    return [f for k, f in enumerate(flashes) if k not in dropped]


def detect_flashes_in_frames(frames: Iterable[tuple[float, np.ndarray]], *, fps: float,
                             **kw: Any) -> list[dict[str, Any]]:
    """Flash events in ``(pts_s, grey uint8 HxW)`` frames (display order)."""
    det = FlashDetector(fps=fps, **kw)
    for t, g in frames:
        det.push(t, g)
    return det.finish()


def detect_flashes(path: str | os.PathLike, *, width: int = 160,
                   progress: Progress | None = None,
                   should_stop: ShouldStop | None = None, **kw: Any) -> list[dict[str, Any]]:
    """Decode ``path``'s video small (``width`` pixels wide, grey) and return its flash events.

    ``progress(fraction, message)`` follows the decode; ``should_stop()`` is polled after every
    frame and :class:`~media_core.errors.Cancelled` is raised when it returns True.

    Returns
    -------
    list of dict
        ``time_s`` (media time of the flash: centre of the first frame showing it),
        ``frame_pts_s``, ``confidence``, ``evidence``.

    Raises
    ------
    MediaError
        No video stream; DecodeError when FFmpeg fails.
    Cancelled
        ``should_stop()`` returned True.
    """
    import av

    from media_core.io.probe import open_container

    path = os.fspath(path)
    what = f"looking for flashes in {os.path.basename(path)}"
    container = open_container(path)
    try:
        if not container.streams.video:
            raise MediaError(path, "has no video stream to look for flashes in")
        vs = container.streams.video[0]
        vs.thread_type = "AUTO"
        if vs.codec_context.name in ("h264", "hevc"):
            # the deblocking filter only smooths block edges: skipping it is ~1/3 faster and does
            # not change a patch's mean brightness
            vs.codec_context.options = {"skip_loop_filter": "all"}
        fps = float(vs.average_rate or vs.guessed_rate or 30.0)
        c0 = container_start_s(container)
        cc = vs.codec_context
        w = min(width, cc.width or width)
        h = max(2, int(round((cc.height or w) * w / max(cc.width or w, 1) / 2)) * 2)
        dur = container_duration_s(container)
        det = FlashDetector(fps=fps, **kw)
        n = 0
        for frame in container.decode(vs):
            if frame.pts is None:
                continue
            t = ticks_to_seconds(frame.pts, vs.time_base) - c0
            g = frame.reformat(width=w, height=h, format="gray").to_ndarray()
            det.push(t, g)
            n += 1
            if progress is not None and dur and n % 250 == 0:
                progress(min(1.0, t / dur), what)
            check_cancel(should_stop, what)
        if progress is not None:
            progress(1.0, what)
        return det.finish()
    except av.FFmpegError as exc:
        raise DecodeError(path, f"video decoding failed ({exc.strerror or exc})") from None
    finally:
        container.close()


#: how far a flash's shot may sit from where its frame puts it beyond half a frame of quantisation:
#: the spread of muzzle-to-microphone travel between the shots of one volley (30 ms: 10 m)
SHOT_SPREAD_S = 0.03


def match_flashes(flash_times: Sequence[float], shot_times: Sequence[float], *, fps: float,
                  tolerance_s: float | None = None, min_matches: int = 3,
                  fit_drift_span_s: float = 120.0) -> dict[str, Any]:
    """Offset placing flashes (media time) on shots (shared time) by their interval pattern.

    Every flash/shot pair proposes an offset; each proposal is scored by how many flashes land
    within ``tolerance_s`` of a shot (default half a frame plus :data:`SHOT_SPREAD_S`); the best
    is refined by least squares over its matches (and drift, when the matches span
    ``fit_drift_span_s`` or more). The evidence reports the runner-up, how many matches chance
    alone would give at any offset (``chance_matches``, ``above_chance_sd``) and how many offsets
    of the whole search chance alone would expect to match as many (``chance_offsets_as_good``:
    binomial tail times the number of window-wide offsets; well under 1 for a real match).

    Returns
    -------
    dict
        ``offset_s`` (shared = offset_s + media * (1 + drift_ppm * 1e-6)) or None,
        ``drift_ppm``, ``confidence``, ``method`` "visual-flash", ``matches`` [(flash, shot)],
        ``uncertain_reason`` (None when usable), ``evidence``.
    """
    f = np.sort(np.asarray(flash_times, float))
    s = np.sort(np.asarray(shot_times, float))
    tol = float(tolerance_s) if tolerance_s is not None else 0.5 / fps + SHOT_SPREAD_S
    ev = {"method": "visual-flash", "algorithm_version": ALGORITHM_VERSION,
          "measurements": {"flashes": int(f.size), "shots": int(s.size), "tolerance_s": tol}}
    base = dict(offset_s=None, drift_ppm=0.0, confidence=0.0, method="visual-flash", matches=[],
                evidence=ev)
    if f.size < min_matches or s.size < min_matches:
        return base | {"uncertain_reason": f"too few events to match ({f.size} flashes, {s.size} shots; "
                                           f"need {min_matches})"}
    cands, scores = _search(f, s, tol)
    order = np.argsort(-scores, kind="stable")
    best_o = float(cands[order[0]])
    best = int(scores[order[0]])
    # runner-up: best score among offsets clearly different from the winner
    far = np.abs(cands - best_o) > 2 * tol
    second = int(scores[far].max()) if far.any() else 0
    chance, chance_sd, p_hit, n_in = _chance(f + best_o, s, tol)
    # offsets as independent as the window is wide, over every shift that overlaps the two
    n_offsets = max(1.0, (float(s[-1] - s[0]) + float(f[-1] - f[0])) / (2 * tol) + 1)
    as_good = n_offsets * _binom_tail(n_in, p_hit, best)
    clock, pairs, fitted = Clock(best_o, 0.0), [], False
    for _ in range(3):
        pairs = _pairs(clock.to_shared(f), s, tol, f)
        if not pairs:
            break
        pf = np.array([p[0] for p in pairs])
        ps = np.array([p[1] for p in pairs])
        fitted = len(pairs) >= 4 and np.ptp(pf) >= fit_drift_span_s
        if fitted:
            A = np.stack([np.ones_like(pf), pf], axis=1)
            (off, rate), *_ = np.linalg.lstsq(A, ps, rcond=None)
            clock = Clock.from_rate(float(off), float(rate))
        else:
            clock = Clock(float(np.mean(ps - pf)), clock.drift_ppm)
    n = len(pairs)
    resid = [ps_ - clock.to_shared(pf_) for pf_, ps_ in pairs]
    rms = float(np.sqrt(np.mean(np.square(resid)))) if resid else float("nan")
    runner = None
    if far.any():
        k2 = int(np.flatnonzero(far)[np.argmax(scores[far])])
        runner = {"offset_s": round(float(cands[k2]), 4), "matched": second}
    ev["measurements"].update(matched=n, runner_up_matched=second, residual_rms_ms=round(rms * 1e3, 2),
                              runner_up=runner, chance_matches=round(chance, 2), drift_fitted=bool(fitted),
                              above_chance_sd=round((best - chance) / chance_sd, 1),
                              chance_offsets_as_good=float(f"{as_good:.3g}"),
                              matches=[[round(a, 4), round(b, 4)] for a, b in pairs][:200])
    if n < min_matches:
        return base | {"uncertain_reason": f"only {n} flashes line up with shots (need {min_matches})"}
    unique = 1.0 - second / max(best, 1)
    conf = float(np.clip(unique, 0, 1) * min(1.0, n / 5.0) * (n / max(f.size, 1)) ** 0.5)
    reason = None
    if second >= best:
        reason = f"ambiguous: another offset also matches {second} flashes"
    elif conf < 0.3:
        reason = f"weak match: {n} of {f.size} flashes on shots, runner-up {second}"
    return base | {"offset_s": float(clock.offset_s), "drift_ppm": float(clock.drift_ppm),
                   "confidence": round(conf, 3), "matches": pairs, "uncertain_reason": reason,
                   "runner_up": runner}


def _chance(ft: np.ndarray, s: np.ndarray, tol: float) -> tuple[float, float, float, int]:
    """How many of the flashes at ``ft`` (shared time) would land within ``tol`` of an event at a
    random offset, and its standard deviation: the share ``p`` of the events' span within ``tol``
    of an event, times the ``n`` flashes inside that span (binomial; the deviation at least half a
    match). Returns ``(mean, sd, p, n)``.
    """
    a, b = float(s[0]) - tol, float(s[-1]) + tol
    starts, ends = s - tol, s + tol
    # the union of the windows: each window adds what the previous ones did not cover
    covered = float(np.sum(np.clip(ends - np.maximum(starts, np.concatenate([[a], ends[:-1]])), 0.0, None)))
    p = min(1.0, covered / max(b - a, 1e-9))
    n_in = int(np.sum((ft >= a) & (ft <= b)))
    return n_in * p, max(0.5, float(np.sqrt(n_in * p * (1.0 - p)))), p, n_in


def _binom_tail(n: int, p: float, k: int) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    import math

    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                                 + j * lp + (n - j) * lq) for j in range(k, n + 1)))


def _search(f: np.ndarray, s: np.ndarray, tol: float, *, top: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Offsets worth scoring and their scores (flashes within ``tol`` of an event).

    Every flash/event pair proposes an offset. All of them are counted on a grid of ``tol / 2``
    (per flash, the cells within ``tol`` of any of its proposals: how many flashes could land
    there), however many events there are (every onset of a release's feeds: millions of
    pairs); the best ``top`` cells are then scored exactly on a fine grid across each, so that
    the best window of width ``2 tol`` is found wherever its edges fall (frame quantisation puts
    a true match anywhere within half a frame).
    """
    step = tol / 2.0
    k = 2                                   # cells of ``step`` within ``tol``
    lo, hi = float(s[0] - f[-1]) - tol, float(s[-1] - f[0]) + tol
    nb = int(np.ceil((hi - lo) / step)) + 2 * k + 2
    counts = np.zeros(nb, np.int32)
    spread = np.arange(-k, k + 1)
    for fi in f:
        b = np.floor((s - fi - lo) / step).astype(np.int64) + k
        counts[np.unique((b[:, None] + spread[None, :]).ravel())] += 1
    best_cells: list[int] = []
    for b in np.argsort(-counts, kind="stable"):
        if counts[b] <= 0 or len(best_cells) >= top:
            break
        if all(abs(int(b) - c) > k for c in best_cells):
            best_cells.append(int(b))
    fine = np.linspace(-tol, tol, 17)
    cands = np.concatenate([lo + (np.array(best_cells, float) - k + 0.5) * step + d for d in fine]) \
        if best_cells else np.zeros(1)
    scores = np.array([_count(f + o, s, tol) for o in cands])
    return cands, scores


def _count(ft: np.ndarray, s: np.ndarray, tol: float) -> int:
    i = np.searchsorted(s, ft)
    lo = np.abs(ft - s[np.clip(i - 1, 0, s.size - 1)])
    hi = np.abs(s[np.clip(i, 0, s.size - 1)] - ft)
    return int(np.sum(np.minimum(lo, hi) <= tol))


def _pairs(ft: np.ndarray, s: np.ndarray, tol: float, f: np.ndarray) -> list[tuple[float, float]]:
    """One-to-one nearest matches (flash media time, shot time) within ``tol``."""
    cand = []
    for k, t in enumerate(ft):
        j = int(np.argmin(np.abs(s - t)))
        d = abs(s[j] - t)
        if d <= tol:
            cand.append((d, k, j))
    cand.sort()
    used_f, used_s, out = set(), set(), []
    for d, k, j in cand:
        if k in used_f or j in used_s:
            continue
        used_f.add(k)
        used_s.add(j)
        out.append((float(f[k]), float(s[j])))
    return sorted(out)
