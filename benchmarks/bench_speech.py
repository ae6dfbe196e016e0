"""Speech leads: keyword recall over SNR per synthesizer, false leads per minute, speed.

    python benchmarks/bench_speech.py [--quick] [--tune] [--aac/--no-aac] [--raw-out FILE]

Voices of two independent synthesizers (espeak-ng: formant synthesis; flite: CMU diphone and
cluster units) speak the phrases of ``sample_media.speech.KEYWORD_PHRASES`` at body-cam levels
over street noise at 20, 15, 10 and 5 dB SNR, through clipping, AGC and AAC (64 kb/s). The
threshold rule of ``media_core.analysis.speech`` was fitted on espeak-ng (``--tune`` refits it);
flite is held out. Every figure is printed beside the untuned baseline (PocketSphinx's default
threshold 1e-30 for every keyword). False leads: 10 minutes of keyword-free police talk per
synthesizer at 10 dB SNR. Speed: a feed with 5 mutes, leads computed end to end (decode of the
windows only, spotting, context transcripts).

A keyword occurrence counts as found when a lead of that keyword (or of its other form: mute /
muting, turn off / turning off, mic / microphone) overlaps the spoken phrase (±0.3 s). A lead that
overlaps no phrase holding its keyword is false.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from media_core.analysis import speech as sp  # noqa: E402
from sample_media import speech as gen  # noqa: E402

SNRS = (20.0, 15.0, 10.0, 5.0)
TUNE_ENGINE, HELD_OUT = "espeak-ng", "flite"
FAMILIES = [{"mute", "muting"}, {"turn off", "turning off"}, {"mic", "microphone"}]
SPACING_S = 4.0


def family(k: str) -> set[str]:
    return next((f for f in FAMILIES if k in f), {k})


def feed_audio(voice, snr, seed, *, aac: bool, phrases=None, spacing=SPACING_S):
    phrases = phrases if phrases is not None else gen.KEYWORD_PHRASES
    ph = [gen.Phrase(1.0 + spacing * i, text, voice, tuple(kw), level_dbfs=float(np.random.default_rng(seed + i).uniform(-26, -16)))
          for i, (text, kw) in enumerate(phrases)]
    dur = 1.0 + spacing * len(ph) + 1.0
    y = gen.mix_phrases(ph, duration_s=dur, snr_db=snr, rng=seed)
    if aac:
        from sample_media.encode import write_media
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "f.m4a")
            write_media(p, audio=y, sr=48000, audio_codec="aac", audio_bitrate=64000, video=False)
            y16 = sp.read_audio(p, 0.0, dur)
    else:
        from scipy.signal import resample_poly
        y16 = resample_poly(y.astype(np.float64), 1, 3).astype(np.float32)
    return y16, ph


def neutral_phrases(rng, n):
    s = list(gen.NEUTRAL_SENTENCES)
    out = []
    while len(out) < n:
        rng.shuffle(s)
        out += [(t, ()) for t in s]
    return out[:n]


def raw_hits(spotter, y16):
    return spotter.spot(y16, all_scores=True)


def score_recall(hits, phrases):
    found = total = 0
    for p in phrases:
        for k in p.keywords:
            total += 1
            fam = family(k)
            if any(h.keyword in fam and h.start_s < p.end_s + 0.3 and h.end_s > p.time_s - 0.3 for h in hits):
                found += 1
    return found, total


def false_leads(hits, phrases):
    n = 0
    for h in hits:
        ok = any(h.start_s < p.end_s + 0.3 and h.end_s > p.time_s - 0.3 and any(h.keyword in family(k) for k in p.keywords)
                 for p in phrases)
        n += not ok
    return n


def collect(engine, *, quick, aac, spotter):
    """Raw detections (all scores) for every voice and SNR, and for the neutral talk."""
    voices = gen.voices(engine)
    if quick:
        voices = voices[1::3]
    rec = []
    for vi, v in enumerate(voices):
        for snr in SNRS:
            y16, ph = feed_audio(v, snr, 1000 * vi + int(snr), aac=aac)
            rec.append({"voice": v.label, "snr": snr, "hits": raw_hits(spotter, y16), "phrases": ph})
    neutral = []
    minutes = 2.5 if quick else 10.0
    rng = np.random.default_rng(5)
    nv = gen.voices(engine, speeds=(0.9, 1.1))
    per = int(minutes * 60 / SPACING_S / len(nv)) + 1
    dur = 0.0
    for vi, v in enumerate(nv):
        y16, ph = feed_audio(v, 10.0, 77 + vi, aac=aac, phrases=neutral_phrases(rng, per))
        dur += y16.size / sp.SR
        neutral.append({"voice": v.label, "hits": raw_hits(spotter, y16), "phrases": ph})
        if dur >= minutes * 60:
            break
    return {"recall": rec, "neutral": neutral, "neutral_minutes": dur / 60.0}


def evaluate(data, thresholds):
    rows = {}
    for snr in SNRS:
        f = t = fl = 0
        for r in data["recall"]:
            if r["snr"] != snr:
                continue
            hits = sp.select_hits(r["hits"], thresholds)
            a, b = score_recall(hits, r["phrases"])
            f += a
            t += b
            fl += false_leads(hits, r["phrases"])
        rows[snr] = (f, t, fl)
    nf = sum(false_leads(sp.select_hits(n["hits"], thresholds), n["phrases"]) for n in data["neutral"])
    return rows, nf / max(data["neutral_minutes"], 1e-9)


def rule_thresholds(spotter, base, per):
    return {k: base + per * n for k, n in spotter.phones.items()}


def tune(data, spotter, max_fpm=0.5):
    best = None
    for base in np.arange(-2.0, -30.1, -2.0):
        for per in np.arange(0.0, -6.01, -0.5):
            th = rule_thresholds(spotter, base, per)
            rows, fpm = evaluate(data, th)
            f, t, _ = rows[10.0]
            key = (fpm < max_fpm, f / max(t, 1), -fpm)
            if best is None or key > best[0]:
                best = (key, float(base), float(per), fpm, f / max(t, 1))
    return best


def speed(*, engine):
    """Leads for a 5-mute feed end to end (through the real case-step code, without a case)."""
    from sample_media.encode import write_media
    voice = gen.voices(engine)[1]
    phrases, mutes = [], []
    t = 2.0
    for i in range(5):
        text, kw = gen.KEYWORD_PHRASES[i]
        phrases.append(gen.Phrase(t + 25.0, text, voice, kw))
        mutes.append((t + 30.0, t + 38.0))
        t += 48.0
    dur = t + 10.0
    y = gen.mix_phrases(phrases, duration_s=dur, snr_db=10.0, rng=3, mutes=mutes)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "five.m4a")
        write_media(p, audio=y, sr=48000, audio_codec="aac", audio_bitrate=64000, video=False)
        inp = {"feed_id": 1, "label": "five", "path": p, "sha256": "", "analysed": True, "has_audio": True,
               "duration_s": dur, "source_sr": 48000, "clock": {"offset_s": 0.0, "drift_ppm": 0.0},
               "mutes": [{"kind": "digital-silence", "start_s": a, "end_s": b} for a, b in mutes]}
        t0 = time.perf_counter()
        c0 = time.process_time()
        doc = sp.compute_speech_leads(inp)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        # the baseline: decoding the whole feed once with PyAV (what a full pass would cost at least)
        t1 = time.perf_counter()
        sp.read_audio(p, 0.0, dur)
        full = time.perf_counter() - t1
    return {"feed_s": dur, "wall_s": wall, "cpu_s": cpu, "leads": doc["lead_count"], "searched_s": doc["searched_s"],
            "full_decode_s": full}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a third of the voices, 2.5 min of neutral talk")
    ap.add_argument("--tune", action="store_true", help="refit the threshold rule on espeak-ng")
    ap.add_argument("--no-aac", action="store_true", help="skip the AAC round trip (faster, for tuning)")
    ap.add_argument("--raw-out", help="save the raw detections (JSON)")
    args = ap.parse_args(argv)
    for e in gen.ENGINES:
        if not gen.available(e):
            print(f"{e} is not installed (scripts/setup.sh installs it): cannot run", file=sys.stderr)
            return 2
    spotter = sp.KeywordSpotter()
    t0 = time.perf_counter()
    data = {e: collect(e, quick=args.quick, aac=not args.no_aac, spotter=spotter) for e in gen.ENGINES}
    print(f"(collected in {time.perf_counter() - t0:.0f} s)")
    if args.raw_out:
        Path(args.raw_out).write_text(json.dumps({e: {"recall": [{"voice": r["voice"], "snr": r["snr"],
                                                                  "hits": [h.__dict__ for h in r["hits"]]} for r in d["recall"]]}
                                                  for e, d in data.items()}))
    base, per = sp.THRESHOLD_BASE, sp.THRESHOLD_PER_PHONE
    if args.tune:
        best = tune(data[TUNE_ENGINE], spotter)
        print(f"tuned on {TUNE_ENGINE}: base {best[1]:.1f}, per phone {best[2]:.1f} "
              f"(recall at 10 dB {best[4]:.1%}, false leads {best[3]:.2f}/min)")
        base, per = best[1], best[2]
    tuned = rule_thresholds(spotter, base, per)
    untuned = {k: sp.UNTUNED_THRESHOLD_LOG10 for k in spotter.phones}
    print(f"\nthreshold rule: {base:.1f} + {per:.1f} x phones (log10 margin); baseline: untuned 1e-30 for every keyword")
    for e in gen.ENGINES:
        role = "tuned on" if e == TUNE_ENGINE else "held out"
        rt, fpm_t = evaluate(data[e], tuned)
        rb, fpm_b = evaluate(data[e], untuned)
        nv = len({r["voice"] for r in data[e]["recall"]})
        print(f"\n{e} ({role}; {nv} voice/speed combinations)")
        print("| SNR dB | recall (baseline) | recall (tuned) | false leads in keyword feeds / min (baseline / tuned) |")
        print("|---|---|---|---|")
        for snr in SNRS:
            fb, tb, flb = rb[snr]
            ft, tt, flt = rt[snr]
            mins = sum(1.0 + SPACING_S * len(r["phrases"]) + 1.0 for r in data[e]["recall"] if r["snr"] == snr) / 60
            print(f"| {snr:g} | {fb}/{tb} = {fb / tb:.0%} | {ft}/{tt} = {ft / tt:.0%} | {flb / mins:.2f} / {flt / mins:.2f} |")
        print(f"false leads on {data[e]['neutral_minutes']:.1f} min of keyword-free talk at 10 dB: "
              f"baseline {fpm_b:.2f}/min, tuned {fpm_t:.2f}/min")
    s = speed(engine=HELD_OUT)
    print(f"\nspeed: {s['feed_s']:.0f} s feed, 5 mutes, {s['searched_s']:.0f} s of windows searched: "
          f"{s['wall_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU ({s['leads']} leads); "
          f"plain PyAV decode of the whole feed {s['full_decode_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
