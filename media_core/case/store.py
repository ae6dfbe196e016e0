"""The case: one model of feeds, clocks, analyses and annotations, persisted to SQLite.

A case is a folder ``NAME.evcase/`` holding ``case.sqlite`` (WAL journal, schema versioned with
migrations in :data:`MIGRATIONS`). Every change is committed at once (a crash loses nothing) and
appended to a hash-chained audit log: each row stores ``sha256(prev_hash + canonical row)``, and
the head of the chain is kept in ``meta`` so that deleting the newest rows is detected too.

The model emits :class:`CaseEvents` (psygnal) so views can follow it, and keeps undo/redo of the
analyst's edits (annotations, labels, kinds, nudges) in bounded deques, like napari's layers.
"""
from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import json
import os
import sqlite3
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from psygnal import Signal

from media_core.clock import Clock
from media_core.errors import CaseError, MediaError, ParameterError

SCHEMA_VERSION = 1
CASE_SUFFIX = ".evcase"
DB_NAME = "case.sqlite"
KINDS = ("bodycam", "dashcam", "helicopter", "other")
CATEGORIES = ("shot", "mute", "command", "use of force", "custom")
GENESIS = "0" * 64
UNDO_DEPTH = 500

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL NOT NULL,
        sha256 TEXT NOT NULL,
        probe_json TEXT NOT NULL,
        label TEXT NOT NULL,
        kind TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE analyses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        algorithm TEXT NOT NULL,
        version TEXT NOT NULL,
        params_json TEXT NOT NULL,
        result_json TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (feed_id, algorithm, version, params_json)
    );
    CREATE TABLE sync (
        feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
        offset_s REAL NOT NULL,
        drift_ppm REAL NOT NULL,
        method TEXT NOT NULL,
        confidence REAL NOT NULL,
        evidence_json TEXT NOT NULL,
        nudge_s REAL NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE annotations (
        id TEXT PRIMARY KEY,
        feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
        start_s REAL NOT NULL,
        end_s REAL,
        category TEXT NOT NULL,
        text TEXT NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        edited TEXT NOT NULL
    );
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        action TEXT NOT NULL,
        details_json TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    """,
}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record something honest
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def row_hash(prev_hash: str, seq: int, at: str, who: str, action: str, details_json: str) -> str:
    """The audit chain's hash of one row: SHA-256 of the previous hash plus this row's content."""
    payload = prev_hash + _canon([seq, at, who, action, details_json])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Feed:
    id: int
    path: str
    size: int
    mtime: float
    sha256: str
    probe: dict
    label: str
    kind: str
    added_at: str = ""

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def duration_s(self) -> float:
        return float(self.probe.get("duration_s") or 0.0)

    @property
    def has_audio(self) -> bool:
        return self.probe.get("audio") is not None

    @property
    def has_video(self) -> bool:
        return self.probe.get("video") is not None

    @property
    def fps(self) -> float | None:
        v = self.probe.get("video") or {}
        return v.get("measured_fps") or v.get("avg_fps")


@dataclass(frozen=True)
class Annotation:
    """A point (``end_s`` None) or range. Times are on the shared clock when ``feed_id`` is None,
    else on that feed's media time (so the note follows the feed when its sync changes)."""

    id: str
    start_s: float
    end_s: float | None
    feed_id: int | None
    category: str
    text: str
    author: str
    created: str
    edited: str

    @property
    def is_range(self) -> bool:
        return self.end_s is not None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class VerifyReport:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    checked_feeds: int = 0
    checked_log_rows: int = 0

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)


class CaseEvents:
    """Change notifications a view subscribes to (psygnal, Qt-free)."""

    feeds_changed = Signal()
    analysis_changed = Signal(int)
    clock_changed = Signal(int)
    annotations_changed = Signal()
    undo_state_changed = Signal()


@dataclass
class _Edit:
    """One undoable step: ``undo`` and ``redo`` re-apply stored states through the model."""

    label: str
    undo: Callable[[], None]
    redo: Callable[[], None]


