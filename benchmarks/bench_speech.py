"""Speech leads: keyword recall over SNR per synthesizer, false leads per minute, speed.

    python benchmarks/bench_speech.py [--quick] [--tune] [--decoders] [--no-aac] [--audio-cache DIR] [--raw-out FILE]

Voices of two independent synthesizers (espeak-ng: formant synthesis; flite: CMU diphone and
cluster units) speak the phrases of ``sample_media.speech.KEYWORD_PHRASES`` at body-cam levels
over street noise at 20, 15, 10 and 5 dB SNR, through clipping, AGC and AAC (64 kb/s). The
decoder settings, pronunciations and thresholds of ``media_core.analysis.speech`` were chosen and
fitted on espeak-ng only (``--decoders`` compares settings on espeak-ng alone, ``--tune`` refits
the thresholds); flite is held out. Every figure is printed beside the untuned baseline
(PocketSphinx's default settings, dictionary and threshold 1e-30 for every keyword) and beside v2
(the default settings with v2's fitted thresholds). False leads: 10 minutes of keyword-free police
talk per synthesizer at 10 dB SNR. Speed: a feed with 5 mutes, leads computed end to end (decode
of the windows only, spotting, context transcripts).

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
#: speech_leads/2's table (PocketSphinx's default settings), printed beside today's.
V2_THRESHOLDS = {"mute": 11.0, "muting": -3.5, "turn off": -15.0, "turning off": -22.0, "camera": -14.0, "mic": None,
                 "microphone": -22.5, "recording": -44.0, "sergeant said": -44.0, "privacy": -13.0, "medical": -11.5,
                 "confidential": -43.0}
#: Settings compared by ``--decoders`` (espeak-ng only; each with its own fitted table).
DECODER_CHOICES = [{}, {"topn": 8}, {"kws_plp": 1e-5, "beam": 1e-100}, {"kws_plp": 1e-8, "beam": 1e-100},
                   {"kws_plp": 1e-12, "beam": 1e-100}, {"kws_plp": 1e-12, "beam": 1e-100, "topn": 8},
                   {"kws_plp": 1e-20, "beam": 1e-100}, {"kws_plp": 1e-30, "beam": 1e-100}]
GRID = np.arange(150.0, sp.FLOOR_LOG10 - 0.1, -0.5)


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


def feeds(engine, *, quick, aac, cache=None):
    """The benchmark's audio of one synthesizer: keyword feeds (every voice and SNR) and keyword-free
    talk, 16 kHz; ``cache``: a directory where they are kept between runs (keyed by the options)."""
    import pickle

    path = Path(cache) / f"{engine}-{'quick' if quick else 'full'}-{'aac' if aac else 'pcm'}.pkl" if cache else None
    if path is not None and path.is_file():
        return pickle.loads(path.read_bytes())
    voices = gen.voices(engine)
    if quick:
        voices = voices[1::3]
    rec = []
    for vi, v in enumerate(voices):
        for snr in SNRS:
            y16, ph = feed_audio(v, snr, 1000 * vi + int(snr), aac=aac)
            rec.append({"voice": v.label, "snr": snr, "y": y16, "phrases": ph})
    neutral = []
    minutes = 2.5 if quick else 10.0
    rng = np.random.default_rng(5)
    nv = gen.voices(engine, speeds=(0.9, 1.1))
    per = int(minutes * 60 / SPACING_S / len(nv)) + 1
    dur = 0.0
    for vi, v in enumerate(nv):
        y16, ph = feed_audio(v, 10.0, 77 + vi, aac=aac, phrases=neutral_phrases(rng, per))
        dur += y16.size / sp.SR
        neutral.append({"voice": v.label, "y": y16, "phrases": ph})
        if dur >= minutes * 60:
            break
    out = {"recall": rec, "neutral": neutral, "neutral_minutes": dur / 60.0}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(out))
    return out


def collect(audio, spotter):
    """Raw detections (all scores) of ``spotter`` for every keyword feed and the neutral talk."""
    return {"recall": [{"voice": r["voice"], "snr": r["snr"], "hits": raw_hits(spotter, r["y"]), "phrases": r["phrases"]}
                       for r in audio["recall"]],
            "neutral": [{"voice": r["voice"], "hits": raw_hits(spotter, r["y"]), "phrases": r["phrases"]}
                        for r in audio["neutral"]],
            "neutral_minutes": audio["neutral_minutes"]}


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


def _passes_duration(h):
    return sp.MIN_PHONE_S * h.phones <= h.end_s - h.start_s <= sp.MAX_PHONE_S * h.phones


class ThresholdTable:
    """Recall and false leads of one synthesizer's raw detections for any per-keyword thresholds,
    fast: each keyword occurrence's best score per keyword, and each keyword's false scores
    sorted (overlapping hits of different keywords are not resolved here; :func:`evaluate` does).
    """

    def __init__(self, data, keywords):
        self.keywords = list(keywords)
        ki = {k: i for i, k in enumerate(self.keywords)}
        occ, feed_false, talk_false = [], [[] for _ in ki], [[] for _ in ki]
        for r in data["recall"]:
            hits = [h for h in r["hits"] if _passes_duration(h)]
            for p in r["phrases"]:
                for k in p.keywords:
                    best = np.full(len(ki), -np.inf)
                    for h in hits:
                        if h.keyword in family(k) and h.start_s < p.end_s + 0.3 and h.end_s > p.time_s - 0.3:
                            best[ki[h.keyword]] = max(best[ki[h.keyword]], h.score)
                    occ.append(best)
            for h in hits:
                if false_leads([h], r["phrases"]):
                    feed_false[ki[h.keyword]].append(h.score)
        for r in data["neutral"]:
            for h in r["hits"]:
                if _passes_duration(h):
                    talk_false[ki[h.keyword]].append(h.score)
        self.occ = np.array(occ).reshape(-1, len(ki))
        self.feed_false = [np.sort(x) for x in feed_false]
        self.talk_false = [np.sort(x) for x in talk_false]
        self.feed_min = sum(1.0 + SPACING_S * len(r["phrases"]) + 1.0 for r in data["recall"]) / 60
        self.talk_min = data["neutral_minutes"]

    def score(self, th):
        """(recall over all SNRs, false leads / min on keyword-free talk, ... in keyword feeds)."""
        t = np.array([th[k] for k in self.keywords])
        recall = float((self.occ >= t).any(axis=1).mean()) if self.occ.size else 0.0
        talk = sum(x.size - np.searchsorted(x, v) for x, v in zip(self.talk_false, t)) / max(self.talk_min, 1e-9)
        feed = sum(x.size - np.searchsorted(x, v) for x, v in zip(self.feed_false, t)) / max(self.feed_min, 1e-9)
        return recall, float(talk), float(feed)


def tune(data, keywords, *, budget=0.25, feed_weight=1.0, grid=GRID):
    """Per-keyword thresholds fitted on one synthesizer's data. First greedy: starting from no leads,
    lower one keyword's threshold at a time to its next value that finds more, always the step with
    the most recall (all SNRs) per false lead (keyword-free talk + ``feed_weight`` x keyword feeds),
    while the false leads on keyword-free talk stay within ``budget`` per minute.
    Keywords never lowered get None (no lead by default).
    """
    tab = ThresholdTable(data, keywords)
    th = {k: np.inf for k in keywords}
    cur = tab.score(th)
    while True:
        best = None
        for k in keywords:
            for g in grid:
                if g >= th[k]:
                    continue
                o = tab.score({**th, k: float(g)})
                if o[0] > cur[0] + 1e-12:
                    cost = (o[1] + feed_weight * o[2]) - (cur[1] + feed_weight * cur[2])
                    gain = (o[0] - cur[0]) / max(cost, 1e-3)
                    if best is None or gain > best[0]:
                        best = (gain, k, float(g), o)
                    break
        if best is None or best[3][1] > budget:
            break
        th[best[1]] = best[2]
        cur = best[3]
    return {k: (None if not np.isfinite(v) else v) for k, v in th.items()}, cur


def tune_rule(data, phones, *, budget=0.25, bases=np.arange(-60.0, 150.1, 1.0), pers=np.arange(-20.0, 10.1, 0.5)):
    """The length rule ``base + per_phone x phones`` for keywords without a fitted threshold: the one
    with most recall over all SNRs on one synthesizer's data within ``budget`` false leads per minute."""
    tab = ThresholdTable(data, list(phones))
    best = None
    for b in bases:
        for p in pers:
            o = tab.score({k: b + p * n for k, n in phones.items()})
            if o[1] <= budget and (best is None or o[0] > best[0][0] + 1e-12):
                best = (o, float(b), float(p))
    return best


