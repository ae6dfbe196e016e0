"""Where exports are written, and what they were made from.

* :func:`safe_name` turns a label and a shared-clock range into a file name that is only letters,
  digits (any script), ``_``, ``-`` and ``.``, never starts with ``-`` or ``.``, and is short.
* :class:`ExportFolder` is the chosen folder: every output goes into it (a name that would resolve
  anywhere else, or onto an original, is refused), is written first under a temporary name in a
  private work folder inside it and renamed into place only when complete, so an interrupted or
  failed export leaves no file under a final name. A folder that already holds an export
  (``manifest.json``) is refused: one folder, one manifest.
* :func:`source_records` checks each original against the case before anything is made
  (:meth:`~media_core.case.store.Case.check_identity`): a missing original always stops the
  export; a changed one stops it unless ``allow_changed``, and then the manifest records it.
"""
from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterable
from pathlib import Path

from media_core.errors import IntegrityError, ParameterError
from media_core.export.ffmpeg import ExportError

__all__ = ["safe_name", "range_tag", "ExportFolder", "source_records", "case_record"]

_UNSAFE_NAME = re.compile(r"[^\w.\-]+", re.UNICODE)


def safe_name(text: str, *, fallback: str = "export", max_len: int = 60) -> str:
    r"""``text`` as a file-name part: word characters of any script, ``.``, ``-``; the rest become ``_``.

    >>> safe_name("Officer A's cam: -y [0:v]\n/etc/passwd")
    'Officer_A_s_cam_-y_0_v_etc_passwd'
    >>> safe_name("../..")
    'export'
    """
    s = _UNSAFE_NAME.sub("_", str(text))
    s = re.sub(r"\.{2,}", "_", s)
    s = re.sub(r"[_.]*_[_.]*", "_", s).strip("_.-")
    s = s[:max_len].strip("_.-")
    return s or fallback


def range_tag(start_s: float, end_s: float) -> str:
    """A shared-clock range for file names: ``shared_00-00-47.500_to_00-00-52.000``."""
    from media_core.timefmt import format_time

    def t(x: float) -> str:
        return format_time(x, hours=True).replace(":", "-")

    return f"shared_{t(start_s)}_to_{t(end_s)}".replace("_-", "_minus")


class ExportFolder:
    """The folder an export writes to (see the module docstring)."""

    def __init__(self, folder: str | os.PathLike, *, originals: Iterable[str] = ()):
        self.path = Path(os.path.abspath(os.fspath(folder)))
        self.originals = {os.path.realpath(p) for p in originals}
        if self.path.exists() and not self.path.is_dir():
            raise ExportError(f"{self.path}: not a folder")
        if (self.path / "manifest.json").exists():
            raise ExportError(f"{self.path}: already holds an export (manifest.json); choose an empty or new folder")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.work = self.path / f".evidence-audit-work-{uuid.uuid4().hex[:12]}"
            self.work.mkdir()
        except OSError as exc:
            raise ExportError(f"{self.path}: cannot write the export here ({exc.strerror or exc})") from None
        self.written: list[Path] = []

    def final(self, name: str) -> Path:
        """The final path of output ``name`` (a single safe file name), checked."""
        if not name or name != os.path.basename(name) or name in (".", "..") or name.startswith((".", "-")):
            raise ParameterError(f"not a plain file name: {name!r}")
        p = self.path / name
        if os.path.realpath(p) in self.originals or os.path.realpath(p.parent) != os.path.realpath(self.path):
            raise ExportError(f"{p}: refusing to write over an original or outside {self.path}")
        if p.exists() or p.is_symlink():
            raise ExportError(f"{p}: already exists; exports never overwrite a file")
        return p

    def temp(self, name: str) -> Path:
        """A private path in the work folder (on the same file system as the folder)."""
        return self.work / name

    def commit(self, tmp: Path, name: str) -> Path:
        """Move a finished output into place under its final name (atomic rename)."""
        dst = self.final(name)
        os.replace(tmp, dst)
        self.written.append(dst)
        return dst

    def cleanup(self, *, failed: bool = False) -> None:
        """Remove the work folder; after a failure also the outputs already renamed into place."""
        shutil.rmtree(self.work, ignore_errors=True)
        if failed:
            for p in self.written:
                try:
                    p.unlink()
                except OSError:
                    pass
            self.written.clear()


def case_record(case) -> dict:
    """What the manifest says about the case: id, name, path and its newest signed log head."""
    return {"case_id": case.case_id, "name": case.name, "path": str(case.path), "signed_head": case.signed_head()}


def source_records(case, timeline, feed_ids: Iterable[int], *, allow_changed: bool = False,
                   progress=None) -> tuple[list[dict], list[str]]:
    """Check the originals of ``feed_ids`` and describe them for the manifest.

    Returns ``(records, notes)``. Raises :class:`IntegrityError` in one line naming the feed when an
    original is missing, or changed and ``allow_changed`` is False.
    """
    from media_core import pipeline
    from media_core.io.hashing import sha256_file
    from media_core.sync.estimate import ALGORITHM_VERSION as SYNC_VERSION

    records, notes = [], []
    for fid in feed_ids:
        f = timeline.feed(fid)
        if f is None:
            raise ParameterError(f"no feed {fid} in case {case.path}")
        status, now = "unchanged", f.sha256
        if not os.path.isfile(f.path):
            raise IntegrityError(f"feed {f.id} '{f.label}': the original {f.path} cannot be found; nothing exported")
        try:
            case.check_identity(fid)
        except IntegrityError:
            if not allow_changed:
                raise IntegrityError(f"feed {f.id} '{f.label}': the original {f.path} CHANGED since it was added "
                                     "(its SHA-256 differs from the case's); nothing exported "
                                     "(--allow-changed exports it anyway and records it)") from None
            now = sha256_file(f.path)
            status = "changed"
            notes.append(f"feed {f.id} '{f.label}': exported from a CHANGED original (case SHA-256 "
                         f"{f.sha256[:16]}..., now {now[:16]}...)")
        info = case.sync_info(fid) or {}
        stored = pipeline.stored_analysis(case, fid)
        records.append({
            "feed_id": f.id, "label": f.label, "kind": f.kind, "file": os.path.basename(f.path), "path": f.path,
            "sha256": f.sha256, "sha256_now": now, "status": status, "size": os.path.getsize(f.path),
            "duration_s": f.duration_s,
            "clock": {"offset_s": f.clock.offset_s, "drift_ppm": f.clock.drift_ppm, "nudge_s": f.nudge_s,
                      "is_reference": f.is_reference, "method": f.sync_method, "confidence": f.sync_confidence,
                      "sync_algorithm_version": (f.sync_evidence or {}).get("algorithm_version", SYNC_VERSION
                                                                             if info else None),
                      "meaning": "shared = offset_s + media * (1 + drift_ppm * 1e-6); offset_s includes nudge_s"},
            "analysis": {"algorithm": pipeline.ANALYSIS_ALGORITHM, "version": pipeline.analysis_version(),
                         "params": pipeline.analysis_params(), "stored_current": stored is not None},
        })
    return records, notes
