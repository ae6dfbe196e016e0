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

from media_core.case import integrity
from media_core.case.integrity import GENESIS, LOG_FORMAT, canon, row_hash, sha
from media_core.clock import Clock
from media_core.errors import CaseError, IntegrityError, MediaError, ParameterError
from media_core.progress import Progress, ShouldStop, sub_progress

SCHEMA_VERSION = 4
CASE_SUFFIX = ".evcase"
DB_NAME = "case.sqlite"
KINDS = ("bodycam", "dashcam", "helicopter", "other")
CATEGORIES = ("shot", "mute", "command", "use of force", "custom")
UNDO_DEPTH = 500
BUSY_TIMEOUT_S = 10.0
LOCK_FILE = "writer.pid"

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
    2: """
    ALTER TABLE feeds ADD COLUMN dev INTEGER;
    ALTER TABLE feeds ADD COLUMN ino INTEGER;
    ALTER TABLE feeds ADD COLUMN mtime_ns INTEGER;
    CREATE UNIQUE INDEX feeds_sha256 ON feeds(sha256);
    CREATE TABLE feed_aliases (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        added_at TEXT NOT NULL,
        PRIMARY KEY (feed_id, path)
    );
    CREATE TABLE signers (
        fingerprint TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        account TEXT NOT NULL,
        host TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE signatures (
        seq INTEGER PRIMARY KEY,
        hash TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        signature TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    3: """
    CREATE TABLE claims (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        quote TEXT NOT NULL,
        kind TEXT NOT NULL,
        feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
        annotation_id TEXT,
        value_json TEXT NOT NULL,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        edited TEXT NOT NULL
    );
    """,
}

MIGRATIONS[4] = """
    CREATE TABLE mute_findings (
        feed_id INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        mute_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        finding TEXT NOT NULL,
        text TEXT NOT NULL,
        author TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (feed_id, mute_key)
    );
    """

FINDINGS = ("reason-stated", "no-reason", "inaudible", "not-reviewed")

CLAIM_KINDS = ("shot_count", "shooters", "mute_after_first_shot_s", "mute_after_last_shot_s",
               "time_first_sight_to_first_shot_s", "shots_duration_s", "mute_exists", "free_text")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_canon = canon


def file_identity(path: str | os.PathLike) -> dict[str, int]:
    """What identifies a file's bytes without reading them: device, inode, size, mtime (ns)."""
    st = os.stat(path)
    return {"dev": st.st_dev, "ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


@dataclass(frozen=True)
class Feed:
    """One original in the case: where it is, its fingerprint, its probe, label and kind."""

    id: int
    path: str
    size: int
    mtime: float
    sha256: str
    probe: dict
    label: str
    kind: str
    added_at: str = ""
    identity: dict | None = None  # dev, ino, size, mtime_ns when added (None: added before format 2)

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
    else on that feed's media time (so the note follows the feed when its sync changes).
    """

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


@dataclass(frozen=True)
class Claim:
    """A public statement the analyst recorded, to be checked against the measurements.

    ``kind`` is one of :data:`CLAIM_KINDS`; ``value`` holds the typed assertion, e.g.
    ``{"value": 20}`` for ``shot_count`` or ``{"low": 9.0, "high": 15.0, "stated": "about 12 s"}``
    for a time; ``feed_id`` names the feed a mute claim is about, ``annotation_id`` the annotation
    a time is measured from ("first sight").
    """

    id: str
    source: str
    quote: str
    kind: str
    feed_id: int | None
    annotation_id: str | None
    value: dict
    author: str
    created: str
    edited: str

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class VerifyReport:
    """What :meth:`Case.verify` found. ``ok`` only when nothing differs and the head is signed."""

    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked_feeds: int = 0
    checked_log_rows: int = 0
    checked_rows: int = 0          # table rows re-derived from the log
    head: str | None = None        # "seq:hash" of the last signed head
    signed_by: str | None = None   # "fingerprint (account@host)"
    signed_at: str | None = None

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
        self._signer = None
        self.read_only = False
        self.last_alias: tuple[int, str] | None = None  # set when add_feed met known bytes at a new path
        from media_core.case.signing import account

        self.account = account()

    @property
    def signer(self):
        """This account's signing key (created on first use; see :mod:`media_core.case.signing`)."""
        if self._signer is None:
            from media_core.case.signing import load_signer

            self._signer = load_signer()
        return self._signer

    @property
    def user(self) -> str:
        """Who this process writes as: the OS account and its key's fingerprint."""
        return f"{self.account} ({self.signer.fingerprint})"

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
            case._log("case.create", {"name": p.name, "log_format": LOG_FORMAT})
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
        try:
            case._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise CaseError(f"{db}: cannot be upgraded ({exc})") from None
        return case

    @classmethod
    def open_readonly(cls, path: str | os.PathLike) -> "Case":
        """Open a case for reading only: nothing is written to its folder, WAL content included.

        SQLite writes to a WAL database even to read it (the ``-shm`` index, recovery, a
        checkpoint on close), and ``immutable=1`` would ignore the ``-wal`` file and show a
        stale case. So the database and its WAL are copied to a private temporary folder and
        the copy is opened; the case folder is only read. Changes raise :class:`CaseError`.
        """
        import shutil
        import tempfile

        p = cls.normalize_path(path)
        db = p / DB_NAME
        if not db.is_file():
            raise CaseError(f"{p}: not a case (no {DB_NAME} inside)")
        tmp = Path(tempfile.mkdtemp(prefix="evidence-audit-verify-"))
        try:
            shutil.copyfile(db, tmp / DB_NAME)
            wal = p / (DB_NAME + "-wal")
            if wal.is_file():
                shutil.copyfile(wal, tmp / (DB_NAME + "-wal"))
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CaseError(f"{p}: the case cannot be read ({exc.strerror or exc})") from None
        try:
            conn = cls._connect(tmp / DB_NAME, shown=db)
        except CaseError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        case = cls(p, conn)
        case.read_only = True
        case._tmpdir = tmp
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            case.close()
            raise CaseError(f"{db}: damaged case database ({exc})") from None
        if version > SCHEMA_VERSION:
            case.close()
            raise CaseError(f"{db}: made by a newer Evidence Audit (schema {version})")
        case.schema_version = version
        return case

    @staticmethod
    def _connect(db: Path, *, shown: Path | None = None) -> sqlite3.Connection:
        """Open ``db``; errors name ``shown`` (the case's own database when ``db`` is a private copy)."""
        try:
            conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # WAL + NORMAL: a committed change survives any crash of the app (what analysts need:
            # "a crash loses nothing"); only a power cut may lose the last moments, and the GUI
            # thread is not held up by an fsync on every annotation.
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise CaseError(f"{shown or db}: damaged case database ({exc})") from None
        conn.row_factory = sqlite3.Row
        return conn

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        for v in sorted(MIGRATIONS):
            if v > version:
                with self._lock:  # one script: the schema change and its version land together
                    self._conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[v]}; PRAGMA user_version = {v}; COMMIT;")
        self.schema_version = SCHEMA_VERSION
        if 0 < version < 2:
            # the old log lacks full row content: record a snapshot every later row builds on
            with self._tx() as c:
                snap = integrity.table_state(c).snapshot()
                self._log("case.migrate", {"from": version, "to": SCHEMA_VERSION, "log_format": LOG_FORMAT,
                                           "state": snap})

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None  # type: ignore[assignment]
            tmp = getattr(self, "_tmpdir", None)
            if tmp is not None:
                import shutil

                shutil.rmtree(tmp, ignore_errors=True)
                self._tmpdir = None

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
            case = self.case
            case._lock.acquire()
            try:
                case._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                case._lock.release()
                if "locked" in str(exc) or "busy" in str(exc):
                    raise CaseError(f"case {case.path} is in use by another process{case._writer_hint()}") from None
                raise CaseError(f"{case.path}: cannot write to the case ({exc})") from None
            except BaseException:
                case._lock.release()
                raise
            case._mark_writer()
            return case._conn

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
        if self.read_only:
            raise CaseError(f"{self.path}: opened read-only (for verification); nothing can be changed")
        return Case._Tx(self)

    def _mark_writer(self) -> None:
        """Leave this process's pid where a blocked writer can name it (a hint, never trusted)."""
        try:
            (self.path / LOCK_FILE).write_text(f"{os.getpid()}\n")
        except OSError:
            pass

    def _writer_hint(self) -> str:
        try:
            pid = int((self.path / LOCK_FILE).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return ""
        return f" (pid {pid})" if pid != os.getpid() else ""

    @property
    def case_id(self) -> str:
        with self._lock:
            r = self._conn.execute("SELECT value FROM meta WHERE key='case_id'").fetchone()
        return r[0] if r else ""

    def _append(self, c: sqlite3.Connection, action: str, details: dict) -> tuple[int, str]:
        last = c.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        at, who, dj = _now(), self.user, _canon(details)
        h = row_hash(prev, seq, at, who, action, dj)
        c.execute("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?)", (seq, at, who, action, dj, prev, h))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('log_head', ?)", (f"{seq}:{h}",))
        return seq, h

    def _log(self, action: str, details: dict) -> None:
        """Append an audit row and sign the new head. Call inside a transaction."""
        from media_core.case.signing import head_message, host, record_head

        c = self._conn
        signer = self.signer
        seq, h = self._append(c, action, details)
        if c.execute("SELECT 1 FROM signers WHERE fingerprint=?", (signer.fingerprint,)).fetchone() is None:
            at = _now()
            c.execute("INSERT INTO signers VALUES (?,?,?,?,?)",
                      (signer.fingerprint, signer.public_b64, self.account, host(), at))
            seq, h = self._append(c, "signer.add", {"fingerprint": signer.fingerprint, "public_key": signer.public_b64,
                                                    "account": self.account, "host": host(), "added_at": at})
        case_id = self.case_id
        sig = signer.sign(head_message(case_id, seq, h))
        at = _now()
        c.execute("INSERT OR REPLACE INTO signatures VALUES (?,?,?,?,?)", (seq, h, signer.fingerprint, sig, at))
        record_head(case_id, seq, h, at)

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
        keys = r.keys()
        ident = None
        if "mtime_ns" in keys and r["mtime_ns"] is not None:
            ident = {"dev": r["dev"], "ino": r["ino"], "size": r["size"], "mtime_ns": r["mtime_ns"]}
        return Feed(
            id=r["id"], path=r["path"], size=r["size"], mtime=r["mtime"], sha256=r["sha256"],
            probe=json.loads(r["probe_json"]), label=r["label"], kind=r["kind"], added_at=r["added_at"],
            identity=ident,
        )

    def aliases(self, feed_id: int) -> list[str]:
        """Other paths where the same bytes (same SHA-256) were added."""
        with self._lock:
            rows = self._conn.execute("SELECT path FROM feed_aliases WHERE feed_id=? ORDER BY added_at",
                                      (feed_id,)).fetchall()
        return [r[0] for r in rows]

    def check_identity(self, feed_id: int, *, rehash: bool = True) -> None:
        """Make sure the feed's original is still the file the case fingerprinted.

        Compares device, inode, size and mtime with what was recorded when the feed was added; if
        they differ (a copy, a touch, a replaced file) and ``rehash`` is True, re-hashes it.

        Raises
        ------
        IntegrityError
            The original is missing, or its bytes are not the ones the case recorded.
        """
        f = self.feed(feed_id)
        try:
            now = file_identity(f.path)
        except OSError as exc:
            raise IntegrityError(f"{f.path}: the original of feed {f.id} '{f.label}' cannot be found "
                                 f"({exc.strerror or exc})") from None
        if f.identity is not None and now == f.identity:
            return
        if f.identity is None and now["size"] == f.size and abs(os.stat(f.path).st_mtime - f.mtime) < 1e-6:
            return
        if rehash:
            from media_core.io.hashing import sha256_file

            if sha256_file(f.path) == f.sha256:
                return
        raise IntegrityError(f"{f.path}: CHANGED since it was added to the case as feed {f.id} '{f.label}' "
                             "(its bytes are not the ones fingerprinted); nothing was stored about it")

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
        progress: Progress | None = None,
        should_stop: ShouldStop | None = None,
    ) -> Feed:
        """Probe and fingerprint ``path`` and add it. On any error the case is left unchanged.

        Adding the same original twice (same SHA-256) returns the existing feed.
        """
        from media_core.io.hashing import sha256_file
        from media_core.io.probe import probe

        if kind not in KINDS:
            raise ParameterError(f"unknown feed kind {kind!r}; choose one of {', '.join(KINDS)}")
        if label is not None and not label.strip():
            raise ParameterError("a feed label cannot be empty or only whitespace")
        ap = os.path.abspath(os.fspath(path))
        info = probe(ap)  # raises MediaError naming the file; nothing written yet
        before = file_identity(ap)
        digest = sha256_file(ap, progress=progress, should_stop=should_stop)
        st = os.stat(ap)
        if file_identity(ap) != before:
            raise MediaError(ap, "changed while it was being fingerprinted (still being copied?); try again "
                                 "when it is complete")
        label = label.strip() if label else _default_label(ap, kind)
        with self._tx() as c:
            # the duplicate check and the insert in one transaction: parallel adds cannot both insert
            dup = c.execute("SELECT id, path FROM feeds WHERE sha256=?", (digest,)).fetchone()
            if dup is not None:
                fid = dup["id"]
                known = dup["path"] == ap or c.execute(
                    "SELECT 1 FROM feed_aliases WHERE feed_id=? AND path=?", (fid, ap)).fetchone()
                if not known:
                    at = _now()
                    c.execute("INSERT INTO feed_aliases VALUES (?,?,?)", (fid, ap, at))
                    self._log("feed.alias", {"feed_id": fid, "path": ap, "sha256": digest, "added_at": at})
                    self.last_alias = (fid, ap)
            else:
                at = _now()
                cur = c.execute(
                    "INSERT INTO feeds (path,size,mtime,sha256,probe_json,label,kind,added_at,dev,ino,mtime_ns)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (ap, st.st_size, st.st_mtime, digest, _canon(info), label, kind, at, before["dev"],
                     before["ino"], before["mtime_ns"]),
                )
                fid = cur.lastrowid
                self._log("feed.add", {"feed_id": fid, "path": ap, "size": st.st_size, "sha256": digest,
                                       "probe_sha256": sha(_canon(info)), "label": label, "kind": kind,
                                       "added_at": at, "identity": before})
        if dup is None:
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
        rj = _canon(result)
        at = _now()
        with self._tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO analyses (feed_id,sha256,algorithm,version,params_json,result_json,created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (feed_id, f.sha256, algorithm, version, pj, rj, at),
            )
            summary = {k: result.get(k) for k in ("shot_count",) if k in result}
            if "mutes" in result:
                summary["mute_count"] = len(result["mutes"])
            self._log("analysis.store", {"feed_id": feed_id, "sha256": f.sha256, "algorithm": algorithm,
                                         "version": version, "params": params or {}, "params_json": pj,
                                         "result_sha256": sha(rj), "created_at": at, **summary})
        self.events.analysis_changed.emit(feed_id)

    def get_analysis(
        self, feed_id: int, *, algorithm: str, version: str | None = None, params: dict | None = None
    ) -> dict | None:
        """The newest stored result for this feed and algorithm (optionally exact version/params)."""
        q = ("SELECT result_json FROM analyses WHERE feed_id=? AND algorithm=? "
             "AND sha256=(SELECT sha256 FROM feeds WHERE id=?)")
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
        with self._tx() as c:
            old = c.execute("SELECT nudge_s FROM sync WHERE feed_id=?", (feed_id,)).fetchone()
            nudge = old[0] if old else 0.0
            row = {"feed_id": feed_id, "offset_s": float(clock.offset_s), "drift_ppm": float(clock.drift_ppm),
                   "method": method, "confidence": float(confidence), "evidence_json": _canon(evidence or {}),
                   "nudge_s": nudge, "updated_at": _now()}
            c.execute("INSERT OR REPLACE INTO sync VALUES (?,?,?,?,?,?,?,?)",
                      tuple(row[k] for k in ("feed_id", "offset_s", "drift_ppm", "method", "confidence",
                                             "evidence_json", "nudge_s", "updated_at")))
            self._log("sync.set", integrity.sync_row(row))
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
            row = c.execute("SELECT * FROM sync WHERE feed_id=?", (feed_id,)).fetchone()
            self._log("sync.nudge", {**integrity.sync_row(row), "delta_s": delta_s, "total_nudge_s": row["nudge_s"],
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

    def add_annotations(self, items: Iterable[dict], *, source_name: str, source_sha256: str) -> list[Annotation]:
        """Add many annotations in ONE transaction (an import: all or nothing), each logged with
        the source file's name and SHA-256. ``items`` hold ``start_s``, ``end_s``, ``feed_id``,
        ``category``, ``text`` and optionally ``author``, ``created``, ``edited``. Undoable as one step.
        """
        now = _now()
        anns = []
        for it in items:
            a = Annotation(id=uuid.uuid4().hex, start_s=float(it["start_s"]),
                           end_s=None if it.get("end_s") is None else float(it["end_s"]),
                           feed_id=it.get("feed_id"), category=str(it.get("category") or "custom"),
                           text=str(it.get("text") or ""), author=str(it.get("author") or self.account),
                           created=str(it.get("created") or now), edited=str(it.get("edited") or now))
            self._check_ann(a)
            anns.append(a)
        with self._tx() as c:
            for a in anns:
                c.execute("INSERT INTO annotations VALUES (?,?,?,?,?,?,?,?,?)",
                          (a.id, a.feed_id, a.start_s, a.end_s, a.category, a.text, a.author, a.created, a.edited))
                self._log("annotation.import", {**a.to_dict(), "source": source_name, "source_sha256": source_sha256})
        self.events.annotations_changed.emit()

        def undo():
            for a in anns:
                self._delete_ann(a, "annotation.undo_add")

        def redo():
            for a in anns:
                self._write_ann(a, "annotation.redo_add")

        if anns:
            self._push(_Edit(f"import {len(anns)} annotation(s)", undo=undo, redo=redo))
        return anns

    # ------------------------------------------------------------------ claims
    @property
    def claims(self) -> list[Claim]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM claims ORDER BY created, id").fetchall()
        return [self._claim(r) for r in rows]

    @staticmethod
    def _claim(r) -> Claim:
        d = dict(r)
        d["value"] = json.loads(d.pop("value_json"))
        return Claim(**d)

    def claim(self, claim_id: str) -> Claim:
        with self._lock:
            r = self._conn.execute("SELECT * FROM claims WHERE id=?", (claim_id,)).fetchone()
        if r is None:
            raise ParameterError(f"no claim {claim_id} in case {self.path}")
        return self._claim(r)

    def _check_claim(self, c: Claim) -> None:
        if c.kind not in CLAIM_KINDS:
            raise ParameterError(f"unknown claim kind {c.kind!r}; choose one of {', '.join(CLAIM_KINDS)}")
        if not c.source.strip() or not c.quote.strip():
            raise ParameterError("a claim needs its source and the quoted sentence")
        if c.feed_id is not None:
            self.feed(c.feed_id)
        if c.annotation_id is not None:
            self.annotation(c.annotation_id)

    def _write_claim(self, c: Claim, action: str) -> None:
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (c.id, c.source, c.quote, c.kind, c.feed_id, c.annotation_id, _canon(c.value), c.author,
                         c.created, c.edited))
            self._log(action, c.to_dict())
        self.events.annotations_changed.emit()

    def _delete_claim(self, c: Claim, action: str) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM claims WHERE id=?", (c.id,))
            self._log(action, c.to_dict())
        self.events.annotations_changed.emit()

    def add_claim(self, *, source: str, quote: str, kind: str, value: dict | None = None,
                  feed_id: int | None = None, annotation_id: str | None = None) -> Claim:
        """Record a public claim (audit-logged, undoable). See :class:`Claim`."""
        now = _now()
        c = Claim(uuid.uuid4().hex, str(source), str(quote), str(kind), feed_id, annotation_id, dict(value or {}),
                  self.account, now, now)
        self._check_claim(c)
        self._write_claim(c, "claim.add")
        self._push(_Edit("add claim", undo=lambda: self._delete_claim(c, "claim.undo_add"),
                         redo=lambda: self._write_claim(c, "claim.redo_add")))
        return c

    def update_claim(self, claim_id: str, **changes) -> Claim:
        allowed = {"source", "quote", "kind", "value", "feed_id", "annotation_id"}
        bad = set(changes) - allowed
        if bad:
            raise ParameterError(f"cannot change {', '.join(sorted(bad))} of a claim")
        old = self.claim(claim_id)
        new = replace(old, **changes, edited=_now())
        self._check_claim(new)
        self._write_claim(new, "claim.edit")
        self._push(_Edit("edit claim", undo=lambda: self._write_claim(old, "claim.undo_edit"),
                         redo=lambda: self._write_claim(new, "claim.redo_edit")))
        return new

    def delete_claim(self, claim_id: str) -> None:
        old = self.claim(claim_id)
        self._delete_claim(old, "claim.delete")
        self._push(_Edit("delete claim", undo=lambda: self._write_claim(old, "claim.undo_delete"),
                         redo=lambda: self._delete_claim(old, "claim.redo_delete")))

    # ------------------------------------------------------------------ mute findings
    @staticmethod
    def mute_key(kind: str, start_s: float) -> str:
        """How a mute is named across re-analyses: its kind and its start in the feed's media time (ms)."""
        return f"{kind}@{round(float(start_s) * 1000):d}"

    def mute_findings(self, feed_id: int | None = None) -> list[dict]:
        """The analyst's findings on mutes (was a reason spoken before it?), newest state per mute."""
        where = " WHERE feed_id=?" if feed_id is not None else ""
        q = f"SELECT * FROM mute_findings{where} ORDER BY feed_id, start_s"
        with self._lock:
            rows = self._conn.execute(q, (feed_id,) if feed_id is not None else ()).fetchall()
        return [dict(r) for r in rows]

    def set_mute_finding(self, feed_id: int, *, kind: str, start_s: float, end_s: float, finding: str,
                         text: str = "") -> dict:
        """Record the analyst's finding on one mute (audit-logged with its author; undoable)."""
        if finding not in FINDINGS:
            raise ParameterError(f"unknown finding {finding!r}; choose one of {', '.join(FINDINGS)}")
        if finding == "reason-stated" and not text.strip():
            raise ParameterError("a stated reason needs its text as heard (--text)")
        self.feed(feed_id)
        key = self.mute_key(kind, start_s)
        old = next((r for r in self.mute_findings(feed_id) if r["mute_key"] == key), None)
        row = {"feed_id": feed_id, "mute_key": key, "kind": kind, "start_s": float(start_s), "end_s": float(end_s),
               "finding": finding, "text": str(text), "author": self.account, "at": _now()}
        self._write_finding(row, "finding.set")
        self._push(_Edit("mute finding",
                         undo=lambda: (self._write_finding(old, "finding.undo") if old is not None
                                       else self._delete_finding(row, "finding.undo")),
                         redo=lambda: self._write_finding(row, "finding.redo")))
        return row

    def _write_finding(self, row: dict, action: str) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO mute_findings VALUES (?,?,?,?,?,?,?,?,?)",
                      tuple(row[k] for k in integrity.FINDING_FIELDS))
            self._log(action, dict(row))
        self.events.analysis_changed.emit(row["feed_id"])

    def _delete_finding(self, row: dict, action: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM mute_findings WHERE feed_id=? AND mute_key=?", (row["feed_id"], row["mute_key"]))
            self._log(action, {**row, "deleted": True})
        self.events.analysis_changed.emit(row["feed_id"])

    # ------------------------------------------------------------------ exports and the signed head
    def record_event(self, action: str, details: dict) -> None:
        """Log something done *with* the case that changes no table (an export written, a report
        made): ``action`` like ``export.review``, ``details`` what was made from what.
        """
        if not action.startswith(("export.", "import.", "report.")):
            raise ParameterError(f"record_event is for exports and reports, not {action!r}")
        with self._tx():
            self._log(action, details)

    def signed_head(self) -> dict | None:
        """The newest signed head: ``{case_id, seq, hash, fingerprint, public_key, signature, at}``
        (what exports embed; :func:`media_core.case.signing.head_message` is what was signed).
        """
        with self._lock:
            r = self._conn.execute("SELECT s.*, k.public_key FROM signatures s JOIN signers k "
                                   "ON k.fingerprint = s.fingerprint ORDER BY s.seq DESC LIMIT 1").fetchone()
        if r is None:
            return None
        return {"case_id": self.case_id, "seq": r["seq"], "hash": r["hash"], "fingerprint": r["fingerprint"],
                "public_key": r["public_key"], "signature": r["signature"], "at": r["at"]}

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
    def verify(self, *, trusted: Iterable[str] = (), rehash: bool = True, progress: Progress | None = None,
               should_stop: ShouldStop | None = None) -> VerifyReport:
        """Check the case against its own history and its originals. Never writes to the case.

        1. The audit chain: every row's hash, the numbering, the head record.
        2. The signatures: every signed head still matches its row, and the last row is signed
           (``trusted`` fingerprints, when given, must have signed it).
        3. The tables: every row of feeds, aliases, analyses, sync and annotations, and the
           reference, re-derived from the log and compared.
        4. The originals (``rehash``): each feed's file re-hashed against the SHA-256 the log holds.

        ``progress(fraction, message)`` runs over the re-hashing; ``should_stop()`` cancels it
        (raises :class:`~media_core.errors.Cancelled`).
        """
        from media_core.io.hashing import sha256_file

        rep = VerifyReport()
        with self._lock:
            c = self._conn
            present = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = c.execute("PRAGMA user_version").fetchone()[0]
            need = ["meta", "audit_log", "feeds", "analyses", "sync", "annotations"]
            if version >= 2:
                need += ["feed_aliases", "signers", "signatures"]
            if version >= 3:
                need += ["claims"]
            if version >= 4:
                need += ["mute_findings"]
            missing = [t for t in need if t not in present]
            for t in missing:
                rep.fail(f"the {t} table is missing (dropped outside the case)")
            if missing:
                return rep
            rows = c.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
            head = c.execute("SELECT value FROM meta WHERE key='log_head'").fetchone()
            has_sigs = version >= 2
            sigs = c.execute("SELECT * FROM signatures ORDER BY seq").fetchall() if has_sigs else []
            signers = {r["fingerprint"]: r for r in c.execute("SELECT * FROM signers")} if has_sigs else {}
            have = integrity.table_state(c) if has_sigs else None
        rep.checked_log_rows = len(rows)
        problems, _, _ = integrity.check_chain(rows, head[0] if head else None)
        for msg in problems:
            rep.fail(msg)
        if not has_sigs:
            rep.fail(f"the case is in format {version}: it has no signatures and its tables cannot be re-derived "
                     "(open it once with this version to upgrade it)")
        else:
            sp, notes, last = integrity.check_signatures(self.case_id, rows, sigs, signers, trusted=set(trusted))
            for msg in sp:
                rep.fail(msg)
            rep.notes += notes
            if last is not None:
                rep.head = f"{last.seq}:{last.hash}"
                rep.signed_by = f"{last.fingerprint} ({last.account}@{last.host})"
                rep.signed_at = last.at
            self._check_journal(rep, rows)
            want, rnotes = integrity.replay(rows)
            rep.notes += rnotes
            if want is None:
                rep.fail(rnotes[0])
            else:
                rep.checked_rows = (len(have.feeds) + len(have.analyses) + len(have.sync) + len(have.annotations)
                                    + len(have.aliases))
                for msg in integrity.compare(want, have):
                    rep.fail(msg)
        if rehash:
            logged = {fid: f["sha256"] for fid, f in (want.feeds.items() if has_sigs and want else [])}
            feeds = self.feeds
            for k, f in enumerate(feeds):
                rep.checked_feeds += 1
                expect = logged.get(f.id, f.sha256)
                try:
                    digest = sha256_file(f.path, should_stop=should_stop,
                                         progress=sub_progress(progress, k / len(feeds), (k + 1) / len(feeds)))
                except MediaError as exc:
                    rep.fail(f"feed {f.id} '{f.label}': original {f.path} {exc.problem}")
                    continue
                if digest != expect:
                    rep.fail(f"feed {f.id} '{f.label}': original {f.path} has CHANGED: its sha256 is {digest}, "
                             f"the case's history recorded {expect}")
        return rep

    def _check_journal(self, rep: VerifyReport, rows: list) -> None:
        """Compare with the newest head this workstation account signed for the case (rollbacks)."""
        from media_core.case.signing import recorded_head

        mine = recorded_head(self.case_id)
        if mine is None:
            rep.notes.append("this workstation account has no record of signing this case: a rollback of its "
                             "newest rows (rows, signatures and head deleted together) cannot be ruled out here")
            return
        by_seq = {r["seq"]: r["hash"] for r in rows}
        if mine["seq"] not in by_seq:
            rep.fail(f"this workstation signed row {mine['seq']} of this case at {mine['at']}, but the case now ends "
                     f"at row {max(by_seq, default=0)}: its newest rows were removed (rolled back)")
        elif by_seq[mine["seq"]] != mine["hash"]:
            rep.fail(f"this workstation signed row {mine['seq']} of this case at {mine['at']} with another hash: "
                     "the history up to it was rewritten")

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
