"""Annotations into a case from ELAN, CSV, JSON, WebVTT and OpenTimelineIO files.

Three steps, so the app can show what will happen before anything does:

1. :func:`read_annotation_file` (compute; no case): the file's bytes, SHA-256 and
   :class:`~media_core.export.interchange.rows.Entry` records. Refuses files over
   :data:`MAX_BYTES`, XML with a DTD, entities or external references (defusedxml), and names
   malformed input in one line (:class:`~media_core.errors.ParameterError`).
2. :func:`preview_import` (needs the case's :class:`~media_core.case.timeline.Timeline`): maps
   every entry through its feed's clock (``Clock.to_media`` / the file's own origin), decides
   what is imported and what is skipped and why; mutes and shots of our own exports are
   recognised and left out unless ``include_measured``.
3. :func:`apply_import`: :meth:`Case.add_annotations` in ONE transaction, each annotation
   audit-logged with the source file's name and SHA-256. The file is hashed again first; a file
   that changed since the preview is refused.
"""
from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from media_core.errors import ParameterError

__all__ = ["MAX_BYTES", "MAX_ENTRIES", "SUFFIXES", "ParsedFile", "ImportPreview", "read_annotation_file",
           "preview_import", "apply_import", "import_annotations", "parse_xml"]

MAX_BYTES = 50 * 1024 * 1024   # larger annotation files are refused (a 3-hour ELAN file is ~5 MB)
MAX_ENTRIES = 200_000
SUFFIXES = {".eaf": "eaf", ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".vtt": "vtt", ".otio": "otio",
            ".json": "json"}


@dataclass
class ParsedFile:
    """An annotation file as read: its name, format, SHA-256, entries and notes on what was skipped."""

    path: str
    name: str
    format: str
    sha256: str
    entries: list
    notes: list[str]
    info: dict


