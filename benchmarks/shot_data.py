"""Data sources for fitting and validating the gunshot model (issue 9), with their licences.

Each **source** yields clips: audio as the tool decodes it, plus what the truth says of it:

* ``onsets``: every shot's onset (generated media, the range recordings);
* ``count``: the number of shots, onsets unknown (a library clip labelled one shot);
* ``any``: "one or more shots", nothing else (most library clips);
* ``none``: not gunfire (distractors, explosions, handling noise).

Candidates are labelled from that truth only, never by the detector: with ``onsets`` a
candidate within 8 ms of a true onset (one-to-one, nearest first) is a shot and every other
candidate is not; with ``count`` == 1 the candidate with the most energy is the shot and the rest
are not; with ``any`` the candidate with the most energy is a shot and the rest are left out of
training (unknown); with ``none`` every candidate is not a shot.

**Licences.** Only sources with ``shippable=True`` may be used to fit the shipped model:
our generated families (a, b) and real recordings under CC BY 4.0 or WTFPL. The others (GPL,
non-commercial, research-only, none stated, per-clip licences we did not check) are for
validation only. See the README's "Gunshots" section for credits.

Clip tables (candidate times, features, labels) are cached in ``benchmarks/_work/shotdata/``.
"""
from __future__ import annotations

import hashlib
import json
import os
import pathlib
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REAL = pathlib.Path(os.environ.get("EVIDENCE_AUDIT_REAL_MEDIA", ROOT.parent / "shared" / "real_media"))
CACHE = ROOT / "benchmarks" / "_work" / "shotdata"
LABEL_TOL_S = 0.008

RANGE_TRUTH = {
    "range_pistol_9_shots.wav": ([9], [1.375, 1.587, 1.800, 2.007, 2.204, 2.419, 2.922, 3.164, 3.382]),
    "range_phone_17_shots.wav": ([17, 18], [0.254, 0.617, 0.886, 1.187, 1.450, 1.686, 1.985, 2.219, 2.524,
                                            2.775, 3.075, 3.340, 3.645, 3.896, 4.166, 4.415, 4.675, 4.936]),
}


@dataclass
class Clip:
    id: str
    y: np.ndarray
    sr: int
    label: str                       # onsets | count | any | none
    onsets: list[float] | None = None
    count: int | list[int] | None = None
    meta: dict[str, Any] | None = None


@dataclass(frozen=True)
class Source:
    """A generated source makes clip(s) ``one(i)`` for i < n; a real one reads ``files()``
    (``per_file`` clips each: re-rendered copies) through ``clips()``."""

    name: str
    family: str          # a | b | e (generated) | c (real gunfire) | d (distractors)
    shippable: bool
    licence: str
    one: Callable[[int], Clip | list[Clip]] | None = None
    n_default: int = 0
    real: Callable[[], Iterator[Clip]] | None = None
    files: Callable[[], list[pathlib.Path]] | None = None
    per_file: int = 1
    #: False: scored, never fitted on, although its licence would allow it (see the README: the
    #: scenes cut by mutes, and family e, cost held-out accuracy elsewhere when fitted on)
    fit: bool = True

    def clips(self, n: int | None = None) -> Iterator[Clip]:
        if self.one is not None:
            for i in range(self.n_default if n is None else n):
                yield from self.clips_at(i)
        elif self.real is not None:
            yield from self.real()

    def clips_at(self, i: int) -> list[Clip]:
        """Generated clip(s) number ``i`` (an incident gives one clip per feed)."""
        got = self.one(i)
        return got if isinstance(got, list) else [got]

    def count(self) -> int:
        """Clips of a real source, without decoding anything."""
        return len(self.files()) * self.per_file if self.files else 0


# ----------------------------------------------------------------------------------------------
# decoding as the tool does

