"""Whole-feed statistics a chunk at a time, exactly as numpy and scipy.ndimage compute them on the
whole array (whose copies and float64 line buffers cost 4-16 bytes a frame: 7-29 MB for a
30-minute feed at 1 kHz).

- :func:`masked_median` / :func:`median_of_chunks`: exactly ``float(np.median(...))`` in two passes
  (a histogram of the values' top 16 bits, then the values of the bin holding each middle
  element), then numpy's own median of the middle pair;
- :func:`moving_mean` / :func:`moving_mean_chunks`: exactly ``uniform_filter1d`` (its float64
  running sum, carried from chunk to chunk);
- :func:`max_filter`: exactly ``maximum_filter1d`` (chunks read with the filter's reach).
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

import numpy as np

CHUNK = 1 << 16       # frames a pass handles at a time (its float64 temporaries stay 512 kB)


def _keys(x: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keys in the same order (no NaNs)."""
    u = x.view(np.uint32)
    neg = (u >> np.uint32(31)).astype(bool)
    return np.where(neg, ~u, u | np.uint32(0x80000000))


def _chunks(x: np.ndarray, mask: np.ndarray | None, f: Callable[[np.ndarray], np.ndarray] | None):
    for c0 in range(0, x.size, CHUNK):
        v = x[c0:c0 + CHUNK]
        if mask is not None:
            v = v[mask[c0:c0 + CHUNK]]
        else:
            v = np.array(v, np.float32)     # f may work in place
        if f is not None:
            v = f(v)
        yield np.ascontiguousarray(v, np.float32)