class Case:
    """An open case. Use :meth:`create` or :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self.events = CaseEvents()
        self._undo: deque[_Edit] = deque(maxlen=UNDO_DEPTH)
        self._redo: deque[_Edit] = deque(maxlen=UNDO_DEPTH)
        self.user = _user()

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def normalize_path(path: str | os.PathLike) -> Path:
        p = Path(path)
        if p.name == DB_NAME:
            p = p.parent
        if p.suffix != CASE_SUFFIX:
            p = p.with_name(p.name + CASE_SUFFIX)
        return p

    @classmethod
    def create(cls, path: str | os.PathLike, *, exist_ok: bool = False) -> "Case":
        p = cls.normalize_path(path)
        if (p / DB_NAME).exists():
            if exist_ok:
                return cls.open(p)
            raise CaseError(f"{p}: a case already exists here")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CaseError(f"{p}: cannot create the case folder ({exc.strerror or exc})") from None
        conn = cls._connect(p / DB_NAME)
        case = cls(p, conn)
        case._migrate()
        with case._tx():
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('case_id', ?)", (uuid.uuid4().hex,))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('created', ?)", (_now(),))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('reference_feed_id', '')")
            case._log("case.create", {"name": p.name})
        return case

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Case":
        p = cls.normalize_path(path)
        db = p / DB_NAME
        if not db.is_file():
            raise CaseError(f"{p}: not a case (no {DB_NAME} inside)")
        conn = cls._connect(db)
        case = cls(p, conn)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CaseError(f"{db}: damaged case database ({exc})") from None
        if version > SCHEMA_VERSION:
            conn.close()
            raise CaseError(
                f"{db}: made by a newer Evidence Audit (schema {version}, this one reads up to {SCHEMA_VERSION})"
            )
        case._migrate()
        return case

    @staticmethod
    def _connect(db: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # WAL + NORMAL: a committed change survives any crash of the app (what analysts need:
            # "a crash loses nothing"); only a power cut may lose the last moments, and the GUI
            # thread is not held up by an fsync on every annotation.
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise CaseError(f"{db}: damaged case database ({exc})") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for v in sorted(MIGRATIONS):
            if v > version:
                with self._lock:  # one script: the schema change and its version land together
                    self._conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[v]}; PRAGMA user_version = {v}; COMMIT;")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> "Case":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def name(self) -> str:
        return self.path.name[: -len(CASE_SUFFIX)] if self.path.name.endswith(CASE_SUFFIX) else self.path.name

    # ------------------------------------------------------------------ transactions and log
    class _Tx:
        def __init__(self, case: "Case"):
            self.case = case

        def __enter__(self):
            self.case._lock.acquire()
            self.case._conn.execute("BEGIN IMMEDIATE")
            return self.case._conn

        def __exit__(self, et, ev, tb):
            try:
                if et is None:
                    self.case._conn.execute("COMMIT")
                else:
                    self.case._conn.execute("ROLLBACK")
            finally:
                self.case._lock.release()

    def _tx(self) -> "Case._Tx":
        if self._conn is None:
            raise CaseError(f"{self.path}: the case is closed")
        return Case._Tx(self)

    def _log(self, action: str, details: dict) -> None:
        """Append an audit row. Call inside a transaction."""
        c = self._conn
        last = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, who, dj = _now(), self.user, _canon(details)
        h = row_hash(prev, seq, at, who, action, dj)
        c.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?)", (seq, at, who, action, dj, prev, h))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('log_head', ?)", (f"{seq}:{h}",))

    def audit_log(self) -> list[dict]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        return [dict(r, details=json.loads(r["details_json"])) for r in rows]

    # ------------------------------------------------------------------ feeds
    @property
    def feeds(self) -> list[Feed]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM feeds ORDER BY id").fetchall()
        return [self._feed(r) for r in rows]

    @staticmethod
    def _feed(r: sqlite3.Row) -> Feed:
        return Feed(
            id=r["id"], path=r["path"], size=r["size"], mtime=r["mtime"], sha256=r["sha256"],
            probe=json.loads(r["probe_json"]), label=r["label"], kind=r["kind"], added_at=r["added_at"],
        )

    def feed(self, feed_id: int) -> Feed:
        with self._lock:
            r = self._conn.execute("SELECT * FROM feeds WHERE id=?", (feed_id,)).fetchone()
        if r is None:
            raise ParameterError(f"no feed {feed_id} in case {self.path}")
        return self._feed(r)

    def feed_by_sha256(self, sha256: str) -> Feed | None:
        with self._lock:
            r = self._conn.execute("SELECT * FROM feeds WHERE sha256=? ORDER BY id LIMIT 1", (sha256,)).fetchone()
        return self._feed(r) if r else None

    def feed_by_path(self, path: str | os.PathLike) -> Feed | None:
        ap = os.path.abspath(os.fspath(path))
        return next((f for f in self.feeds if f.path == ap), None)

    def add_feed(
        self,
        path: str | os.PathLike,
        *,
        label: str | None = None,
        kind: str = "other",
        progress: Callable[[int, int], None] | None = None,
    ) -> Feed:
        """Probe and fingerprint ``path`` and add it. On any error the case is left unchanged.

        Adding the same original twice (same SHA-256) returns the existing feed.
        """
        from media_core.io.hashing import sha256_file
        from media_core.io.probe import probe

        if kind not in KINDS:
            raise ParameterError(f"unknown feed kind {kind!r}; choose one of {', '.join(KINDS)}")
        ap = os.path.abspath(os.fspath(path))
        info = probe(ap)  # raises MediaError naming the file; nothing written yet
        st = os.stat(ap)
        digest = sha256_file(ap, progress=progress)
        existing = self.feed_by_sha256(digest)
        if existing is not None:
            return existing
        label = label or _default_label(ap, kind)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO feeds (path,size,mtime,sha256,probe_json,label,kind,added_at) VALUES (?,?,?,?,?,?,?,?)",
                (ap, st.st_size, st.st_mtime, digest, _canon(info), label, kind, _now()),
            )
            fid = cur.lastrowid
            self._log("feed.add", {"feed_id": fid, "path": ap, "sha256": digest, "size": st.st_size,
                                   "label": label, "kind": kind})
        self.events.feeds_changed.emit()
        return self.feed(fid)

    def add_feeds(
        self, paths: Iterable[str | os.PathLike], *, kind: str = "other", labels: dict | None = None
    ) -> tuple[list[Feed], list[MediaError]]:
        """Add every good file; return ``(added, errors)``. A bad file never blocks the others."""
        added, errors = [], []
        for p in paths:
            try:
                added.append(self.add_feed(p, kind=kind, label=(labels or {}).get(os.fspath(p))))
            except MediaError as exc:
                errors.append(exc)
        return added, errors

    def _set_feed_field(self, feed_id: int, fld: str, value: str, *, record: bool = True) -> None:
        old = getattr(self.feed(feed_id), fld)
        if old == value:
            return
        with self._tx() as c:
            c.execute(f"UPDATE feeds SET {fld}=? WHERE id=?", (value, feed_id))
            self._log(f"feed.{fld}", {"feed_id": feed_id, "old": old, "new": value})
        if record:
            self._push(_Edit(f"{fld} of feed {feed_id}",
                             undo=lambda: self._set_feed_field(feed_id, fld, old, record=False),
                             redo=lambda: self._set_feed_field(feed_id, fld, value, record=False)))
        self.events.feeds_changed.emit()

    def set_feed_label(self, feed_id: int, label: str) -> None:
        if not label.strip():
            raise ParameterError("a feed label cannot be empty")
        self._set_feed_field(feed_id, "label", label.strip())

    def set_feed_kind(self, feed_id: int, kind: str) -> None:
        if kind not in KINDS:
            raise ParameterError(f"unknown feed kind {kind!r}; choose one of {', '.join(KINDS)}")
        self._set_feed_field(feed_id, "kind", kind)

    def remove_feed(self, feed_id: int) -> None:
        f = self.feed(feed_id)
        with self._tx() as c:
            c.execute("DELETE FROM feeds WHERE id=?", (feed_id,))
            self._log("feed.remove", {"feed_id": feed_id, "path": f.path, "sha256": f.sha256})
        self.events.feeds_changed.emit()

    # ------------------------------------------------------------------ analyses
    def store_analysis(self, feed_id: int, *, algorithm: str, version: str, params: dict, result: dict) -> None:
        f = self.feed(feed_id)
        pj = _canon(params or {})
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO analyses (feed_id,sha256,algorithm,version,params_json,result_json,created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (feed_id, f.sha256, algorithm, version, pj, _canon(result), _now()),
            )
            summary = {k: result.get(k) for k in ("shot_count",) if k in result}
            if "mutes" in result:
                summary["mute_count"] = len(result["mutes"])
            self._log("analysis.store", {"feed_id": feed_id, "sha256": f.sha256, "algorithm": algorithm,
                                         "version": version, "params": params or {}, **summary})
        self.events.analysis_changed.emit(feed_id)

    def get_analysis(
        self, feed_id: int, *, algorithm: str, version: str | None = None, params: dict | None = None
    ) -> dict | None:
        """The newest stored result for this feed and algorithm (optionally exact version/params)."""
        q = "SELECT result_json FROM analyses WHERE feed_id=? AND algorithm=? AND sha256=(SELECT sha256 FROM feeds WHERE id=?)"
        args: list[Any] = [feed_id, algorithm, feed_id]
        if version is not None:
            q += " AND version=?"
            args.append(version)
        if params is not None:
            q += " AND params_json=?"
            args.append(_canon(params))
        q += " ORDER BY id DESC LIMIT 1"
        with self._lock:
            r = self._conn.execute(q, args).fetchone()
        return json.loads(r[0]) if r else None

    # ------------------------------------------------------------------ clocks
    def sync_info(self, feed_id: int) -> dict | None:
        with self._lock:
            r = self._conn.execute("SELECT * FROM sync WHERE feed_id=?", (feed_id,)).fetchone()
        if r is None:
            return None
        d = dict(r)
        d["evidence"] = json.loads(d.pop("evidence_json"))
        return d

    def clock(self, feed_id: int) -> Clock:
        """The feed's clock on the shared timeline, nudges included (identity if never synced)."""
        s = self.sync_info(feed_id)
        if s is None:
            return Clock()
        return Clock(s["offset_s"] + s["nudge_s"], s["drift_ppm"])

    def set_clock(self, feed_id: int, clock: Clock, *, method: str, confidence: float,
                  evidence: dict | None = None) -> None:
        """Store a sync result. Keeps any manual nudge the analyst made on top of it."""
        self.feed(feed_id)
        old = self.sync_info(feed_id)
        nudge = old["nudge_s"] if old else 0.0
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO sync VALUES (?,?,?,?,?,?,?,?)",
                (feed_id, float(clock.offset_s), float(clock.drift_ppm), method, float(confidence),
                 _canon(evidence or {}), nudge, _now()),
            )
            self._log("sync.set", {"feed_id": feed_id, "offset_s": clock.offset_s, "drift_ppm": clock.drift_ppm,
                                   "method": method, "confidence": confidence})
        self.events.clock_changed.emit(feed_id)

    def nudge(self, feed_id: int, delta_s: float, *, record: bool = True) -> None:
        """Move a feed later on the shared clock by ``delta_s`` (negative: earlier). Undoable."""
        self.feed(feed_id)
        delta_s = float(delta_s)
        if delta_s == 0.0:
            return
        with self._tx() as c:
            if c.execute("SELECT 1 FROM sync WHERE feed_id=?", (feed_id,)).fetchone() is None:
                c.execute("INSERT INTO sync VALUES (?,?,?,?,?,?,?,?)",
                          (feed_id, 0.0, 0.0, "manual", 1.0, "{}", 0.0, _now()))
            c.execute("UPDATE sync SET nudge_s = nudge_s + ?, updated_at=? WHERE feed_id=?",
                      (delta_s, _now(), feed_id))
            total = c.execute("SELECT nudge_s FROM sync WHERE feed_id=?", (feed_id,)).fetchone()[0]
            self._log("sync.nudge", {"feed_id": feed_id, "delta_s": delta_s, "total_nudge_s": total,
                                     "undo": not record})
        if record:
            self._push(_Edit(f"nudge feed {feed_id}",
                             undo=lambda: self.nudge(feed_id, -delta_s, record=False),
                             redo=lambda: self.nudge(feed_id, delta_s, record=False)))
        self.events.clock_changed.emit(feed_id)

    @property
    def reference_feed_id(self) -> int | None:
        with self._lock:
            r = self._conn.execute("SELECT value FROM meta WHERE key='reference_feed_id'").fetchone()
        return int(r[0]) if r and r[0] else None

    @reference_feed_id.setter
    def reference_feed_id(self, feed_id: int | None) -> None:
        if feed_id is not None:
            self.feed(feed_id)
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta VALUES ('reference_feed_id', ?)",
                      ("" if feed_id is None else str(feed_id),))
            self._log("sync.reference", {"feed_id": feed_id})
        self.events.clock_changed.emit(-1 if feed_id is None else feed_id)

    # ------------------------------------------------------------------ annotations
    @property
    def annotations(self) -> list[Annotation]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM annotations ORDER BY start_s, created").fetchall()
        return [Annotation(**dict(r)) for r in rows]

    def annotation(self, ann_id: str) -> Annotation:
        with self._lock:
            r = self._conn.execute("SELECT * FROM annotations WHERE id=?", (ann_id,)).fetchone()
        if r is None:
            raise ParameterError(f"no annotation {ann_id} in case {self.path}")
        return Annotation(**dict(r))

    def _check_ann(self, a: Annotation) -> None:
        if a.category not in CATEGORIES and not a.category.strip():
            raise ParameterError("an annotation needs a category")
        if a.end_s is not None and a.end_s < a.start_s:
            raise ParameterError(f"annotation range ends ({a.end_s}) before it starts ({a.start_s})")
        if a.feed_id is not None:
            self.feed(a.feed_id)

    def _write_ann(self, a: Annotation, action: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO annotations VALUES (?,?,?,?,?,?,?,?,?)",
                      (a.id, a.feed_id, a.start_s, a.end_s, a.category, a.text, a.author, a.created, a.edited))
            self._log(action, a.to_dict())
        self.events.annotations_changed.emit()

    def _delete_ann(self, a: Annotation, action: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM annotations WHERE id=?", (a.id,))
            self._log(action, a.to_dict())
        self.events.annotations_changed.emit()

    def add_annotation(self, *, start_s: float, end_s: float | None = None, feed_id: int | None = None,
                       category: str = "custom", text: str = "", author: str | None = None) -> Annotation:
        now = _now()
        a = Annotation(id=uuid.uuid4().hex, start_s=float(start_s), end_s=None if end_s is None else float(end_s),
                       feed_id=feed_id, category=category, text=text, author=author or self.user,
                       created=now, edited=now)
        self._check_ann(a)
        self._write_ann(a, "annotation.add")
        self._push(_Edit("add annotation",
                         undo=lambda: self._delete_ann(a, "annotation.undo_add"),
                         redo=lambda: self._write_ann(a, "annotation.redo_add")))
        return a

    def update_annotation(self, ann_id: str, **changes) -> Annotation:
        allowed = {"text", "category", "start_s", "end_s", "feed_id"}
        bad = set(changes) - allowed
        if bad:
            raise ParameterError(f"cannot change {', '.join(sorted(bad))} of an annotation")
        old = self.annotation(ann_id)
        new = replace(old, **changes, edited=_now())
        self._check_ann(new)
        self._write_ann(new, "annotation.edit")
        self._push(_Edit("edit annotation",
                         undo=lambda: self._write_ann(old, "annotation.undo_edit"),
                         redo=lambda: self._write_ann(new, "annotation.redo_edit")))
        return new

    def delete_annotation(self, ann_id: str) -> None:
        old = self.annotation(ann_id)
        self._delete_ann(old, "annotation.delete")
        self._push(_Edit("delete annotation",
                         undo=lambda: self._write_ann(old, "annotation.undo_delete"),
                         redo=lambda: self._delete_ann(old, "annotation.redo_delete")))

    # ------------------------------------------------------------------ undo
    def _push(self, e: _Edit) -> None:
        self._undo.append(e)
        self._redo.clear()
        self.events.undo_state_changed.emit()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    def undo(self) -> bool:
        if not self._undo:
            return False
        e = self._undo.pop()
        e.undo()
        self._redo.append(e)
        self.events.undo_state_changed.emit()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        e = self._redo.pop()
        e.redo()
        self._undo.append(e)
        self.events.undo_state_changed.emit()
        return True

    # ------------------------------------------------------------------ verification
    def verify(self, *, progress: Callable[[str, int, int], None] | None = None) -> VerifyReport:
        """Re-hash every original and check the audit chain. Never writes to the case."""
        from media_core.io.hashing import sha256_file

        rep = VerifyReport()
        for f in self.feeds:
            rep.checked_feeds += 1
            try:
                digest = sha256_file(f.path, progress=(lambda d, t, n=f.name: progress(n, d, t)) if progress else None)
            except MediaError as exc:
                rep.fail(f"feed {f.id} '{f.label}': original {f.path} {exc.problem}")
                continue
            if digest != f.sha256:
                rep.fail(f"feed {f.id} '{f.label}': original {f.path} has CHANGED: sha256 is {digest}, "
                         f"the case recorded {f.sha256}")
        self._verify_log(rep)
        return rep

    def _verify_log(self, rep: VerifyReport) -> None:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
            head = self._conn.execute("SELECT value FROM meta WHERE key='log_head'").fetchone()
        prev, expect_seq = GENESIS, 1
        for r in rows:
            rep.checked_log_rows += 1
            if r["seq"] != expect_seq:
                rep.fail(f"audit log: row {expect_seq} is missing (next row is {r['seq']})")
            if r["prev_hash"] != prev:
                rep.fail(f"audit log: row {r['seq']} does not follow the row before it (chain broken)")
            h = row_hash(r["prev_hash"], r["seq"], r["at"], r["who"], r["action"], r["details_json"])
            if h != r["hash"]:
                rep.fail(f"audit log: row {r['seq']} ({r['action']}) was edited after it was written")
            prev, expect_seq = r["hash"], r["seq"] + 1
        if head is None:
            rep.fail("audit log: the chain head record is missing")
        else:
            seq_s, _, h = head[0].partition(":")
            if int(seq_s) != expect_seq - 1 or h != prev:
                rep.fail(f"audit log: the chain head says row {seq_s} but the log ends at row {expect_seq - 1}"
                         " (rows were deleted or the head was altered)")

    # ------------------------------------------------------------------ summary
    def summary(self) -> dict:
        """Everything a user sees in ``case show``: feeds with their sync and analysis results."""
        feeds = []
        for f in self.feeds:
            a = self.get_analysis(f.id, algorithm="analysis")
            s = self.sync_info(f.id)
            feeds.append({
                "id": f.id, "label": f.label, "kind": f.kind, "path": f.path, "sha256": f.sha256,
                "duration_s": f.duration_s, "has_audio": f.has_audio,
                "mutes": a.get("mutes") if a else None,
                "shot_count": a.get("shot_count") if a else None,
                "sync": s,
            })
        return {"case": str(self.path), "name": self.name, "reference_feed_id": self.reference_feed_id,
                "feeds": feeds, "annotations": [x.to_dict() for x in self.annotations],
                "audit_rows": len(self.audit_log())}


def _default_label(path: str, kind: str) -> str:
    stem = Path(path).stem
    return stem if kind == "other" else f"{stem} ({kind})"
