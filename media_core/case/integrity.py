"""The log is the truth: re-derive every table row from the audit log and compare.

Every change the case makes is appended to the hash-chained log with the full new content of
the rows it touched (large JSON as its SHA-256). :func:`replay` folds the log into the state the
tables must hold; :func:`compare` names every row of ``feeds``, ``feed_aliases``, ``analyses``,
``sync``, ``annotations`` and the reference that differs; :func:`check_chain` and
:func:`check_signatures` prove the log itself up to its last signed head.

A case made before log format 2 starts its replay at the ``case.migrate`` row, which holds a
snapshot of every table as it was when the case was upgraded.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
LOG_FORMAT = 2


def canon(obj: Any) -> str:
    """The canonical JSON every hash in the case is taken over."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def row_hash(prev_hash: str, seq: int, at: str, who: str, action: str, details_json: str) -> str:
    """The audit chain's hash of one row: SHA-256 of the previous hash plus this row's content."""
    return sha(prev_hash + canon([seq, at, who, action, details_json]))


# ------------------------------------------------------------------------------------ rows
def feed_row(r: sqlite3.Row | dict) -> dict:
    """What the log records of a ``feeds`` row."""
    return {"feed_id": r["id"], "path": r["path"], "size": r["size"], "sha256": r["sha256"],
            "probe_sha256": sha(r["probe_json"]), "label": r["label"], "kind": r["kind"],
            "added_at": r["added_at"]}


def analysis_key(feed_id: int, algorithm: str, version: str, params_json: str) -> str:
    return canon([feed_id, algorithm, version, params_json])


def analysis_row(r: sqlite3.Row | dict) -> dict:
    return {"feed_id": r["feed_id"], "sha256": r["sha256"], "algorithm": r["algorithm"], "version": r["version"],
            "params_json": r["params_json"], "result_sha256": sha(r["result_json"]), "created_at": r["created_at"]}


def sync_row(r: sqlite3.Row | dict) -> dict:
    return {"feed_id": r["feed_id"], "offset_s": r["offset_s"], "drift_ppm": r["drift_ppm"], "method": r["method"],
            "confidence": r["confidence"], "evidence_sha256": sha(r["evidence_json"]), "nudge_s": r["nudge_s"],
            "updated_at": r["updated_at"]}


ANNOTATION_REMOVALS = {"annotation.delete", "annotation.undo_add", "annotation.redo_delete"}
ANNOTATION_FIELDS = ("id", "feed_id", "start_s", "end_s", "category", "text", "author", "created", "edited")


def annotation_row(r: sqlite3.Row | dict) -> dict:
    return {k: r[k] for k in ANNOTATION_FIELDS}


CLAIM_FIELDS = ("id", "source", "quote", "kind", "feed_id", "annotation_id", "value", "author", "created", "edited")
CLAIM_REMOVALS = {"claim.delete", "claim.undo_add", "claim.redo_delete"}


def claim_row(r: sqlite3.Row | dict) -> dict:
    d = {k: r[k] for k in CLAIM_FIELDS if k != "value"}
    d["value"] = json.loads(r["value_json"]) if "value_json" in r.keys() else r["value"]
    return d


FINDING_FIELDS = ("feed_id", "mute_key", "kind", "start_s", "end_s", "finding", "text", "author", "at")


