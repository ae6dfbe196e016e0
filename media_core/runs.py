"""Runs of True in a boolean mask: where they start and end, and dropping the short ones.

Pure numpy; shared by mute detection (zero and dead-floor runs) and sync (digital-silence frames).

Examples
--------
>>> import numpy as np
>>> m = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1], bool)
>>> runs(m)
(array([1, 4, 8]), array([3, 7, 9]))
>>> long_runs(m, 3).astype(int)
array([0, 0, 0, 0, 1, 1, 1, 0, 0])
"""
from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in a 1-D bool array.

    Parameters
    ----------
    mask : np.ndarray, shape (n,), bool

    Returns
    -------
    starts, ends : np.ndarray of int64, shape (runs,)
        ``mask[starts[k]:ends[k]]`` is the k-th run, in order.
    """
    mask = np.asarray(mask, bool)
    if mask.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    d = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def long_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    """A copy of ``mask`` keeping only the runs of True at least ``min_len`` long.

    Parameters
    ----------
    mask : np.ndarray, shape (n,), bool
    min_len : int
        Shortest run kept, in samples.

    Returns
    -------
    np.ndarray, shape (n,), bool
    """
    mask = np.asarray(mask, bool)
    starts, ends = runs(mask)
    keep = (ends - starts) >= int(min_len)
    s, e = starts[keep], ends[keep]
    out = np.zeros(mask.size, bool)
    if s.size == 0:
        return out
    step = 1 << 18           # a chunk at a time: no int64 array as long as the mask (a feed-hour: 29 MB)
    for c0 in range(0, mask.size, step):
        idx = np.arange(c0, min(mask.size, c0 + step))
        k = np.searchsorted(s, idx, side="right") - 1      # the last kept run starting at or before
        out[c0:c0 + idx.size] = (k >= 0) & (idx < e[np.maximum(k, 0)])
    return out
