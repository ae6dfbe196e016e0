r"""``manifest.json``: what an export folder holds, what it was made from, signed.

Schema ``evidence-audit.export-manifest/1``::

    {"schema": ..., "kind": "review" | "clips", "made_at": ISO UTC, "made_by": "account (SHA256:...)",
     "tool": {"name": "evidence-audit", "version": ..., "ffmpeg": "ffmpeg version n9.0.2 ...",
              "fonts": {...}},
     "options": {...the export's choices...},
     "case": {"case_id", "name", "path", "signed_head": {case_id, seq, hash, fingerprint, public_key,
              signature, at}},
     "analysis": {"algorithm", "version", "params"}, "sync": {"algorithm_version"},
     "sources": [{"feed_id", "label", "file", "path", "sha256" (the case's), "sha256_now",
                  "status": "unchanged" | "changed", "size", "clock": {...}, "analysis": {...}}],
     "outputs": [{"file", "sha256", "size", "role": "video" | "clip" | "log", ...}],
     "notes": [...],
     "signature": {"algorithm": "ed25519", "fingerprint", "public_key", "signature", "signed": "..."}}

The signature covers every other key: the UTF-8 bytes of the JSON with sorted keys and no
spaces (:func:`canonical`), prefixed by ``evidence-audit export manifest\n``.
:func:`verify_export` checks it, every output's SHA-256 and size, the embedded signed log head,
and with ``originals`` each source file; it names every difference.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from media_core.errors import CaseError

__all__ = ["MANIFEST", "SCHEMA", "canonical", "build_manifest", "write_manifest", "verify_export",
           "ExportReport", "is_export_folder", "output_record"]

MANIFEST = "manifest.json"
SCHEMA = "evidence-audit.export-manifest/1"
_PREFIX = b"evidence-audit export manifest\n"


def canonical(doc: dict) -> bytes:
    """The bytes that are signed: ``doc`` without ``signature``, sorted keys, no spaces, UTF-8."""
    body = {k: v for k, v in doc.items() if k != "signature"}
    return _PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                allow_nan=False).encode("utf-8")


def output_record(path: str | os.PathLike, role: str, **extra) -> dict:
    """``{"file", "sha256", "size", "role", ...}`` for one written output."""
    from media_core.io.hashing import sha256_file

    p = Path(path)
    return {"file": p.name, "sha256": sha256_file(p), "size": p.stat().st_size, "role": role, **extra}


def build_manifest(*, kind: str, options: dict, case: dict, sources: Sequence[dict], outputs: Sequence[dict],
                   notes: Sequence[str] = (), made_by: str = "", fonts: dict | None = None) -> dict:
    """The manifest document before signing (see the module docstring)."""
    from media_core import __version__, pipeline
    from media_core.export.ffmpeg import ffmpeg_version
    from media_core.sync.estimate import ALGORITHM_VERSION as SYNC_VERSION

    return {
        "schema": SCHEMA, "kind": kind,
        "made_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "made_by": made_by,
        "tool": {"name": "evidence-audit", "version": __version__, "ffmpeg": ffmpeg_version(), "fonts": fonts or {}},
        "options": options, "case": case,
        "analysis": {"algorithm": pipeline.ANALYSIS_ALGORITHM, "version": pipeline.analysis_version(),
                     "params": pipeline.analysis_params()},
        "sync": {"algorithm_version": SYNC_VERSION},
        "sources": list(sources), "outputs": list(outputs), "notes": list(notes),
    }


def write_manifest(folder: str | os.PathLike, doc: dict, *, signer=None) -> tuple[Path, str]:
    """Sign ``doc`` with the workstation key and write ``folder/manifest.json`` (temp file + rename).

    Returns the path and the manifest file's SHA-256 (what the case's audit log records).
    """
    import hashlib

    if signer is None:
        from media_core.case.signing import load_signer

        signer = load_signer()
    doc = dict(doc)
    doc["signature"] = {"algorithm": "ed25519", "fingerprint": signer.fingerprint, "public_key": signer.public_b64,
                        "signature": signer.sign(canonical(doc)),
                        "signed": "every other key of this document: " + _PREFIX.decode().strip()
                                  + " + JSON with sorted keys and no spaces, UTF-8"}
    data = (json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    folder = Path(folder)
    tmp = folder / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    dst = folder / MANIFEST
    os.replace(tmp, dst)
    return dst, hashlib.sha256(data).hexdigest()


def is_export_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding an export manifest (and is not a case folder)."""
    p = Path(path)
    return p.is_dir() and (p / MANIFEST).is_file() and not (p / "case.sqlite").exists()


@dataclass
class ExportReport:
    """What :func:`verify_export` found."""

    folder: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked_outputs: int = 0
    checked_sources: int = 0
    signed_by: str | None = None
    kind: str | None = None
    head: str | None = None

    def fail(self, msg: str) -> None:
        self.ok = False
        self.problems.append(msg)

    def to_dict(self) -> dict:
        return {"folder": self.folder, "ok": self.ok, "problems": self.problems, "notes": self.notes,
                "checked_outputs": self.checked_outputs, "checked_sources": self.checked_sources,
                "signed_by": self.signed_by, "kind": self.kind, "head": self.head}


