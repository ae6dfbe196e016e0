"""Which pairs of a release to match: a cheap screen of every pair, then a plan of the few to refine.

A release of dozens of feeds has hundreds of pairs (53 feeds: 1378), and the full pairwise match
(:func:`~media_core.sync.pairwise.estimate_offset_features`: windows of the audio itself, one
correlation per shared event) costs about half a second each. Most of those pairs are not needed:
a feed placed through two independent matches that agree is placed, and a spanning set of good
matches with that redundancy is a well-conditioned solution.

1. **Screen** (:func:`screen_pairs`): every candidate pair's onset envelopes, pooled to
   :data:`SCREEN_RATE`, are correlated over every lag (GCC-PHAT, the whole-feed stage of the full
   match at a fifth of its rate). Each feed's spectrum is computed once at one common length, so a
   pair costs one inverse FFT (about 3 ms for two 25-minute feeds). The screen's peak ratio ranks
   the pairs: on the generated 53-feed release no pair without shared sound screened above 1.37,
   and 1006 of the 1038 pairs that share sound did (:data:`STRONG_RATIO` = 1.5).
2. **Plan** (:func:`first_pairs`): the shortest-path tree from the reference over the strong
   pairs (short chains of good links: uncertainty compounds along a chain) plus each feed's
   :data:`REDUNDANCY` best strong pairs, so that every feed that can be is placed twice (a loop
   that closes confirms both matches; one that does not shows which to drop).
3. **More** (:func:`more_pairs`): after those are matched, each feed with fewer than
   :data:`REDUNDANCY` confident matches, and each group of feeds not linked to the reference,
   tries its next best candidates (weak screens too: sparse shared sound makes no whole-feed peak
   but may still make an event line), at most :data:`EXTRA_TRIES` more each.

Pure numpy/scipy over :class:`~media_core.sync.features.SyncFeatures`; no notion of files.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Mapping, Sequence

import numpy as np

from .correlation import parabolic, peak_stats
from .features import FEATURE_RATE, SyncFeatures

SCREEN_POOL = 20                      # 1 kHz onset envelope summed over 20 ms
SCREEN_RATE = FEATURE_RATE / SCREEN_POOL
#: a screen peak this many times its runner-up is a shared-sound match, not chance
STRONG_RATIO = 1.5
#: confident matches wanted per feed (two that agree close a loop)
REDUNDANCY = 2
#: candidates a feed (or a group of feeds not yet linked to the reference) tries beyond the plan
EXTRA_TRIES = 6
#: below this many candidate pairs every pair is matched in full (no screen, no plan)
PLAN_ABOVE_PAIRS = 28


@dataclass
class Screen:
    """The whole-feed envelope correlation of one pair at :data:`SCREEN_RATE`.

    ``offset_s`` maps the other feed's media time onto the reference's (``ref = other +
    offset_s``, drift ignored); ``ratio`` and ``z`` are how far the peak stands out (against the
    best value more than 0.25 s away, and against the curve's robust floor); ``overlap_s`` is the
    overlap that offset implies.
    """

    offset_s: float
    ratio: float
    z: float
    overlap_s: float

    @property
    def strong(self) -> bool:
        return self.ratio >= STRONG_RATIO

    @property
    def score(self) -> float:
        """Rank of the pair: the peak ratio (capped at 10), less for overlaps under 5 minutes
        (drift is measured over the overlap).
        """
        return float(min(self.ratio, 10.0) * min(1.0, max(self.overlap_s, 0.0) / 300.0) ** 0.5)

    def as_dict(self) -> dict[str, Any]:
        return {"offset_s": round(self.offset_s, 3), "peak_ratio": round(self.ratio, 3),
                "peak_z": round(self.z, 2), "overlap_s": round(self.overlap_s, 1)}


def screen_envelope(f: SyncFeatures) -> np.ndarray:
    """The feed's onset envelope less its live mean, zero where muted, summed over
    :data:`SCREEN_POOL` frames (float32, at :data:`SCREEN_RATE`).
    """
    from .pairwise import _pooled

    return _pooled(f, SCREEN_POOL, keep=False)


@dataclass
class ScreenFeed:
    """What the screen keeps of one feed: its pooled envelope and where it starts and ends."""

    env: np.ndarray
    start_s: float
    end_s: float

    @classmethod
    def of(cls, f: SyncFeatures) -> "ScreenFeed":
        return cls(screen_envelope(f), float(f.start_s), float(f.end_s))


def screen_pairs(feeds: Mapping[Hashable, ScreenFeed], pairs: Sequence[tuple[Hashable, Hashable]], *,
                 min_overlap_s: float = 4.0, should_stop=None) -> dict[tuple, Screen]:
    """:class:`Screen` of every pair ``(ref, other)`` of ``feeds``.

    Every feed's spectrum is taken once at one length (long enough for the longest pair, so the
    circular correlation never wraps) and kept as complex64; a pair is one product, its phase
    transform and one inverse FFT. ``should_stop()`` is polled every 50 pairs.
    """
    from scipy.fft import irfft, next_fast_len, rfft

    from media_core.progress import check_cancel

    used = sorted({x for p in pairs for x in p}, key=str)
    if not used:
        return {}
    longest = max(feeds[x].env.size for x in used)
    n = next_fast_len(2 * longest + 1, real=True)
    spec = {x: rfft(feeds[x].env, n).astype(np.complex64) for x in used}
    excl = max(2, int(round(0.25 * SCREEN_RATE)))
    out: dict[tuple, Screen] = {}
    for k, (a, b) in enumerate(pairs):
        if k % 50 == 0:
            check_cancel(should_stop, "screening pairs")
        fa, fb = feeds[a], feeds[b]
        na, nb = fa.env.size, fb.env.size
        if na < 8 or nb < 8:
            continue
        min_ov = int(min(min_overlap_s, 0.5 * min(na, nb) / SCREEN_RATE) * SCREEN_RATE)
        lo, hi = -(nb - min_ov), na - min_ov
        if hi <= lo:
            continue
        r = spec[a] * np.conj(spec[b])
        mag = np.abs(r)
        mag += np.float32(1e-3 * float(mag.mean()) + 1e-30)
        r /= mag
        cc = irfft(r, n)
        curve = np.concatenate([cc[lo % n:], cc[: hi + 1]]) if lo < 0 <= hi else cc[lo % n: lo % n + hi - lo + 1]
        i = int(np.argmax(curve))
        ratio, z, _ = peak_stats(curve, i, excl=excl)
        lag = (lo + parabolic(curve, i)) / SCREEN_RATE
        off = lag + fa.start_s - fb.start_s
        overlap = min(fb.end_s, fa.end_s - off) - max(fb.start_s, fa.start_s - off)
        out[(a, b)] = Screen(offset_s=float(off), ratio=float(ratio), z=float(z), overlap_s=float(overlap))
    return out


class _Components:
    """Union-find over feed ids."""

    def __init__(self, ids: Iterable[Hashable]):
        self.parent = {x: x for x in ids}

    def find(self, x):
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[rb] = ra
        return True


def _ranked(screens: Mapping[tuple, Screen]) -> list[tuple]:
    return sorted(screens, key=lambda p: (-screens[p].score, str(p)))


def first_pairs(screens: Mapping[tuple, Screen], ids: Sequence[Hashable], *, reference: Hashable | None = None,
                redundancy: int = REDUNDANCY) -> list[tuple]:
    """The pairs to match first (best first): a tree over the strong screens, plus every feed's
    ``redundancy`` best strong pairs.

    The tree is the shortest-path tree from ``reference`` (each link costing ``1 / score**2``, the
    way uncertainties add along a chain: a chain of many weak links is what makes a placement
    loose), and a maximum spanning forest by score over the feeds it does not reach.
    """
    import heapq

    ranked = [p for p in _ranked(screens) if screens[p].strong]
    chosen: dict[tuple, None] = {}
    reached: set = set()
    if reference is not None and reference in ids:
        adj: dict[Hashable, list] = {}
        for p in ranked:
            c = 1.0 / max(screens[p].score, 1e-3) ** 2
            adj.setdefault(p[0], []).append((p[1], c, p))
            adj.setdefault(p[1], []).append((p[0], c, p))
        best = {reference: (0.0, None)}
        heap, tie = [(0.0, 0, reference)], 1
        while heap:
            d, _, x = heapq.heappop(heap)
            if x in reached:
                continue
            reached.add(x)
            if best[x][1] is not None:
                chosen[best[x][1]] = None
            for y, c, p in adj.get(x, ()):
                if y not in reached and (y not in best or d + c < best[y][0]):
                    best[y] = (d + c, p)
                    heapq.heappush(heap, (d + c, tie, y))
                    tie += 1
    comp = _Components(ids)
    for p in chosen:
        comp.union(*p)
    for p in ranked:                              # Kruskal on the score for the feeds not reached
        if p[0] not in reached and p[1] not in reached and comp.union(*p):
            chosen[p] = None
    per: dict[Hashable, int] = {x: 0 for x in ids}
    for p in chosen:
        for x in p:
            per[x] += 1
    for p in ranked:
        if p not in chosen and (per[p[0]] < redundancy or per[p[1]] < redundancy):
            chosen[p] = None
            for x in p:
                per[x] += 1
    return sorted(chosen, key=lambda p: (-screens[p].score, str(p)))


def more_pairs(screens: Mapping[tuple, Screen], ids: Sequence[Hashable], reference: Hashable,
               tried: Iterable[tuple], accepted: Iterable[tuple], extra: Mapping[Hashable, int], *,
               redundancy: int = REDUNDANCY, extra_tries: int = EXTRA_TRIES) -> list[tuple]:
    """The next round of pairs to match, given those ``tried`` and those ``accepted`` (confident).

    Every group of feeds that confident matches do not yet link to the reference proposes its
    best untried pair to a feed outside it; every feed linked to the reference with fewer than
    ``redundancy`` confident matches proposes its best untried pair. ``extra`` counts the tries
    each feed (a group: its members together) has had beyond the first plan; it is updated here.
    At most one pair per group and per feed each round.
    """
    tried = set(tried)
    acc = list(accepted)
    comp = _Components(ids)
    deg = {x: 0 for x in ids}
    for a, b in acc:
        comp.union(a, b)
        deg[a] += 1
        deg[b] += 1
    ranked = [p for p in _ranked(screens) if p not in tried]
    ref_root = comp.find(reference) if reference in comp.parent else None
    groups: dict[Hashable, list] = {}
    for x in ids:
        groups.setdefault(comp.find(x), []).append(x)
    out: dict[tuple, None] = {}
    for root, members in groups.items():
        if root == ref_root:
            continue
        spent = sum(extra.get(x, 0) for x in members)
        if spent >= extra_tries:
            continue
        ms = set(members)
        for p in ranked:
            if (p[0] in ms) != (p[1] in ms) and p not in out:
                out[p] = None
                inside = p[0] if p[0] in ms else p[1]
                extra[inside] = extra.get(inside, 0) + 1
                break
    for x in ids:
        if ref_root is None or comp.find(x) != ref_root or deg[x] >= redundancy or extra.get(x, 0) >= extra_tries:
            continue
        if any(x in p for p in out):
            continue
        for p in ranked:
            if x in p and p not in out:
                out[p] = None
                extra[x] = extra.get(x, 0) + 1
                break
    return list(out)