def decode_mono(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """A file's audio as the detector sees it (loudest channel per sample), float32."""
    from media_core.analysis.shots import _mono
    from media_core.io.decode import iter_audio_blocks

    blocks = list(iter_audio_blocks(path))
    if not blocks:
        return np.zeros(0, np.float32), 48000
    sr = int(blocks[0].sr)
    # sample k of the array is media time k / sr (a late audio start or a gap is silence), so
    # truth onsets on the file's timeline index it directly, as the listener's times do
    end = max(int(round(b.start_s * sr)) + b.y.shape[-1] for b in blocks)
    y = np.zeros(max(end, 0), np.float32)
    for b in blocks:
        k = int(round(b.start_s * sr))
        x = _mono(b.y)
        if k < 0:
            x, k = x[-k:], 0
        y[k: k + x.size] = x
    return y, sr


def codec_roundtrip_a(y: np.ndarray, sr: int, tmp: pathlib.Path, name: str) -> np.ndarray:
    """Family a's chain: AAC 64 kb/s in .m4a through write_media (as issue 4's benchmark)."""
    from sample_media.encode import write_media

    p = write_media(tmp / f"{name}.m4a", audio=y, sr=sr, audio_codec="aac", audio_bitrate=64000, video=False)
    out, _ = decode_mono(p)
    p.unlink()
    return out


# ----------------------------------------------------------------------------------------------
# family a: the present renderer (sample_media.gunshot / distractors)

def _tmpdir() -> pathlib.Path:
    d = ROOT / "benchmarks" / "_work" / "tmp" / str(os.getpid())
    d.mkdir(parents=True, exist_ok=True)
    return d


def _a_shots(i: int) -> Clip:
    from sample_media.gunshot import render_incident_audio
    from sample_media.scenes import two_shooter_incident

    rng = np.random.default_rng(1_000_000 + i)
    sr = 48000
    kind = i % 3
    if kind == 0:
        rounds = (int(rng.integers(1, 11)), int(rng.integers(0, 11)))
        y, truth = two_shooter_incident(rng, sr=sr, rounds=rounds)
    else:
        n = int(rng.integers(1, 6))
        t = 0.3 + np.cumsum(rng.uniform(0.07, 1.0, n))
        dist = (float(rng.uniform(1.0, 10.0)), float(rng.uniform(10.0, 60.0)))
        shots = [{"time_s": float(x), "caliber": str(rng.choice(["pistol", "rifle"]))} for x in t]
        y, truth = render_incident_audio(float(t[-1] + 1.5), sr, shots, rng, distance_m=dist,
                                         noise_dbfs=float(rng.uniform(-65, -40)),
                                         agc={"attack_s": float(rng.uniform(0.002, 0.03)),
                                              "release_s": float(rng.uniform(0.3, 2.0))})
    y = _post_gain(codec_roundtrip_a(y, sr, _tmpdir(), f"a{i}"), np.random.default_rng(7_000_000 + i), 0.3)
    on = [e["time_s"] for e in truth if e["kind"] == "gunshot"]
    return Clip(f"a/shots/{i}", y, sr, "onsets", onsets=on, count=len(on))


def _a_distractor(i: int) -> Clip:
    from sample_media.distractors import KINDS, render_distractor
    from sample_media.gunshot import render_incident_audio

    rng = np.random.default_rng(2_000_000 + i)
    sr = 48000
    kind = KINDS[i % len(KINDS)]
    x = render_distractor(kind, sr=sr, rng=rng) * np.float32(10 ** (rng.uniform(-20.0, 6.0) / 20))
    y, _ = render_incident_audio(5.0, sr, [], rng, distractors=[(1.0, x, {"kind": kind})],
                                 agc={"attack_s": float(rng.uniform(0.002, 0.02)),
                                      "release_s": float(rng.uniform(0.3, 2.0))},
                                 noise_dbfs=float(rng.uniform(-65.0, -42.0)))
    y = codec_roundtrip_a(y, sr, _tmpdir(), f"ad{i}")
    return Clip(f"a/distractor/{kind}/{i}", y, sr, "none", count=0, meta={"kind": kind})


def _a_incident(i: int) -> list[Clip]:
    """The demo incident generator (sample_media.incident, fast mode) at seed 101 + i:
    two body cams and a dash cam hearing the same volley, with door slams, a knock, a mic
    bump, shouting, radio and a car. Seed 7 (the demo) is never used for fitting."""
    import json
    import shutil

    from sample_media.incident import build_incident

    seed = 101 + i
    d = _tmpdir() / f"incident{seed}"
    truth = json.loads(build_incident(d, seed=seed, fast=True).read_text())
    out = []
    for feed in truth["feeds"]:
        if not feed["has_audio"]:
            continue
        y, sr = decode_mono(d / feed["file"])
        on = [s["onset_s"] for s in feed["shots"]]
        out.append(Clip(f"a/incident/{seed}/{feed['file']}", y, sr, "onsets", onsets=on, count=len(on)))
    shutil.rmtree(d, ignore_errors=True)
    return out


def _a_muted(i: int, shots: bool) -> Clip:
    """Family a's audio cut by digital-silence mutes (:func:`sample_media.muted_scenes.insert_mutes`)
    before its AAC (a camera's mute) or after it (a redaction): shouting, slams and knocks over
    noise (``shots`` False), or a few shots the first of which follows a mute's end by 5 ms to 1 s."""
    from sample_media.distractors import render_distractor
    from sample_media.gunshot import render_incident_audio
    from sample_media.muted_scenes import insert_mutes

    rng = np.random.default_rng((8_000_000 if shots else 9_000_000) + i)
    sr = 48000
    agc = {"attack_s": float(rng.uniform(0.002, 0.03)), "release_s": float(rng.uniform(0.3, 2.0))}
    noise = float(rng.uniform(-65.0, -40.0))
    if shots:
        n = int(rng.integers(1, 6))
        t = float(rng.uniform(0.05, 3.0)) + np.cumsum(np.r_[0.0, rng.uniform(0.07, 1.0, n - 1)])
        sh = [{"time_s": float(x), "caliber": str(rng.choice(["pistol", "rifle"]))} for x in t]
        y, truth = render_incident_audio(float(t[-1] + 1.5), sr, sh, rng, noise_dbfs=noise, agc=agc,
                                         distance_m=(float(rng.uniform(1.0, 10.0)), float(rng.uniform(10.0, 60.0))))
        on = [e["time_s"] for e in truth if e["kind"] == "gunshot"]
    else:
        dur = float(rng.uniform(4.0, 10.0))
        kinds = ["shouting"] * int(rng.integers(2, 6)) + [str(k) for k in rng.choice(
            ["door_slam", "knock", "footsteps", "hand_clap"], int(rng.integers(0, 2)))]
        dis = [(float(rng.uniform(0.0, dur - 0.5)), render_distractor(k, sr=sr, rng=rng)
                * np.float32(10 ** (rng.uniform(-24.0, 0.0) / 20)), {"kind": k}) for k in kinds]
        y, _ = render_incident_audio(dur, sr, [], rng, distractors=dis, agc=agc, noise_dbfs=noise)
        on = []
    post = rng.random() < 0.3
    if not post:
        y, mutes = insert_mutes(y, sr, rng, keep=on, before=min(on) if on else None)
    y = codec_roundtrip_a(y, sr, _tmpdir(), f"am{int(shots)}{i}")
    if post:
        y, mutes = insert_mutes(y, sr, rng, keep=on, before=min(on) if on else None)
    y = _post_gain(y, np.random.default_rng(9_500_000 + i), 0.3)
    meta = {"mutes": mutes, "mute_stage": "post" if post else "pre_codec"}
    if shots:
        return Clip(f"a/muted/{meta['mute_stage']}/{i}", y, sr, "onsets", onsets=on, count=len(on), meta=meta)
    return Clip(f"a/muted/{meta['mute_stage']}/{i}", y, sr, "none", count=0, meta=meta)


# ----------------------------------------------------------------------------------------------
# family b: the second renderer (sample_media.gunfire_b / distractors_b / chains)

def _post_gain(y: np.ndarray, rng: np.random.Generator, p: float = 0.4) -> np.ndarray:
    """With probability ``p``, the whole recording 6-30 dB quieter: a camera or recorder set to a
    low gain, or a clip normalised down. Its clipped fronts stay clipped-shaped below full scale,
    so the model cannot learn "loud = shot" from level alone."""
    if rng.random() < p:
        return (y * np.float32(10 ** (-rng.uniform(6.0, 30.0) / 20))).astype(np.float32)
    return y


def _shot_scene(family: str, i: int, render: Callable[..., Any], seed: int, gain_seed: int) -> Clip:
    """Scene ``i`` of a renderer (``render(rng) -> (y, sr, truth)``), perhaps made quieter."""
    y, sr, truth = render(np.random.default_rng(seed + i))
    y = _post_gain(np.asarray(y, np.float32), np.random.default_rng(gain_seed + i))
    on = [s["time_s"] for s in truth["shots"]]
    return Clip(f"{family}/shots/{i}", y, int(sr), "onsets", onsets=on, count=len(on),
                meta={"chain": truth.get("chain")})


def _b_shots(i: int) -> Clip:
    from sample_media.gunfire_b import render_scene_b

    return _shot_scene("b", i, render_scene_b, 3_000_000, 5_000_000)


def _b_distractor(i: int) -> Clip:
    from sample_media.distractors_b import KINDS_B, render_distractor_scene_b

    rng = np.random.default_rng(4_000_000 + i)
    kind = KINDS_B[i % len(KINDS_B)]
    y, sr, truth = render_distractor_scene_b(rng, kind)
    y = np.asarray(y, np.float32)
    if rng.random() < 0.5:
        # half the clips as loud as a close body-cam hears them: the loudest event peaks at
        # -8..+2 dBFS (then the converter clips), as a slammed door or a clap next to the camera
        pk = float(np.max(np.abs(y))) or 1.0
        y = np.clip(y * np.float32(10 ** (rng.uniform(-8.0, 2.0) / 20) / pk), -1.0, 1.0)
    else:
        y = _post_gain(y, np.random.default_rng(6_000_000 + i))
    return Clip(f"b/distractor/{kind}/{i}", np.asarray(y, np.float32), int(sr), "none", count=0,
                meta={"kind": kind, "chain": truth.get("chain")})


def _b_muted(i: int, shots: bool) -> Clip:
    """Family b's scenes cut by digital-silence mutes (:func:`sample_media.muted_scenes.render_muted_scene_b`)."""
    from sample_media.muted_scenes import render_muted_scene_b

    rng = np.random.default_rng((10_000_000 if shots else 11_000_000) + i)
    y, sr, truth = render_muted_scene_b(rng, shots=shots)
    y = _post_gain(y, np.random.default_rng(12_000_000 + i), 0.3)
    meta = {"mutes": truth["mutes"], "mute_stage": truth["mute_stage"], "chain": truth.get("chain")}
    if shots:
        on = [s["time_s"] for s in truth["shots"]]
        return Clip(f"b/muted/{meta['mute_stage']}/{i}", y, sr, "onsets", onsets=on, count=len(on), meta=meta)
    return Clip(f"b/muted/{meta['mute_stage']}/{i}", y, sr, "none", count=0, meta=meta)


# ----------------------------------------------------------------------------------------------
# family e: the third renderer (sample_media.gunfire_e / distractors_e / chains_e)

def _e_shots(i: int) -> Clip:
    from sample_media.gunfire_e import render_scene_e

    return _shot_scene("e", i, render_scene_e, 20_000_000, 21_000_000)


def _e_distractor(i: int) -> Clip:
    from sample_media.distractors_e import KINDS_E, render_distractor_scene_e

    rng = np.random.default_rng(22_000_000 + i)
    kind = KINDS_E[i % len(KINDS_E)]
    y, sr, truth = render_distractor_scene_e(rng, kind)
    y = _post_gain(np.asarray(y, np.float32), np.random.default_rng(23_000_000 + i))
    return Clip(f"e/distractor/{kind}/{i}", y, int(sr), "none", count=0,
                meta={"kind": kind, "chain": truth.get("chain")})


# ----------------------------------------------------------------------------------------------
# real recordings (../shared/real_media), as they are

def _files(sub: str, pattern: str) -> list[pathlib.Path]:
    d = REAL / sub
    return sorted(d.glob(pattern)) if d.is_dir() else []


def _real(paths: list[pathlib.Path], label: str, tag: str, **kw: Any) -> Iterator[Clip]:
    for p in paths:
        y, sr = decode_mono(p)
        yield Clip(f"{tag}/{p.name}", y, sr, label, **kw)


_P229 = "gunshots_more/shot_timer_p229"
_ESC50 = ("esc50_303_Clapping", "esc50_306_Footsteps", "esc50_401_Door_knock", "esc50_410_Glass_breaking",
          "esc50_509_Fireworks")
#: the files each real source reads, defined once (loaders and clip counts use them)
FILES: dict[str, Callable[[], list[pathlib.Path]]] = {
    "range_gpl": lambda: [REAL / "gunshots" / k for k in RANGE_TRUTH if (REAL / "gunshots" / k).is_file()],
    "p229_fire": lambda: _files(_P229, "*_Fire.wav"),
    "p229_handling": lambda: [p for p in _files(_P229, "*.wav") if not p.name.endswith("_Fire.wav")],
    "multi_device": lambda: _files("gunshots_more/range_multi_device", "*.wav"),
    "sesa_gun": lambda: _files("gunshots_more/sesa_train", "gunshot_*.wav"),
    "sesa_explosion": lambda: _files("gunshots_more/sesa_train", "explosion_*.wav"),
    "freesound": lambda: [p for p in _files("gunshots_more/freesound", "*.wav") if not p.name.startswith("Sample_1")],
    "esc50": lambda: [p for cls in _ESC50 for p in _files(f"distractors/{cls}", "*.ogg")],
    "dcase2016": lambda: _files("distractors/dcase2016", "*.wav"),
    "audioset_fireworks": lambda: _files("distractors/fireworks_audioset", "*"),
    "thunder": lambda: _files("distractors/thunder", "*"),
}


def real_range() -> Iterator[Clip]:
    for p in FILES["range_gpl"]():
        counts, onsets = RANGE_TRUTH[p.name]
        y, sr = decode_mono(p)
        yield Clip(f"range/{p.name}", y, sr, "onsets", onsets=onsets, count=counts)


def p229_fire() -> Iterator[Clip]:
    yield from _real(FILES["p229_fire"](), "count", "p229", count=1)


def p229_handling() -> Iterator[Clip]:
    yield from _real(FILES["p229_handling"](), "none", "p229h", count=0)


def multi_device() -> Iterator[Clip]:
    yield from _real(FILES["multi_device"](), "count", "glock", count=1)


def sesa_gun() -> Iterator[Clip]:
    yield from _real(FILES["sesa_gun"](), "any", "sesa")


def sesa_explosion() -> Iterator[Clip]:
    yield from _real(FILES["sesa_explosion"](), "none", "sesax", count=0)


def freesound() -> Iterator[Clip]:
    yield from _real(FILES["freesound"](), "any", "freesound")


def esc50() -> Iterator[Clip]:
    for cls in _ESC50:
        yield from _real(_files(f"distractors/{cls}", "*.ogg"), "none", cls, count=0)


def dcase() -> Iterator[Clip]:
    yield from _real(FILES["dcase2016"](), "none", "dcase", count=0)


def audioset_fireworks() -> Iterator[Clip]:
    yield from _real(FILES["audioset_fireworks"](), "none", "audioset_fw", count=0)


def thunder() -> Iterator[Clip]:
    yield from _real(FILES["thunder"](), "none", "thunder", count=0)


# ----------------------------------------------------------------------------------------------
# real recordings re-rendered through distance, clipping, gain-control and codec chains

def _rerender(base: Callable[[], Iterator[Clip]], tag: str, seed: int, k: int) -> Callable[[], Iterator[Clip]]:
    def gen() -> Iterator[Clip]:
        from sample_media.chains import apply_chain, random_chain

        for c in base():
            # label the original first, so the rendered clip keeps a truth-derived label
            anchor = _anchor_time(c)
            for j in range(k):
                h = int(hashlib.sha256(f"{c.id}/{j}/{seed}".encode()).hexdigest()[:8], 16)
                rng = np.random.default_rng(h)
                pad = int(0.5 * c.sr)
                x = np.concatenate([np.zeros(pad, np.float32), c.y.astype(np.float32), np.zeros(pad, np.float32)])
                x = x + np.float32(1e-4) * rng.standard_normal(x.size).astype(np.float32)
                # the chain works in its own level units (a pistol 1 m away is about +35 dBFS):
                # the recording becomes a source of that strength, heard from the chain's distance
                pk = float(np.max(np.abs(x))) or 1.0
                x = x * np.float32(10 ** (rng.uniform(22.0, 40.0) / 20) / pk)
                spec = random_chain(rng)
                y2, sr2 = apply_chain(x, c.sr, spec, rng)
                y2 = _post_gain(np.asarray(y2, np.float32), rng)
                on = [t + 0.5 for t in c.onsets] if c.onsets else None
                meta = {"chain": spec, "anchor_s": (anchor + 0.5) if anchor is not None else None}
                yield Clip(f"{tag}/{c.id}/{j}", np.asarray(y2, np.float32), int(sr2), c.label, onsets=on,
                           count=c.count, meta=meta)
    return gen


def _loudest(t: np.ndarray, y: np.ndarray, sr: int) -> int:
    """Index of the candidate with the most energy in the 10 ms after its onset."""
    n = max(int(0.010 * sr), 1)
    en = [float(np.sum(y[int(x * sr): int(x * sr) + n].astype(np.float64) ** 2)) for x in t]
    return int(np.argmax(en))


def _anchor_time(c: Clip) -> float | None:
    """For ``count``/``any`` clips: onset of the most energetic candidate of the original."""
    if c.label not in ("count", "any"):
        return None
    from media_core.analysis.shots import candidate_table

    t, _ = candidate_table(c.y, c.sr)
    return float(t[_loudest(t, c.y, c.sr)]) if t.size else None


# ----------------------------------------------------------------------------------------------
# registry

def _files_of(*names: str) -> Callable[[], list[pathlib.Path]]:
    return lambda: [p for n in names for p in FILES[n]()]


SOURCES: dict[str, Source] = {s.name: s for s in [
    Source("a_shots", "a", True, "ours (generated)", one=_a_shots, n_default=240),
    Source("a_incidents", "a", True, "ours (generated)", one=_a_incident, n_default=12),
    Source("b_shots", "b", True, "ours (generated)", one=_b_shots, n_default=360),
    Source("e_shots", "e", True, "ours (generated)", one=_e_shots, n_default=300, fit=False),
    Source("p229_fire", "c", True, "WTFPL (RedKage/pc-shot-timer)", real=p229_fire, files=FILES["p229_fire"]),
    Source("multi_device", "c", True, "CC BY 4.0 (Zenodo 7004819 via rizki-ap/Gunshot-Locator)", real=multi_device,
           files=FILES["multi_device"]),
    Source("sesa_gun", "c", True, "CC BY 4.0 (SESA, Zenodo)", real=sesa_gun, files=FILES["sesa_gun"]),
    Source("real_rerendered", "c", True, "CC BY 4.0 / WTFPL, re-rendered", real=_rerender(
        lambda: (c for f in (p229_fire, multi_device, sesa_gun) for c in f()), "rr", 0, 3),
           files=_files_of("p229_fire", "multi_device", "sesa_gun"), per_file=3),
    Source("range_gpl", "c", False, "GPL (openshottimer): validation only", real=real_range, files=FILES["range_gpl"]),
    Source("range_gpl_rerendered", "c", False, "GPL: validation only", real=_rerender(real_range, "rrg", 1, 4),
           files=FILES["range_gpl"], per_file=4),
    Source("freesound", "c", False, "per-clip Freesound licences: validation only", real=freesound,
           files=FILES["freesound"]),
    Source("a_muted_shots", "a", True, "ours (generated)", one=lambda i: _a_muted(i, True), n_default=80,
           fit=False),
    Source("b_muted_shots", "b", True, "ours (generated)", one=lambda i: _b_muted(i, True), n_default=120,
           fit=False),
    Source("a_distractors", "d", True, "ours (generated)", one=_a_distractor, n_default=200),
    Source("a_muted", "d", True, "ours (generated)", one=lambda i: _a_muted(i, False), n_default=160,
           fit=False),
    Source("b_muted", "d", True, "ours (generated)", one=lambda i: _b_muted(i, False), n_default=200,
           fit=False),
    Source("b_distractors", "d", True, "ours (generated)", one=_b_distractor, n_default=400),
    Source("e_distractors", "d", True, "ours (generated)", one=_e_distractor, n_default=406, fit=False),
    Source("p229_handling", "d", True, "WTFPL", real=p229_handling, files=FILES["p229_handling"]),
    Source("sesa_explosion", "d", True, "CC BY 4.0 (SESA)", real=sesa_explosion, files=FILES["sesa_explosion"]),
    Source("handling_rerendered", "d", True, "WTFPL / CC BY 4.0, re-rendered", real=_rerender(p229_handling, "rh", 2, 3),
           files=FILES["p229_handling"], per_file=3),
    Source("esc50", "d", False, "CC BY-NC 3.0: validation only", real=esc50, files=FILES["esc50"]),
    Source("dcase2016", "d", False, "research use: validation only", real=dcase, files=FILES["dcase2016"]),
    Source("audioset_fireworks", "d", False, "no licence stated: validation only", real=audioset_fireworks,
           files=FILES["audioset_fireworks"]),
    Source("thunder", "d", False, "unknown: validation only", real=thunder, files=FILES["thunder"]),
]}


# ----------------------------------------------------------------------------------------------
# candidate tables

def label_candidates(t: np.ndarray, c: Clip) -> np.ndarray:
    """Per-candidate label from the clip's truth: 1 shot, 0 not, -1 unknown (left out)."""
    lab = np.zeros(t.size, dtype=np.int8)
    if t.size == 0 or c.label == "none":
        return lab
    if c.label == "onsets":
        used: set[int] = set()
        for on in sorted(c.onsets or []):
            d = np.abs(t - on)
            for j in np.argsort(d):
                if d[j] > LABEL_TOL_S:
                    break
                if j not in used:
                    used.add(int(j))
                    lab[j] = 1
                    break
        return lab
    anchor = (c.meta or {}).get("anchor_s")
    if anchor is not None:
        j = int(np.argmin(np.abs(t - anchor)))
        ok = abs(t[j] - anchor) <= LABEL_TOL_S
    else:
        j = _loudest(t, c.y, c.sr)
        ok = True
    if c.label == "count" and c.count == 1:
        lab[:] = 0
    else:
        lab[:] = -1
    if ok:
        lab[j] = 1
    return lab


def clip_table(c: Clip) -> dict[str, Any]:
    from media_core.analysis.shots import candidate_table

    t, F = candidate_table(c.y, c.sr)
    lab = label_candidates(t, c)
    rec = None
    if c.onsets:
        hit = [bool(t.size and np.min(np.abs(t - o)) <= 0.010) for o in c.onsets]
        rec = [int(sum(hit)), len(hit)]
    return {"id": c.id, "t": t, "F": F.astype(np.float32), "lab": lab, "label": c.label,
            "onsets": list(c.onsets or []), "count": c.count, "dur_s": c.y.size / float(c.sr), "sr": c.sr,
            "recall": rec, "meta": c.meta or {}}


def _cache_key(name: str, n: int) -> str:
    import inspect

    from media_core.analysis import shots
    from media_core.analysis.shot_candidates import CandidateParams
    from media_core.analysis.shot_features import FEATURE_NAMES, FEATURE_VERSION

    src = [ROOT / "media_core" / "analysis" / f for f in ("shot_candidates.py", "shot_features.py", "shot_rate.py")]
    src.append(pathlib.Path(__file__))
    if name.startswith(("a_",)):
        src += [ROOT / "sample_media" / f for f in ("gunshot.py", "distractors.py", "scenes.py", "audio.py")]
    if name == "a_incidents":
        src.append(ROOT / "sample_media" / "incident.py")
    if name.startswith("b_") or "rerendered" in name:
        src += [ROOT / "sample_media" / f for f in ("gunfire_b.py", "distractors_b.py", "chains.py")]
    if name.startswith("e_"):
        src += [ROOT / "sample_media" / f for f in ("gunfire_e.py", "distractors_e.py", "chains_e.py")]
    if "muted" in name:
        src.append(ROOT / "sample_media" / "muted_scenes.py")
    missing = [str(f) for f in src if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"shot_data cache key: source file(s) moved: {', '.join(missing)}")
    h = hashlib.sha256(json.dumps([name, n, FEATURE_VERSION, list(FEATURE_NAMES), repr(CandidateParams())]).encode())
    # of shots.py only the code that makes a table (not its version string or decision step)
    for fn in (shots._candidates, shots.candidate_table, shots._mono, shots._loudest_channel):
        h.update(inspect.getsource(fn).encode())
    for f in src:
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def _table_worker(args: tuple[str, int, int, int]) -> list[dict[str, Any]]:
    """Tables of clips ``lo..hi-1`` of a source (generated clips are made independently by index)."""
    name, n, lo, hi = args
    src = SOURCES[name]
    if src.one is not None:
        return [clip_table(c) for i in range(lo, hi) for c in src.clips_at(i)]
    return [clip_table(c) for k, c in enumerate(src.clips()) if lo <= k < hi]


def tables(name: str, n: int | None = None, *, workers: int = 2, verbose: bool = True) -> list[dict[str, Any]]:
    """Candidate tables of every clip of a source (cached)."""
    import pickle  # local cache of our own arrays only; never shipped, never loaded from elsewhere

    src = SOURCES[name]
    n = src.n_default if n is None else n
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{n}-{_cache_key(name, n)}.pkl"
    if path.is_file():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    import time

    t0 = time.time()
    if src.one is not None:
        step = max(1, n // (workers * 4))
        jobs = [(name, n, lo, min(n, lo + step)) for lo in range(0, n, step)]
    else:
        total = src.count()
        if total == 0:
            return []
        step = max(1, -(-total // (workers * 2)))
        jobs = [(name, n, lo, min(total, lo + step)) for lo in range(0, total, step)]
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_table_worker, jobs)
    else:
        parts = [_table_worker(j) for j in jobs]
    out = [r for part in parts for r in part]
    with open(path, "wb") as fh:
        pickle.dump(out, fh)
    if verbose:
        print(f"[data] {name}: {len(out)} clips, {sum(r['t'].size for r in out)} candidates "
              f"in {time.time() - t0:.0f} s", file=sys.stderr)
    return out