def masked_median(x: np.ndarray, mask: np.ndarray | None = None,
                  f: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
    """``float(np.median(f(x[mask])))`` for a 1-D float32 ``x`` (``mask`` None: all of ``x``;
    ``f`` None: the values themselves), a chunk at a time; nan when nothing is selected.
    """
    return median_of_chunks(lambda: _chunks(x, mask, f))


def median_of_chunks(chunks: Callable[[], Iterable[np.ndarray]]) -> float:
    """``float(np.median(np.concatenate(list(chunks()))))`` for float32 chunks, without the
    concatenation: ``chunks()`` is called twice and must give the same values each time.
    """
    hist = np.zeros(1 << 16, np.int64)
    n = 0
    for v in chunks():
        v = np.ascontiguousarray(v, np.float32)
        hist += np.bincount((_keys(v) >> np.uint32(16)).astype(np.intp), minlength=1 << 16)
        n += v.size
    if n == 0:
        return float("nan")
    ks = sorted({(n - 1) // 2, n // 2})
    cum = np.cumsum(hist)
    bins = [int(np.searchsorted(cum, k, side="right")) for k in ks]
    want = sorted(set(bins))
    vals: dict[int, list[np.ndarray]] = {b: [] for b in want}
    for v in chunks():
        v = np.ascontiguousarray(v, np.float32)
        hi = _keys(v) >> np.uint32(16)
        for b in want:
            vals[b].append(v[hi == b])
    mids = []
    for k, b in zip(ks, bins):
        before = int(cum[b - 1]) if b > 0 else 0
        arr = np.concatenate(vals[b])
        mids.append(np.partition(arr, k - before)[k - before])
    pair = np.array(mids if len(mids) == 2 else mids * 2, np.float32)
    return float(np.median(pair))


def moving_mean(x, size: int, *, mode: str = "constant", out: np.ndarray | None = None) -> np.ndarray:
    """Exactly ``scipy.ndimage.uniform_filter1d(x, size, mode=mode)`` (float32 out) for a 1-D
    ``x``, a chunk at a time: ndimage buffers a whole line as float64 twice (16 bytes a frame), this
    a chunk (:func:`moving_mean_chunks`). ``out`` may be ``x`` itself.
    """
    out = np.empty(int(x.size), np.float32) if out is None else out
    for c0, c1, v in moving_mean_chunks(x, size, mode=mode):
        out[c0:c1] = v
    return out


def moving_mean_chunks(x, size: int, *, mode: str = "constant") -> Iterator[tuple[int, int, np.ndarray]]:
    """``(c0, c1, values)`` of ``scipy.ndimage.uniform_filter1d(x, size, mode=mode)[c0:c1]`` (float32),
    chunk after chunk: the same running sum in float64, carried from chunk to chunk.

    ``x`` is a 1-D array or anything with ``size`` and slices (read in order, each element at most
    ``size`` elements ahead of the chunk given last, so ``x`` may be overwritten by what was
    given); ``mode`` is ``"constant"`` (zeros), ``"nearest"`` or ``"reflect"``.
    """
    if mode not in ("constant", "nearest", "reflect"):
        raise ValueError(f"moving_mean: mode {mode!r} is not supported")
    n = int(x.size)
    if n == 0:
        return
    s1 = size // 2
    s2 = size - s1 - 1
    if mode == "reflect" and n <= max(s1, s2):     # reflected more than once: a short array
        from scipy.ndimage import uniform_filter1d

        yield 0, n, uniform_filter1d(np.asarray(x[0:n], np.float32), size, mode="reflect")
        return
    # the input just before the first chunk (x[-1 - s1 : 0]) and just after the last (x[n : n + s2])
    if mode == "constant":
        back, after = np.zeros(s1 + 1), np.zeros(s2)
    elif mode == "nearest":
        back = np.full(s1 + 1, float(np.asarray(x[0:1])[0]))
        after = np.full(s2, float(np.asarray(x[n - 1:n])[0]))
    else:                                   # reflect: (d c b a | a b c d | d c b a)
        back = np.empty(s1 + 1)
        back[1:] = np.asarray(x[0:s1], np.float64)[::-1]
        back[0] = float(np.asarray(x[s1:s1 + 1])[0]) if s1 < n else 0.0   # only ever replaced
        after = np.asarray(x[n - s2:n], np.float64)[::-1].copy()
    tmp = 0.0
    for c0 in range(0, n, CHUNK):
        c1 = min(n, c0 + CHUNK)
        a1 = min(n, c1 + s2)
        ahead = np.empty(c1 + s2 - c0)
        ahead[: a1 - c0] = x[c0:a1]
        ahead[a1 - c0:] = after[: c1 + s2 - a1]
        orig = np.concatenate([back, ahead])     # input x[c0 - 1 - s1 : c1 + s2], padded
        m = c1 - c0
        d = orig[size: size + m] - orig[:m]      # what enters the window less what leaves it
        if c0 == 0:
            t0 = 0.0
            for v in orig[1: size + 1].tolist():
                t0 += v
            d[0] = t0
        else:
            d[0] += tmp
        sums = np.cumsum(d)
        tmp = float(sums[-1])
        back = orig[m: m + s1 + 1].copy()
        np.divide(sums, size, out=sums)
        yield c0, c1, sums.astype(np.float32)


def max_filter_chunks(x: np.ndarray, size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(c0, c1, m)`` over ``x`` a chunk at a time, ``m`` exactly
    ``scipy.ndimage.maximum_filter1d(x, size, mode="constant")[c0:c1]`` (each chunk read with the
    filter's reach; ndimage buffers a whole line as float64 twice).
    """
    from scipy.ndimage import maximum_filter1d

    n = int(x.size)
    r0, r1 = size // 2, size - size // 2 - 1       # the filter's reach back and ahead
    for c0 in range(0, n, CHUNK):
        c1 = min(n, c0 + CHUNK)
        a0, a1 = max(0, c0 - r0), min(n, c1 + r1)
        yield c0, c1, maximum_filter1d(x[a0:a1], size=size, mode="constant")[c0 - a0: c1 - a0]


def max_filter(x: np.ndarray, size: int) -> np.ndarray:
    """Exactly ``scipy.ndimage.maximum_filter1d(x, size, mode="constant")`` for a 1-D ``x``, a chunk
    at a time (:func:`max_filter_chunks`).
    """
    out = np.empty_like(x)
    for c0, c1, m in max_filter_chunks(x, size):
        out[c0:c1] = m
    return out