def table_state(conn: sqlite3.Connection) -> "State":
    """The state the tables hold now, in the shape :func:`replay` derives."""
    st = State()
    for r in conn.execute("SELECT * FROM feeds"):
        st.feeds[r["id"]] = feed_row(r)
    for r in conn.execute("SELECT * FROM feed_aliases"):
        st.aliases.add((r["feed_id"], r["path"]))
    for r in conn.execute("SELECT * FROM analyses"):
        st.analyses[analysis_key(r["feed_id"], r["algorithm"], r["version"], r["params_json"])] = analysis_row(r)
    for r in conn.execute("SELECT * FROM sync"):
        st.sync[r["feed_id"]] = sync_row(r)
    for r in conn.execute("SELECT * FROM annotations"):
        st.annotations[r["id"]] = annotation_row(r)
    ref = conn.execute("SELECT value FROM meta WHERE key='reference_feed_id'").fetchone()
    st.reference = int(ref[0]) if ref and ref[0] else None
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='claims'").fetchone():
        for r in conn.execute("SELECT * FROM claims"):
            st.claims[r["id"]] = claim_row(r)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='mute_findings'").fetchone():
        for r in conn.execute("SELECT * FROM mute_findings"):
            st.findings[f"{r['feed_id']}/{r['mute_key']}"] = {k: r[k] for k in FINDING_FIELDS}
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name='signers'").fetchone():
        st.signers = {r["fingerprint"]: r["public_key"] for r in conn.execute("SELECT * FROM signers")}
    return st


@dataclass
class State:
    """Rows by key, as the tables must hold them."""

    feeds: dict[int, dict] = field(default_factory=dict)
    aliases: set[tuple[int, str]] = field(default_factory=set)
    analyses: dict[str, dict] = field(default_factory=dict)
    sync: dict[int, dict] = field(default_factory=dict)
    annotations: dict[str, dict] = field(default_factory=dict)
    reference: int | None = None
    signers: dict[str, str] = field(default_factory=dict)  # fingerprint -> public key
    claims: dict[str, dict] = field(default_factory=dict)
    findings: dict[str, dict] = field(default_factory=dict)  # "feed_id/mute_key" -> row

    def snapshot(self) -> dict:
        """JSON form (the ``case.migrate`` row holds one)."""
        return {"feeds": list(self.feeds.values()), "aliases": sorted(map(list, self.aliases)),
                "analyses": list(self.analyses.values()), "sync": list(self.sync.values()),
                "annotations": list(self.annotations.values()), "reference": self.reference,
                "signers": self.signers, "claims": list(self.claims.values()),
                "findings": list(self.findings.values())}

    @classmethod
    def from_snapshot(cls, d: dict) -> "State":
        st = cls()
        st.feeds = {f["feed_id"]: f for f in d.get("feeds", [])}
        st.aliases = {(a[0], a[1]) for a in d.get("aliases", [])}
        st.analyses = {analysis_key(a["feed_id"], a["algorithm"], a["version"], a["params_json"]): a
                       for a in d.get("analyses", [])}
        st.sync = {s["feed_id"]: s for s in d.get("sync", [])}
        st.annotations = {a["id"]: a for a in d.get("annotations", [])}
        st.reference = d.get("reference")
        st.signers = dict(d.get("signers", {}))
        st.claims = {c["id"]: c for c in d.get("claims", [])}
        st.findings = {f"{f['feed_id']}/{f['mute_key']}": f for f in d.get("findings", [])}
        return st

    def drop_feed(self, fid: int) -> None:
        self.feeds.pop(fid, None)
        self.aliases = {a for a in self.aliases if a[0] != fid}
        self.analyses = {k: v for k, v in self.analyses.items() if v["feed_id"] != fid}
        self.sync.pop(fid, None)
        self.findings = {k: v for k, v in self.findings.items() if v["feed_id"] != fid}
        for a in list(self.annotations.values()) + list(self.claims.values()):
            if a["feed_id"] == fid:
                a["feed_id"] = None


