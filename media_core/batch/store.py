"""The audit's analytical store: Parquet files in a folder, written and read through DuckDB.

Layout: ``DIR/files/part-<UTC time>-<random>.parquet``, one file per appended batch, one row per
audited file (SHA-256, path, camera identity, recording start, duration, tags as JSON, shots and
the mutes as a nested list). A part is written to a temporary name and renamed, so a reader never
sees half a part and a crash loses at most the batch being written.

Idempotent by SHA-256: :meth:`AuditStore.append` drops records whose SHA-256 is already stored
(or repeated in the batch), and every read takes one row per SHA-256 (the oldest part's), so even
two writers racing on one folder cannot make a file count twice.

Why DuckDB (and not pandas/pyarrow): one dependency of about 20 MB with no others (pandas and
pyarrow together are about 100 MB and would go into the desktop bundle); it writes and reads the
Parquet itself, scans a glob of parts as one table without loading them, and its SQL gives the
summaries directly: grouping by any tag (``json_extract_string``), exact ``median``, ``UNNEST``
of the nested mutes. The files stay plain Parquet: pandas, pyarrow, Spark or R read them too.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import uuid
from pathlib import Path
from typing import Any

from media_core.errors import ParameterError

__all__ = ["AuditStore", "FILES_SQL_TYPES"]

#: The row of one audited file (the Parquet schema, in DuckDB types).
FILES_SQL_TYPES = {
    "sha256": "VARCHAR", "path": "VARCHAR", "name": "VARCHAR", "size": "BIGINT", "mtime_ns": "BIGINT",
    "make": "VARCHAR", "model": "VARCHAR", "serial": "VARCHAR", "creation_time": "VARCHAR",
    "recording_start": "TIMESTAMP", "duration_s": "DOUBLE", "has_audio": "BOOLEAN", "tags_json": "VARCHAR",
    "shot_count": "INTEGER", "shot_times_s": "DOUBLE[]",
    "mutes": "STRUCT(kind VARCHAR, start_s DOUBLE, end_s DOUBLE, duration_s DOUBLE, confidence DOUBLE, "
             "after_shot_s DOUBLE)[]",
    "muted_s": "DOUBLE", "version": "VARCHAR",
}
_MUTE_KEYS = ("kind", "start_s", "end_s", "duration_s", "confidence", "after_shot_s")


class AuditStore:
    """A folder of audit Parquet parts (created on first append)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ParameterError(f"{self.path}: the audit store must be a folder")
        self.files_dir = self.path / "files"

    # ------------------------------------------------------------------ reading
    def parts(self) -> list[Path]:
        return sorted(self.files_dir.glob("part-*.parquet")) if self.files_dir.is_dir() else []

    def connect(self):
        """A DuckDB connection with the view ``files`` (one row per SHA-256) over the parts."""
        import duckdb

        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        parts = self.parts()
        if parts:
            lst = ", ".join("'" + str(p).replace("'", "''") + "'" for p in parts)
            con.execute(f"CREATE VIEW files_all AS SELECT * FROM read_parquet([{lst}], filename=true)")
            con.execute("CREATE VIEW files AS SELECT * EXCLUDE (filename, _rank) FROM ("
                        "SELECT *, row_number() OVER (PARTITION BY sha256 ORDER BY filename) AS _rank "
                        "FROM files_all) WHERE _rank = 1")
        else:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {k}" for k, t in FILES_SQL_TYPES.items())
            con.execute(f"CREATE VIEW files AS SELECT {cols} WHERE false")
        return con

    def known_files(self) -> dict[str, tuple[int, int]]:
        """``{path: (size, mtime_ns)}`` of every stored record (to skip unchanged files)."""
        if not self.parts():
            return {}
        con = self.connect()
        try:
            return {p: (s, m) for p, s, m in con.execute("SELECT path, size, mtime_ns FROM files").fetchall()}
        finally:
            con.close()

    def sha256s(self) -> set[str]:
        if not self.parts():
            return set()
        con = self.connect()
        try:
            return {r[0] for r in con.execute("SELECT sha256 FROM files").fetchall()}
        finally:
            con.close()

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, ordered by SHA-256 (``tags`` parsed back into a dict)."""
        con = self.connect()
        try:
            cur = con.execute("SELECT * FROM files ORDER BY sha256")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r)) for r in cur.fetchall()]
        finally:
            con.close()
        for r in rows:
            r["tags"] = json.loads(r.pop("tags_json") or "{}")
        return rows

    def __len__(self) -> int:
        return len(self.sha256s())

    # ------------------------------------------------------------------ writing
    def append(self, records: list[dict[str, Any]]) -> int:
        """Write the records not stored yet (by SHA-256) as one new part; return how many."""
        have = self.sha256s()
        fresh: dict[str, dict] = {}
        for r in records:
            if r["sha256"] not in have and r["sha256"] not in fresh:
                fresh[r["sha256"]] = r
        if not fresh:
            return 0
        import duckdb

        self.files_dir.mkdir(parents=True, exist_ok=True)
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        final = self.files_dir / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = self.files_dir / f".{final.name}.tmp"
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone='UTC'")
            con.execute("CREATE TABLE batch (" + ", ".join(f"{k} {t}" for k, t in FILES_SQL_TYPES.items()) + ")")
            con.executemany(f"INSERT INTO batch VALUES ({', '.join('?' * len(FILES_SQL_TYPES))})",
                            [self._row(r) for r in sorted(fresh.values(), key=lambda r: r["sha256"])])
            con.execute(f"COPY batch TO '{str(tmp).replace(chr(39), chr(39) * 2)}' (FORMAT parquet, COMPRESSION zstd)")
        finally:
            con.close()
        os.replace(tmp, final)
        return len(fresh)

    @staticmethod
    def _row(r: dict[str, Any]) -> list:
        out = []
        for k in FILES_SQL_TYPES:
            if k == "tags_json":
                out.append(json.dumps(r.get("tags") or {}, sort_keys=True, ensure_ascii=False))
            elif k == "mutes":
                out.append([{m_k: m.get(m_k) for m_k in _MUTE_KEYS} for m in r.get("mutes") or []])
            else:
                out.append(r.get(k))
        return out