def _find_original(originals: Path, src: dict) -> Path | None:
    p = originals / str(src.get("file", ""))
    if src.get("file") and os.path.basename(str(src["file"])) == src["file"] and p.is_file():
        return p
    return None


def verify_export(folder: str | os.PathLike, originals: str | os.PathLike | None = None, *,
                  trusted: Iterable[str] = (), progress=None, should_stop=None) -> ExportReport:
    """Check an export folder against its manifest; name every difference.

    Checks the manifest's signature, each listed output's SHA-256 and size, the signature of the
    case's log head it embeds, and (with ``originals``, a folder) that each source original found
    there by its file name has the SHA-256 the case recorded. With ``trusted`` fingerprints, the
    manifest must be signed by one of them. Files in the folder that the manifest does not list are
    reported as notes. Nothing is written.

    Raises
    ------
    CaseError
        ``folder`` has no readable manifest.
    """
    from media_core.case.signing import head_message, verify_signature
    from media_core.io.hashing import sha256_file
    from media_core.progress import check_cancel

    folder = Path(folder)
    rep = ExportReport(str(folder))
    mp = folder / MANIFEST
    try:
        doc = json.loads(mp.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CaseError(f"{mp}: not a readable export manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        schema = doc.get("schema") if isinstance(doc, dict) else None
        raise CaseError(f"{mp}: not an export manifest (schema {schema!r})")
    rep.kind = doc.get("kind")
    sig = doc.get("signature") or {}
    if not isinstance(sig, dict) or not sig.get("signature"):
        rep.fail("manifest.json is not signed")
    else:
        try:
            good = verify_signature(str(sig.get("public_key", "")), canonical(doc), str(sig["signature"]))
        except (TypeError, ValueError):
            good = False
        if not good:
            rep.fail("manifest.json: signature INVALID (the manifest was changed after it was signed, "
                     "or the signature is not by the key it names)")
        else:
            rep.signed_by = str(sig.get("fingerprint"))
            import base64

            from media_core.case.signing import fingerprint as _fp

            try:
                real = _fp(base64.b64decode(str(sig.get("public_key")), validate=True))
            except ValueError:
                real = None
            if real != sig.get("fingerprint"):
                rep.fail(f"manifest.json: the signing key's fingerprint is {real}, not {sig.get('fingerprint')} "
                         "as the manifest says")
    trusted = [t for t in trusted]
    if trusted and rep.signed_by not in trusted:
        rep.fail(f"manifest.json is signed by {rep.signed_by or 'no valid key'}, not by a trusted key "
                 f"({', '.join(trusted)})")

    head = ((doc.get("case") or {}).get("signed_head")) or None
    if not head:
        rep.notes.append("the manifest embeds no signed log head of the case")
    else:
        try:
            msg = head_message(str(head["case_id"]), int(head["seq"]), str(head["hash"]))
            ok = verify_signature(str(head["public_key"]), msg, str(head["signature"]))
        except (KeyError, TypeError, ValueError):
            ok = False
        rep.head = f"{head.get('seq')}:{head.get('hash')}"
        if not ok:
            rep.fail("the case's signed log head in the manifest has an INVALID signature")

    outputs = doc.get("outputs") or []
    listed = {MANIFEST}
    for i, o in enumerate(outputs):
        check_cancel(should_stop, f"verify {folder}")
        name = str(o.get("file", ""))
        listed.add(name)
        if not name or os.path.basename(name) != name or name in (".", ".."):
            rep.fail(f"output {i}: bad file name {name!r} in the manifest")
            continue
        p = folder / name
        if not p.is_file():
            rep.fail(f"{name}: MISSING (listed in the manifest)")
            continue
        size = p.stat().st_size
        h = sha256_file(p)
        rep.checked_outputs += 1
        if h != o.get("sha256"):
            rep.fail(f"{name}: SHA-256 differs from the manifest ({h[:16]}..., manifest {str(o.get('sha256'))[:16]}...)"
                     + (f"; size {size} bytes, manifest {o.get('size')}" if size != o.get("size") else ""))
        if progress is not None:
            progress((i + 1) / max(1, len(outputs) + len(doc.get("sources") or [])), f"checking {name}")
    extra = sorted(n for n in os.listdir(folder) if n not in listed and not n.startswith(".evidence-audit-work-"))
    for n in extra:
        rep.notes.append(f"{n}: in the folder but not in the manifest (not checked)")

    for s in doc.get("sources") or []:
        if s.get("status") == "changed":
            rep.notes.append(f"source feed {s.get('feed_id')} '{s.get('label')}' was exported from a CHANGED original "
                             f"(the manifest records it: case SHA-256 {str(s.get('sha256'))[:16]}..., "
                             f"exported {str(s.get('sha256_now'))[:16]}...)")
    if originals is not None:
        od = Path(originals)
        for s in doc.get("sources") or []:
            check_cancel(should_stop, f"verify {folder}")
            p = _find_original(od, s)
            if p is None:
                rep.fail(f"source {s.get('file')!s} (feed {s.get('feed_id')} '{s.get('label')}'): not found in {od}")
                continue
            h = sha256_file(p)
            rep.checked_sources += 1
            if h != s.get("sha256"):
                rep.fail(f"source {p.name} (feed {s.get('feed_id')} '{s.get('label')}'): SHA-256 differs from the "
                         f"case's ({h[:16]}..., recorded {str(s.get('sha256'))[:16]}...)")
    return rep