def compare_decoders(audio, *, budget=0.25):
    """Each of :data:`DECODER_CHOICES` on one synthesizer's audio (espeak-ng: never the held-out one),
    with its own fitted table: recall per SNR at the same false-lead budget, and CPU per audio second."""
    for settings in DECODER_CHOICES:
        with sp.KeywordSpotter(decoder=settings) as s:
            c0 = time.process_time()
            d = collect(audio, s)
            cpu = time.process_time() - c0
            fitted, (rec, talk, _) = tune(d, list(s.phones), budget=budget)
        th = {k: (np.inf if v is None else v) for k, v in fitted.items()}
        rows, nf = evaluate(d, th)
        sec = sum(r["y"].size for part in ("recall", "neutral") for r in audio[part]) / sp.SR
        print(f"| {json.dumps(settings)} | " + " | ".join(f"{rows[x][0] / rows[x][1]:.0%}" for x in SNRS)
              + f" | {nf:.2f} | {cpu / sec:.4f} |", flush=True)


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


def demo_phrase(spotter, thresholds):
    """Whether the demo incident's "Hey, mute." (sample_media/generated, when rendered) is a lead."""
    root = Path(__file__).resolve().parents[1] / "sample_media" / "generated"
    try:
        truth = json.loads((root / "truth.json").read_text())
    except (OSError, ValueError):
        return "not rendered (evidence-audit demo renders it): not checked"
    phrases = (truth.get("incident") or {}).get("spoken_phrases") or []
    feed = next((f for f in truth["feeds"] if f["key"] == "bodycam_B"), None)
    if not phrases or feed is None:
        return "no spoken phrase in the rendered incident: not checked"
    t = phrases[0]["time_s"] - feed["clock"]["start_incident_s"]  # media time (drift: < 3 ms here)
    mute = next(m for m in feed["mutes"] if m["kind"] == "digital-silence")
    a = max(0.0, mute["start_s"] - sp.DEFAULT_BEFORE_S)
    y = sp.read_audio(root / feed["file"], a, mute["start_s"])
    hits = sp.select_hits(spotter.spot(y, all_scores=True), thresholds)
    near = [h for h in hits if abs(a + h.start_s - t) < 1.5]
    best = max((h for h in spotter.spot(y, all_scores=True) if h.keyword in family("mute")
                and abs(a + h.start_s - t) < 1.5), key=lambda h: h.score - thresholds[h.keyword], default=None)
    other = len(hits) - len(near)
    return (f"{phrases[0]['text']!r} at {t:.2f} s of B's feed: "
            + (f"found ({', '.join(f'{h.keyword} {h.score:g}' for h in near)})" if near else "not found")
            + (f"; nearest to a lead there: {best.keyword!r} scores {best.score:g} (threshold "
               f"{thresholds[best.keyword]:g})" if best else "")
            + f"; {other} other lead(s) in the 30 s before the mute")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a third of the voices, 2.5 min of neutral talk")
    ap.add_argument("--tune", action="store_true", help="refit the per-keyword thresholds and the rule on espeak-ng only")
    ap.add_argument("--decoders", action="store_true", help="compare decoder settings on espeak-ng only, then stop")
    ap.add_argument("--no-aac", action="store_true", help="skip the AAC round trip (faster, for tuning)")
    ap.add_argument("--audio-cache", help="keep the generated audio in this directory between runs")
    ap.add_argument("--raw-out", help="save the raw detections (JSON)")
    args = ap.parse_args(argv)
    for e in gen.ENGINES:
        if not gen.available(e):
            print(f"{e} is not installed (scripts/setup.sh installs it): cannot run", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    if args.decoders:
        audio = feeds(TUNE_ENGINE, quick=args.quick, aac=not args.no_aac, cache=args.audio_cache)
        print(f"decoder settings on {TUNE_ENGINE} only, each with its own table fitted there (budget 0.25 false "
              "leads/min on keyword-free talk)")
        print("| settings | " + " | ".join(f"recall {x:g} dB" for x in SNRS) + " | false leads / min | CPU s per s |")
        print("|---" * (len(SNRS) + 3) + "|")
        compare_decoders(audio)
        print(f"({time.perf_counter() - t0:.0f} s)")
        return 0
    untuned, spotter = sp.KeywordSpotter(tuned=False), sp.KeywordSpotter()
    data, base = {}, {}
    for e in gen.ENGINES:
        audio = feeds(e, quick=args.quick, aac=not args.no_aac, cache=args.audio_cache)
        data[e], base[e] = collect(audio, spotter), collect(audio, untuned)
        del audio
    print(f"(collected in {time.perf_counter() - t0:.0f} s)")
    if args.raw_out:
        Path(args.raw_out).write_text(json.dumps({e: {"recall": [{"voice": r["voice"], "snr": r["snr"],
                                                                  "hits": [h.__dict__ for h in r["hits"]]} for r in d["recall"]]}
                                                  for e, d in data.items()}))
    table = {k: sp.default_threshold(sp.Keyword(k), n) for k, n in spotter.phones.items()}
    rule = (sp.THRESHOLD_BASE, sp.THRESHOLD_PER_PHONE)
    if args.tune:
        fitted, (rec, talk, feed) = tune(data[TUNE_ENGINE], list(spotter.phones))
        print(f"fitted on {TUNE_ENGINE} only (recall over all SNRs {rec:.1%}, false leads {talk:.2f}/min on "
              f"keyword-free talk, {feed:.2f}/min in keyword feeds); DEFAULT_THRESHOLDS =")
        print(json.dumps(fitted))
        table = {k: (np.inf if v is None else v) for k, v in fitted.items()}
        r = tune_rule(data[TUNE_ENGINE], spotter.phones)
        if r is not None:
            rule = (r[1], r[2])
            print(f"rule for other keywords, fitted on {TUNE_ENGINE} only: THRESHOLD_BASE = {r[1]:g}, "
                  f"THRESHOLD_PER_PHONE = {r[2]:g} (recall {r[0][0]:.1%}, {r[0][1]:.2f} false leads/min)")
    v2 = {k: (np.inf if v is None else v) for k, v in V2_THRESHOLDS.items()}
    columns = {"baseline": (base, {k: sp.UNTUNED_THRESHOLD_LOG10 for k in spotter.phones}),
               "v2": (base, v2),
               "rule (v3)": (data, rule_thresholds(spotter, *rule)),
               "table (v3)": (data, table)}
    print(f"\nbaseline: untuned (PocketSphinx's default settings and dictionary, 1e-30 for every keyword); v2: "
          f"the default settings with v2's table; v3: {json.dumps(spotter.settings)}, pronunciation variants, "
          f"rule {rule[0]:g} + {rule[1]:g} x phones or the table fitted on {TUNE_ENGINE}")
    print("thresholds (v3): " + ", ".join(f"{k} {v:g}" for k, v in table.items()))
    for e in gen.ENGINES:
        role = "fitted on" if e == TUNE_ENGINE else "held out"
        res = {c: evaluate(d[e], th) for c, (d, th) in columns.items()}
        nv = len({r["voice"] for r in data[e]["recall"]})
        print(f"\n{e} ({role}; {nv} voice/speed combinations)")
        print("| SNR dB | " + " | ".join(f"recall {c}" for c in columns) + " | false leads in keyword feeds / min ("
              + " / ".join(columns) + ") |")
        print("|---" * (len(columns) + 2) + "|")
        for snr in SNRS:
            mins = sum(1.0 + SPACING_S * len(r["phrases"]) + 1.0 for r in data[e]["recall"] if r["snr"] == snr) / 60
            cells = [f"{res[c][0][snr][0]}/{res[c][0][snr][1]} = {res[c][0][snr][0] / res[c][0][snr][1]:.0%}" for c in columns]
            fl = " / ".join(f"{res[c][0][snr][2] / mins:.2f}" for c in columns)
            print(f"| {snr:g} | " + " | ".join(cells) + f" | {fl} |")
        print(f"false leads on {data[e]['neutral_minutes']:.1f} min of keyword-free talk at 10 dB: "
              + ", ".join(f"{c} {res[c][1]:.2f}/min" for c in columns))
    d = demo_phrase(spotter, table)
    print("\ndemo incident: " + d)
    untuned.close()
    spotter.close()
    s = speed(engine=HELD_OUT)
    print(f"\nspeed: {s['feed_s']:.0f} s feed, 5 mutes, {s['searched_s']:.0f} s of windows searched: "
          f"{s['wall_s']:.2f} s wall, {s['cpu_s']:.2f} s CPU ({s['leads']} leads); "
          f"plain PyAV decode of the whole feed {s['full_decode_s']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