@dataclass
class ImportPreview:
    """What an import will do: ``items`` (for :meth:`Case.add_annotations`) and what is skipped."""

    source: str
    name: str
    format: str
    sha256: str
    items: list[dict]
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    measured: Counter = field(default_factory=Counter)   # mutes / shots recognised in the file
    include_measured: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Annotations to import per category."""
        return dict(sorted(Counter(it["category"] for it in self.items).items()))

    def summary(self) -> dict:
        return {"file": self.name, "format": self.format, "sha256": self.sha256, "import": len(self.items),
                "by_category": self.counts, "skipped": len(self.skipped), "skipped_reasons": self.skipped,
                "measured_in_file": dict(self.measured), "include_measured": self.include_measured,
                "notes": self.notes}

    def lines(self) -> list[str]:
        """The preview in plain lines (the CLI's --dry-run and the app's dialog)."""
        out = [f"{self.name} ({self.format}, SHA-256 {self.sha256[:16]}...): {len(self.items)} annotation(s) "
               f"to import, {len(self.skipped)} skipped"]
        for cat, n in self.counts.items():
            out.append(f"  {n:6d}  {cat}")
        if self.measured:
            what = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in sorted(self.measured.items()))
            out.append(f"measured spans in the file: {what} -- "
                       + ("imported as annotations (--include-measured)" if self.include_measured
                          else "not imported (measurements, not notes; --include-measured imports them)"))
        out += [f"note: {n}" for n in self.notes]
        out += [f"skipped: {s}" for s in self.skipped[:50]]
        if len(self.skipped) > 50:
            out.append(f"skipped: ... and {len(self.skipped) - 50} more")
        return out


def parse_xml(path: str | os.PathLike):
    """The root element of an XML file, parsed with defusedxml: a DTD, entity declarations
    (billion laughs) and external entities are refused, never expanded or fetched.
    """
    import xml.etree.ElementTree as ET

    import defusedxml
    import defusedxml.ElementTree as DET

    name = os.path.basename(os.fspath(path))
    try:
        return DET.parse(os.fspath(path), forbid_dtd=True, forbid_entities=True, forbid_external=True).getroot()
    except defusedxml.DefusedXmlException as exc:
        raise ParameterError(f"{name}: refused: the XML declares a DTD or entities ({type(exc).__name__}); "
                             "entity expansion and external entities are not allowed") from None
    except ET.ParseError as exc:
        line, col = getattr(exc, "position", (0, 0))
        raise ParameterError(f"{name}: malformed XML at line {line}, column {col + 1} "
                             f"({str(exc).split(':')[0]})") from None


def read_annotation_file(path: str | os.PathLike, *, fmt: str | None = None) -> ParsedFile:
    """Read an annotation file (format from its suffix unless ``fmt``): the compute half."""
    from media_core.export.interchange import eaf, otio, table, vtt

    p = Path(path)
    name = p.name
    if not p.is_file():
        raise ParameterError(f"{path}: no such file")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise ParameterError(f"{name}: {size / 1e6:.1f} MB; annotation files over {MAX_BYTES / 1e6:.0f} MB "
                             "are refused")
    fmt = fmt or SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise ParameterError(f"{name}: unknown annotation format {p.suffix or '(no suffix)'}; "
                             f"use one of {', '.join(sorted(SUFFIXES))}")
    data = p.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    notes: list[str] = []
    if fmt == "eaf":
        entries, n2, info = eaf.read_eaf(p, parse=parse_xml)
    elif fmt == "otio":
        entries, n2, info = otio.read_otio(p)
    else:
        text, how = table.decode_text(data, name=name)
        if how:
            notes.append(f"text {how}")
        if fmt == "vtt":
            entries, n2, info = vtt.read_vtt(text, name=name)
        elif fmt == "json":
            entries, n2, info = table.read_json(text, name=name)
        else:
            entries, n2, info = table.read_csv(text, name=name)
    if len(entries) > MAX_ENTRIES:
        raise ParameterError(f"{name}: {len(entries)} entries; more than {MAX_ENTRIES} are refused")
    return ParsedFile(str(p), name, fmt, sha, entries, notes + n2, info)


def _resolver(tl):
    by_sha = {f.sha256: f for f in tl.feeds}
    by_file = {os.path.basename(f.path).lower(): f for f in tl.feeds}
    by_label = {f.label.strip().lower(): f for f in tl.feeds}

    def resolve(ref):
        if ref is None:
            return None
        if ref.sha256 and ref.sha256 in by_sha:
            return by_sha[ref.sha256]
        if ref.file and ref.file.lower() in by_file:
            return by_file[ref.file.lower()]
        if ref.label and ref.label.strip().lower() in by_label:
            return by_label[ref.label.strip().lower()]
        return None

    return resolve


def _document_mapping(parsed: ParsedFile, resolve, case_name: str):
    """How document times of an EAF/OTIO file reach the case: ``("shared", origin)`` or
    ``("media", feed, media_time_at_document_zero)``.
    """
    from media_core.export.interchange.rows import FeedRef

    info = parsed.info
    listed: list[tuple[str, object, float]] = []  # (name, resolved feed or None, media time at doc 0)
    if parsed.format == "eaf":
        for m in info.get("media", []):
            ref = FeedRef(m.get("sha256"), m.get("file"), m.get("label"))
            listed.append((str(ref), resolve(ref), m["time_origin_ms"] / 1000.0))
    elif parsed.format == "otio":
        for c in info.get("clips", []):
            listed.append((str(c["feed"]), resolve(c["feed"]), c["source_start_s"] - c["timeline_start_s"]))
    found = [x for x in listed if x[1] is not None]
    missing = sorted({n for n, f, _ in listed if f is None})
    if listed and not found:
        raise ParameterError(f"{parsed.name}: none of its media ({', '.join(missing)[:200]}) is in case "
                             f"{case_name}; add the feeds first (evidence-audit case add)")
    if missing:
        parsed.notes.append(f"media not in the case: {', '.join(missing)[:200]}")
    origin = info.get("shared_origin_s")
    if origin is not None and found:
        return ("shared", float(origin))
    if found:
        return ("media", found[0][1], found[0][2])
    if origin is not None:
        return ("shared", float(origin))
    parsed.notes.append("the file names no media and no clock: its times are taken as the shared clock")
    return ("shared", 0.0)


def preview_import(tl, parsed: ParsedFile, *, include_measured: bool = False, feed: str | None = None,
                   case_name: str = "") -> ImportPreview:
    """Map ``parsed`` onto the case whose timeline is ``tl``; nothing is written.

    ``feed`` (label, file name or id) says whose media time a file without a clock is in
    (a WebVTT from elsewhere); by default such times are taken as the shared clock.
    """
    from media_core.export.interchange.rows import FeedRef

    resolve = _resolver(tl)
    pv = ImportPreview(parsed.path, parsed.name, parsed.format, parsed.sha256, [], notes=list(parsed.notes),
                       include_measured=include_measured)
    forced = None
    if feed is not None:
        forced = next((f for f in tl.feeds if str(f.id) == str(feed)), None) or resolve(FeedRef(None, feed, feed))
        if forced is None:
            raise ParameterError(f"--feed {feed}: no such feed in case {case_name} "
                                 f"(feeds: {', '.join(f.label for f in tl.feeds)[:200]})")
    doc = None
    if any(e.clock == "document" for e in parsed.entries):
        doc = _document_mapping(parsed, resolve, case_name)
    vinfo = parsed.info if parsed.format == "vtt" else {}
    if parsed.format == "vtt" and vinfo.get("clock") is None:
        if forced is not None:
            pv.notes.append(f"cue times taken as {forced.label}'s media time (--feed)")
        else:
            pv.notes.append("the file names no clock: cue times taken as the shared clock (--feed names a feed)")
    if parsed.format == "vtt" and vinfo.get("clock") == "media" and resolve(vinfo.get("feed")) is None:
        raise ParameterError(f"{parsed.name}: its feed {vinfo.get('feed')} is not in case {case_name}")
    for e in parsed.entries:
        if e.kind in ("mute", "shot"):
            pv.measured[e.kind] += 1
            if not include_measured:
                continue
        elif e.kind != "annotation":
            pv.skipped.append(f"{e.where}: unknown kind {e.kind!r}")
            continue
        if not all(math.isfinite(x) for x in (e.start_s, e.end_s if e.end_s is not None else 0.0)):
            pv.skipped.append(f"{e.where}: time is not finite")
            continue
        if e.end_s is not None and e.end_s < e.start_s:
            pv.skipped.append(f"{e.where}: ends before it starts")
            continue
        own = resolve(e.feed) if e.feed is not None else None
        if e.feed is not None and own is None:
            pv.skipped.append(f"{e.where}: feed {e.feed} is not in the case")
            continue
        clock, media_feed, a, b = "shared", None, e.start_s, e.end_s
        if e.clock == "media":
            clock, media_feed = "media", own
        elif e.clock == "document":
            if doc[0] == "shared":
                a, b = doc[1] + a, (None if b is None else doc[1] + b)
            else:
                clock, media_feed = "media", doc[1]
                a, b = doc[2] + a, (None if b is None else doc[2] + b)
        elif e.clock == "file":
            vc = vinfo.get("clock")
            if vc == "shared":
                o = float(vinfo.get("shared_origin_s") or 0.0)
                a, b = o + a, (None if b is None else o + b)
            elif vc == "media":
                clock, media_feed = "media", resolve(vinfo.get("feed"))
            elif forced is not None:
                clock, media_feed = "media", forced
        target = own or (media_feed if clock == "media" else None)
        if clock == "media" and target is not None and media_feed is not None and target.id != media_feed.id:
            a = target.to_media(media_feed.to_shared(a))   # media of one feed -> shared -> media of its own
            b = None if b is None else target.to_media(media_feed.to_shared(b))
        elif clock == "shared" and target is not None:
            a, b = target.to_media(a), (None if b is None else target.to_media(b))
        category = e.category
        if e.kind == "mute":
            category, text = "mute", f"{e.category}: {e.text}" if e.text and e.text != e.category else e.category
        elif e.kind == "shot":
            category, text = "shot", e.text or e.category
        else:
            text = e.text
        if not category.strip():
            pv.skipped.append(f"{e.where}: no category")
            continue
        pv.items.append({"start_s": a, "end_s": b, "feed_id": target.id if target is not None else None,
                         "category": category.strip(), "text": text, "author": e.author, "created": e.created,
                         "edited": e.edited})
    return pv


def apply_import(case, pv: ImportPreview) -> list:
    """Store ``pv`` in ONE transaction (all or nothing); every annotation is logged with the
    source's name and SHA-256. The file must still hash as it did when previewed.
    """
    p = Path(pv.source)
    if p.is_file():
        now = hashlib.sha256(p.read_bytes()).hexdigest()
        if now != pv.sha256:
            raise ParameterError(f"{pv.name}: changed since it was previewed; preview it again")
    return case.add_annotations(pv.items, source_name=pv.name, source_sha256=pv.sha256)


def import_annotations(case, path: str | os.PathLike, *, dry_run: bool = False, include_measured: bool = False,
                       feed: str | None = None) -> ImportPreview:
    """Read, preview and (unless ``dry_run``) apply an import; returns the preview."""
    from media_core.case.timeline import build_timeline

    parsed = read_annotation_file(path)
    pv = preview_import(build_timeline(case), parsed, include_measured=include_measured, feed=feed,
                        case_name=case.name)
    if not dry_run:
        apply_import(case, pv)
    return pv
