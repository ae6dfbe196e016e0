"""Runtime hook of the desktop bundle: writable caches, and no stray Python settings.

Runs before the entry script in both executables. The bundle's own folder may be read-only
(installed under /opt), so anything that writes a cache is pointed at the user's cache folder:

- ``NUMBA_CACHE_DIR``: numba writes its cache next to the source files unless told otherwise,
  which fails in a frozen, read-only folder. Nothing the app imports uses numba today (librosa
  left the dependencies); the setting stays so a future numba user cannot break the bundle.
- ``MPLCONFIGDIR``: matplotlib's font cache, kept across runs instead of a new temporary folder
  per start (PyInstaller's own matplotlib hook would make a temporary one).
"""
import os
import sys


def _cache_root() -> str:
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "evidence-audit")


def _set_cache(var: str, sub: str) -> None:
    if os.environ.get(var):
        return
    path = os.path.join(_cache_root(), sub)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # no writable home: a private temporary folder
        import tempfile

        path = tempfile.mkdtemp(prefix=f"evidence-audit-{sub}-")
    os.environ[var] = path


_set_cache("NUMBA_CACHE_DIR", "numba")
_set_cache("MPLCONFIGDIR", "matplotlib")