# ------------------------------------------------------------------------------------ replay
def replay(rows: list[sqlite3.Row]) -> tuple[State | None, list[str]]:
    """Fold the log into the state the tables must hold.

    Returns ``(state, notes)``; state is None when the log cannot be replayed (a case made
    before log format 2 without its migration snapshot).
    """
    notes: list[str] = []
    start = 0
    for i, r in enumerate(rows):
        if r["action"] == "case.migrate":
            start = i
    st = State()
    first = rows[start] if rows else None
    if first is not None and first["action"] == "case.migrate":
        st = State.from_snapshot(json.loads(first["details_json"]).get("state", {}))
        start += 1
    elif first is not None and (first["action"] != "case.create"
                                or json.loads(first["details_json"]).get("log_format") != LOG_FORMAT):
        return None, ["the log predates format 2 and has no migration snapshot: table rows cannot be re-derived"]
    for r in rows[start:]:
        d = json.loads(r["details_json"])
        a = r["action"]
        fid = d.get("feed_id")
        if a == "feed.add":
            st.feeds[fid] = {k: d[k] for k in ("feed_id", "path", "size", "sha256", "probe_sha256", "label", "kind",
                                               "added_at")}
        elif a == "feed.alias":
            st.aliases.add((fid, d["path"]))
        elif a in ("feed.label", "feed.kind"):
            if fid in st.feeds:
                st.feeds[fid][a.split(".", 1)[1]] = d["new"]
        elif a == "feed.remove":
            st.drop_feed(fid)
        elif a == "analysis.store":
            row = {k: d[k] for k in ("feed_id", "sha256", "algorithm", "version", "params_json", "result_sha256",
                                     "created_at")}
            st.analyses[analysis_key(fid, d["algorithm"], d["version"], d["params_json"])] = row
        elif a in ("sync.set", "sync.nudge"):
            st.sync[fid] = {k: d[k] for k in ("feed_id", "offset_s", "drift_ppm", "method", "confidence",
                                              "evidence_sha256", "nudge_s", "updated_at")}
        elif a == "sync.reference":
            st.reference = fid
        elif a.startswith("finding."):
            key = f"{d['feed_id']}/{d['mute_key']}"
            if d.get("deleted"):
                st.findings.pop(key, None)
            else:
                st.findings[key] = {k: d[k] for k in FINDING_FIELDS}
        elif a.startswith("claim."):
            if a in CLAIM_REMOVALS:
                st.claims.pop(d["id"], None)
            else:
                st.claims[d["id"]] = {k: d[k] for k in CLAIM_FIELDS}
        elif a == "signer.add":
            st.signers[d["fingerprint"]] = d["public_key"]
        elif a.startswith("annotation."):  # .add .edit .import .undo_* .redo_*
            if a in ANNOTATION_REMOVALS:
                st.annotations.pop(d["id"], None)
            else:
                st.annotations[d["id"]] = {k: d[k] for k in ANNOTATION_FIELDS}
    return st, notes


def _diff_rows(table: str, key_name: str, want: dict, have: dict) -> list[str]:
    out = []
    for k in sorted(set(want) | set(have), key=str):
        w, h = want.get(k), have.get(k)
        if w == h:
            continue
        if h is None:
            out.append(f"{table} {key_name} {k}: the log says it exists, the table has no such row "
                       "(deleted outside the log)")
        elif w is None:
            out.append(f"{table} {key_name} {k}: the table has a row the log never recorded (added outside the log)")
        else:
            fields = [f for f in sorted(set(w) | set(h)) if w.get(f) != h.get(f)]
            shown = ", ".join(f"{f} is {h.get(f)!r}, the log says {w.get(f)!r}" for f in fields)
            out.append(f"{table} {key_name} {k}: changed outside the log: {shown}")
    return out


def compare(want: State, have: State) -> list[str]:
    """Every row where the tables differ from what the log derives, in words."""
    out = _diff_rows("feeds", "row", want.feeds, have.feeds)
    for fid, path in sorted(want.aliases ^ have.aliases):
        where = "the log" if (fid, path) in want.aliases else "the table"
        out.append(f"feed_aliases: alias {path!r} of feed {fid} is only in {where}")
    out += _diff_rows("analyses", "entry", want.analyses, have.analyses)
    out += _diff_rows("sync", "of feed", want.sync, have.sync)
    out += _diff_rows("annotations", "id", want.annotations, have.annotations)
    out += _diff_rows("claims", "id", want.claims, have.claims)
    out += _diff_rows("mute_findings", "mute", want.findings, have.findings)
    for fp in sorted(set(want.signers) | set(have.signers)):
        if want.signers.get(fp) != have.signers.get(fp):
            out.append(f"signers: key {fp} differs from the one the log recorded (or is not in the log)")
    if want.reference != have.reference:
        out.append(f"meta: the reference feed is {have.reference}, the log says {want.reference}")
    return out


