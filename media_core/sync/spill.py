"""A feed's kept audio off the heap: an append-only array in an unlinked temporary file.

Sync keeps about 8 kB of companded audio per second of feed (29 MB per feed-hour) and reads it
only a window at a time (10 s windows, half-second events). :class:`SpillWriter` collects it in
memory and, once it passes :data:`SPILL_ABOVE_BYTES`, moves it to a temporary file that is unlinked
at once (nothing is left behind if the process dies; the page cache holds it, which the system can
reclaim and which is not the process's resident memory). :class:`SpilledArray` reads slices of it
with ``os.preadv``; it pickles as its data (a worker process gets the data, not a file, and spills
it again).

Where ``os.preadv`` is missing (Windows) the audio stays in memory.
"""
from __future__ import annotations

import os
import tempfile
import weakref

import numpy as np

#: audio kept in memory up to this size (about 4 minutes at 8 kHz int8), spilled to a file above it
SPILL_ABOVE_BYTES = 2 << 20
_CAN_SPILL = hasattr(os, "preadv") and hasattr(os, "pwrite")


class SpilledArray:
    """A read-only 1-D array in a temporary file: ``a[i0:i1]`` (and ``a[int array]``) read just
    what they cover; ``np.asarray(a)`` reads it all.
    """

    ndim = 1

    def __init__(self, fh, n: int, dtype):
        self._fh = fh
        weakref.finalize(self, fh.close)     # closed (and so gone from the disk) with the array
        self.dtype = np.dtype(dtype)
        self.size = int(n)

    @property
    def shape(self) -> tuple[int]:
        return (self.size,)

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def __len__(self) -> int:
        return self.size

    def read(self, i0: int, i1: int) -> np.ndarray:
        """Elements ``i0:i1`` (clipped to the array) as a new array."""
        i0, i1 = max(0, int(i0)), min(self.size, int(i1))
        out = np.empty(max(0, i1 - i0), self.dtype)
        if out.size:
            view = memoryview(out).cast("B")
            done, off, fd = 0, i0 * self.dtype.itemsize, self._fh.fileno()
            while done < view.nbytes:
                k = os.preadv(fd, [view[done:]], off + done)
                if k <= 0:
                    raise OSError(f"spilled sync audio: short read at byte {off + done}")
                done += k
        return out

    def __getitem__(self, key):
        if isinstance(key, slice):
            i0, i1, st = key.indices(self.size)
            if st == 1:
                return self.read(i0, max(i0, i1))
            return self.read(0, self.size)[key]
        if isinstance(key, (int, np.integer)):
            k = int(key) + (self.size if key < 0 else 0)
            if not 0 <= k < self.size:
                raise IndexError(f"index {key} out of range for {self.size}")
            return self.read(k, k + 1)[0]
        idx = np.asarray(key)
        if idx.dtype == bool:
            return self.read(0, self.size)[idx]
        if idx.size == 0:
            return np.empty(idx.shape, self.dtype)
        idx = np.where(idx < 0, idx + self.size, idx)
        lo, hi = int(idx.min()), int(idx.max()) + 1
        if lo < 0 or hi > self.size:
            raise IndexError(f"index out of range for {self.size}")
        return self.read(lo, hi)[idx - lo]

    def __array__(self, dtype=None, copy=None):
        a = self.read(0, self.size)
        return a if dtype is None else a.astype(dtype, copy=False)

    def __reduce__(self):
        return (_spilled, (self.read(0, self.size),))


class SpillWriter:
    """Append-only 1-D array: in memory (one block, grown by half when short) up to
    :data:`SPILL_ABOVE_BYTES`, then in an unlinked temporary file. ``take()`` gives an ndarray or a
    :class:`SpilledArray`.
    """

    def __init__(self, dtype, expected: int = 0, *, spill_above: int = SPILL_ABOVE_BYTES):
        self.dtype = np.dtype(dtype)
        self._limit = int(spill_above) if _CAN_SPILL else None
        cap = max(1024, int(expected))
        if self._limit is not None:
            cap = min(cap, max(1024, self._limit // self.dtype.itemsize))
        self.a = np.empty(cap, self.dtype)
        self.n = 0            # logical length (may be lowered: ``pop`` or setting ``n``)
        self._fh = None

    def append(self, x: np.ndarray) -> None:
        x = np.asarray(x, self.dtype)
        if self._fh is not None:
            try:
                self._write(x)
                return
            except OSError:          # a full disk: back to memory with what the file holds
                self._unspill()
        if self.n + x.size > self.a.size:
            if self._limit is not None and (self.n + x.size) * self.dtype.itemsize > self._limit:
                if self._spill(x):
                    return
            b = np.empty(max(int(self.a.size * 1.5), self.n + x.size), self.dtype)
            b[: self.n] = self.a[: self.n]
            self.a = b
        self.a[self.n: self.n + x.size] = x
        self.n += x.size

    def _spill(self, x: np.ndarray) -> bool:
        """Move the contents and ``x`` to a temporary file; False (and in memory from now on) when
        the file cannot be made or written (no temporary folder, a full disk).
        """
        head = self.a[: self.n]
        try:
            fh = tempfile.TemporaryFile(prefix="evidence-audit-sync-", buffering=0)
        except OSError:
            self._limit = None
            return False
        self._fh, n0 = fh, self.n
        self._closer = weakref.finalize(self, fh.close)   # unless taken
        try:
            self.n = 0
            self._write(head)
            self._write(x)
        except OSError:
            self._closer()
            self._fh, self._limit, self.n = None, None, n0
            return False
        self.a = np.empty(0, self.dtype)
        return True

    def _write(self, x: np.ndarray) -> None:
        """``x`` into the file at the logical end (over popped elements); ``n`` grows only once it
        is all written.
        """
        data = memoryview(np.ascontiguousarray(x)).cast("B")
        off, done, fd = self.n * self.dtype.itemsize, 0, self._fh.fileno()
        while done < data.nbytes:
            done += os.pwrite(fd, data[done:], off + done)
        self.n += x.size

    def _unspill(self) -> None:
        fh, self._fh, self._limit = self._fh, None, None
        self.a = SpilledArray(fh, self.n, self.dtype).read(0, self.n)
        self._closer()

    def pop(self, k: int) -> None:
        self.n = max(0, self.n - k)

    def take(self):
        """The contents: an ndarray (the block itself when nearly full, else a trimmed copy) or a
        :class:`SpilledArray`; the writer is empty afterwards.
        """
        if self._fh is not None:
            fh, self._fh = self._fh, None
            self._closer.detach()
            out = SpilledArray(fh, self.n, self.dtype)
            self.n = 0
            return out
        a, self.a = self.a, np.empty(0, self.dtype)
        return a[: self.n] if self.n >= 0.97 * a.size else a[: self.n].copy()


def _spilled(a: np.ndarray):
    """An unpickled :class:`SpilledArray`: the data spilled again in the receiving process (an
    ndarray when it is small or cannot be spilled there).
    """
    w = SpillWriter(a.dtype, a.size)
    w.append(a)
    return w.take()