# ------------------------------------------------------------------------------------ chain and signatures
def check_chain(rows: list[sqlite3.Row], head: str | None) -> tuple[list[str], str, int]:
    """Problems of the hash chain itself; returns ``(problems, last hash, last seq)``."""
    problems: list[str] = []
    prev, expect_seq = GENESIS, 1
    for r in rows:
        if r["seq"] != expect_seq:
            problems.append(f"audit log: row {expect_seq} is missing (next row is {r['seq']})")
        if r["prev_hash"] != prev:
            problems.append(f"audit log: row {r['seq']} does not follow the row before it (chain broken)")
        h = row_hash(r["prev_hash"], r["seq"], r["at"], r["who"], r["action"], r["details_json"])
        if h != r["hash"]:
            problems.append(f"audit log: row {r['seq']} ({r['action']}) was edited after it was written")
        prev, expect_seq = r["hash"], r["seq"] + 1
    last = expect_seq - 1
    if head is None:
        problems.append("audit log: the chain head record is missing")
    else:
        seq_s, _, h = head.partition(":")
        if not seq_s.isdigit() or int(seq_s) != last or h != prev:
            problems.append(f"audit log: the chain head says {head[:80]!r} but the log ends at row {last}"
                            " (rows were deleted or the head was altered)")
    return problems, prev, last


@dataclass
class SignedHead:
    """The newest signature that still matches the log: which row, by whom, when."""

    seq: int
    hash: str
    fingerprint: str
    account: str
    host: str
    at: str


def check_signatures(case_id: str, rows: list[sqlite3.Row], signatures: list[sqlite3.Row],
                     signers: dict[str, sqlite3.Row], *, trusted: set[str] | None = None
                     ) -> tuple[list[str], list[str], SignedHead | None]:
    """Check every signed head against the log. Returns ``(problems, notes, last valid signed head)``.

    A signature proves the rows up to its own (each row's hash covers the one before it). Rows
    after the last valid signature are reported as unproven. ``trusted`` fingerprints, when
    given, must have signed the last head.
    """
    from media_core.case.signing import head_message, verify_signature

    problems: list[str] = []
    notes: list[str] = []
    by_seq = {r["seq"]: r for r in rows}
    last_valid: SignedHead | None = None
    for s in signatures:
        row = by_seq.get(s["seq"])
        signer = signers.get(s["fingerprint"])
        if signer is None:
            problems.append(f"signature on row {s['seq']}: made by key {s['fingerprint']}, "
                            "which the case does not record")
            continue
        if not verify_signature(signer["public_key"], head_message(case_id, s["seq"], s["hash"]), s["signature"]):
            problems.append(f"signature on row {s['seq']}: INVALID (forged or altered)")
            continue
        if row is None:
            problems.append(f"signature on row {s['seq']}: the log no longer has that row (rows were deleted)")
            continue
        if row["hash"] != s["hash"]:
            problems.append(f"signature on row {s['seq']}: the row's hash differs from the signed one "
                            "(the history up to it was rewritten after it was signed)")
            continue
        if last_valid is None or s["seq"] > last_valid.seq:
            last_valid = SignedHead(s["seq"], s["hash"], s["fingerprint"], signer["account"], signer["host"], s["at"])
    last_seq = rows[-1]["seq"] if rows else 0
    if last_valid is None:
        if rows:
            problems.append("no valid signature covers the log: its history cannot be proven")
    elif last_valid.seq < last_seq:
        problems.append(f"rows {last_valid.seq + 1}-{last_seq} are not signed: the history can be proven only "
                        f"up to row {last_valid.seq}")
    if trusted and last_valid is not None and last_valid.fingerprint not in trusted:
        problems.append(f"the last signed head was signed by {last_valid.fingerprint}, which is not a trusted key")
    for fp, s in signers.items():
        notes.append(f"signer {fp}: {s['account']}@{s['host']} since {s['added_at']}")
    return problems, notes, last_valid
