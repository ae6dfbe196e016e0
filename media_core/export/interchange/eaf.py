"""ELAN ``.eaf`` (EAF 3.0) out and in.

Written through pympi-ling (whose default is EAF 2.8; we set 3.0 and its schema). Document time
0 is :func:`~.rows.document_origin_s` (the earliest feed start or item, whole ms), so every
annotation, mute and shot has a time >= 0 (EAF time slots are ``xsd:unsignedInt`` ms). Each feed
is a ``MEDIA_DESCRIPTOR`` whose ``TIME_ORIGIN`` is the feed's media time (ms) at document time 0:
ELAN plays a media file at ``document time + TIME_ORIGIN``. A feed that starts after the
earliest one therefore has a negative origin (``xsd:long``; see the README for what ELAN does
with it). Tiers: one per annotation category (and author, since ELAN keeps one ANNOTATOR per
tier; overlapping notes get a second lane), one ``mutes: FEED`` tier per feed whose values come
from the controlled vocabulary ``mute-kind``, one ``shots: FEED`` tier per feed of 1-ms spans.
Our own fields (the shared-clock origin, each tier's role, each note's feed, creation and edit
times) ride along as HEADER ``PROPERTY`` elements named ``evidence_audit.*``, which ELAN keeps.

Reading never expands entities or follows external references (defusedxml).
"""
from __future__ import annotations

import json
import os
import urllib.parse
from pathlib import Path

from .rows import NAMESPACE, Entry, FeedRef, Row, document_origin_s

__all__ = ["write_eaf", "read_eaf"]

EAF_VERSION = "3.0"
EAF_SCHEMA = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
MUTE_TYPE, SHOT_TYPE, NOTE_TYPE = "evidence-audit-mute", "evidence-audit-shot", "evidence-audit-note"
MUTE_CV = "mute-kind"
MUTE_KINDS = ("digital-silence", "near-silence", "packet-gap", "late-audio-start", "audio-ends-early",
              "no-audio-track", "undecodable", "truncated")
_MIME = {"mp4": "video/mp4", "m4v": "video/mp4", "mov": "video/quicktime", "mkv": "video/x-matroska",
         "webm": "video/webm", "avi": "video/x-msvideo", "mpg": "video/mpeg", "mpeg": "video/mpeg",
         "wav": "audio/x-wav", "m4a": "audio/mp4", "mp3": "audio/mpeg", "aac": "audio/aac", "flac": "audio/flac"}


def _ms(t: float) -> int:
    return int(round(t * 1000.0))


def _lanes(rows: list[Row]) -> list[list[Row]]:
    """Rows split into lanes in which no two overlap (an ELAN tier's annotations may not)."""
    lanes: list[list[Row]] = []
    ends: list[int] = []
    for r in sorted(rows, key=lambda r: (r.start_s, r.id)):
        a = _ms(r.start_s)
        b = max(_ms(r.end_s) if r.end_s is not None else a + 1, a + 1)
        for i, e in enumerate(ends):
            if a >= e:
                lanes[i].append(r)
                ends[i] = b
                break
        else:
            lanes.append([r])
            ends.append(b)
    return lanes


def write_eaf(tl, rows: list[Row], path: str | os.PathLike, *, case_name: str = "", author: str = "") -> dict:
    """Write ``rows`` (from :func:`~.rows.timeline_rows` of ``tl``) as an EAF 3.0 file at ``path``.

    Returns ``{"path", "origin_s", "time_origins_ms": {feed_id: ms}, "tiers": n, "annotations": n}``.
    """
    import pympi

    origin = document_origin_s(tl, rows)
    eaf = pympi.Elan.Eaf(author=author or "evidence-audit")
    eaf.adocument.update({"VERSION": EAF_VERSION, "FORMAT": EAF_VERSION,
                          "xsi:noNamespaceSchemaLocation": EAF_SCHEMA})
    eaf.remove_tier("default")
    eaf.properties = []
    eaf.add_property(f"{NAMESPACE}.schema", "evidence-audit.eaf/1")
    eaf.add_property(f"{NAMESPACE}.case", case_name)
    eaf.add_property(f"{NAMESPACE}.shared_origin_s", repr(origin))
    origins: dict[int, int] = {}
    for f in sorted(tl.feeds, key=lambda f: (f.shared_range()[0], f.id)):  # earliest first: ELAN's master
        o = _ms(f.to_media(origin))
        origins[f.id] = o
        ext = f.path.rsplit(".", 1)[-1].lower() if "." in f.path else ""
        eaf.add_linked_file(Path(f.path).resolve().as_uri(), relpath=os.path.basename(f.path),
                            mimetype=_MIME.get(ext, "video/*" if f.has_video else "audio/*"),
                            time_origin=o if o != 0 else None)
        eaf.add_property(f"{NAMESPACE}.media.{os.path.basename(f.path)}",
                         json.dumps({"sha256": f.sha256, "label": f.label, "feed_id": f.id,
                                     "drift_ppm": f.clock.drift_ppm}))
    eaf.add_language("und", "und", "undetermined")
    eaf.add_controlled_vocabulary(MUTE_CV)
    for k in MUTE_KINDS:
        eaf.add_cv_entry(MUTE_CV, k, [(k, "und", None)])
    eaf.add_linguistic_type(NOTE_TYPE)
    eaf.add_linguistic_type(MUTE_TYPE, param_dict={"LINGUISTIC_TYPE_ID": MUTE_TYPE, "TIME_ALIGNABLE": "true",
                                                     "GRAPHIC_REFERENCES": "false",
                                                     "CONTROLLED_VOCABULARY_REF": MUTE_CV})
    eaf.add_linguistic_type(SHOT_TYPE)

    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        if r.kind == "annotation":
            groups.setdefault(("annotation", r.category, r.author), []).append(r)
        else:
            groups.setdefault((r.kind, r.feed or "", ""), []).append(r)
    cats: dict[str, set] = {}
    for kind, cat, who in groups:
        if kind == "annotation":
            cats.setdefault(cat, set()).add(who)
    n_ann = 0
    used: set[str] = set()
    for (kind, key, who), grp in groups.items():
        if kind == "annotation":
            base = key if len(cats[key]) == 1 else f"{key} ({who})"
            ling = NOTE_TYPE
        else:
            base = f"{kind}s: {key}"
            ling = MUTE_TYPE if kind == "mute" else SHOT_TYPE
        for lane_no, lane in enumerate(_lanes(grp), 1):
            tier = base if lane_no == 1 else f"{base} #{lane_no}"
            while tier in used:
                tier += "'"
            used.add(tier)
            eaf.add_tier(tier, ling=ling, ann=who or None)
            eaf.add_property(f"{NAMESPACE}.tier.{tier}", json.dumps({"kind": kind, "category": key if kind ==
                                                                     "annotation" else None, "author": who}))
            for r in lane:
                a = _ms(r.start_s - origin)
                b = max(_ms(r.end_s - origin) if r.end_s is not None else a + 1, a + 1)
                value = r.category if kind == "mute" else r.text
                eaf.add_annotation(tier, a, b, value)
                aid = f"a{eaf.maxaid}"
                n_ann += 1
                meta = {"kind": r.kind, "feed_sha256": r.feed_sha256, "point": r.end_s is None}
                if kind == "annotation":
                    meta.update(created=r.created, edited=r.edited)
                eaf.add_property(f"{NAMESPACE}.annotation.{aid}", json.dumps(meta))
    text = pympi.Elan.to_string(eaf, pretty=True, encoding="unicode")
    out = Path(path)
    out.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + text, encoding="utf-8")
    return {"path": str(out), "origin_s": origin, "time_origins_ms": origins, "tiers": len(used),
            "annotations": n_ann}


def _media_name(url: str | None) -> str | None:
    if not url:
        return None
    p = urllib.parse.urlparse(url)
    name = urllib.parse.unquote(p.path if p.scheme in ("file", "") else p.path)
    return os.path.basename(name.replace("\\", "/")) or None


def read_eaf(path: str | os.PathLike, *, parse) -> tuple[list[Entry], list[str], dict]:
    """Entries of an EAF file: ``(entries, notes, info)``. ``parse`` is the safe XML parser
    (:func:`media_core.case.importing.parse_xml`). ``notes`` name what is skipped and why;
    ``info`` holds ``media`` (file names with their ``TIME_ORIGIN``), ``shared_origin_s`` (ours)
    and the document ``author``.
    """
    from media_core.errors import ParameterError

    name = os.path.basename(os.fspath(path))
    root = parse(path)
    if root.tag != "ANNOTATION_DOCUMENT":
        raise ParameterError(f"{name}: not an ELAN file (its root element is <{root.tag}>, "
                             "not <ANNOTATION_DOCUMENT>)")
    header = root.find("HEADER")
    units = header.get("TIME_UNITS", "milliseconds") if header is not None else "milliseconds"
    if units != "milliseconds":
        raise ParameterError(f"{name}: time units are {units}; only milliseconds are supported")
    props: dict[str, str] = {}
    media: list[dict] = []
    if header is not None:
        for p in header.findall("PROPERTY"):
            if p.get("NAME"):
                props[p.get("NAME")] = p.text or ""
        for md in header.findall("MEDIA_DESCRIPTOR"):
            fn = _media_name(md.get("RELATIVE_MEDIA_URL")) or _media_name(md.get("MEDIA_URL"))
            try:
                origin = int(md.get("TIME_ORIGIN") or 0)
            except ValueError:
                raise ParameterError(f"{name}: TIME_ORIGIN {md.get('TIME_ORIGIN')!r} of {fn} is not a "
                                     "whole number of ms") from None
            meta = _json(props.get(f"{NAMESPACE}.media.{fn}"))
            media.append({"file": fn, "time_origin_ms": origin, "sha256": meta.get("sha256"),
                          "label": meta.get("label")})
    shared_origin = None
    if f"{NAMESPACE}.shared_origin_s" in props:
        try:
            shared_origin = float(props[f"{NAMESPACE}.shared_origin_s"])
        except ValueError:
            shared_origin = None
    slots: dict[str, int | None] = {}
    to = root.find("TIME_ORDER")
    for ts in (to.findall("TIME_SLOT") if to is not None else []):
        v = ts.get("TIME_VALUE")
        try:
            slots[ts.get("TIME_SLOT_ID")] = int(v) if v is not None else None
        except ValueError:
            slots[ts.get("TIME_SLOT_ID")] = None
    doc_author = root.get("AUTHOR") or None
    entries: list[Entry] = []
    notes: list[str] = []
    for tier in root.findall("TIER"):
        tid = tier.get("TIER_ID") or "?"
        tmeta = _json(props.get(f"{NAMESPACE}.tier.{tid}"))
        ling = tier.get("LINGUISTIC_TYPE_REF")
        kind = tmeta.get("kind") or ("mute" if ling == MUTE_TYPE else "shot" if ling == SHOT_TYPE else "annotation")
        category = tmeta.get("category") or tid
        author = tier.get("ANNOTATOR") or tier.get("PARTICIPANT") or doc_author
        n_ref = n_untimed = 0
        for ann in tier.findall("ANNOTATION"):
            if ann.find("REF_ANNOTATION") is not None:
                n_ref += 1
                continue
            al = ann.find("ALIGNABLE_ANNOTATION")
            if al is None:
                continue
            aid = al.get("ANNOTATION_ID") or "?"
            a, b = slots.get(al.get("TIME_SLOT_REF1")), slots.get(al.get("TIME_SLOT_REF2"))
            if a is None or b is None:
                n_untimed += 1
                continue
            value = (al.findtext("ANNOTATION_VALUE") or "")
            meta = _json(props.get(f"{NAMESPACE}.annotation.{aid}"))
            k = meta.get("kind") or kind
            feed = FeedRef(sha256=meta.get("feed_sha256")) if meta.get("feed_sha256") else None
            entries.append(Entry(kind=k, start_s=a / 1000.0, end_s=None if meta.get("point") else b / 1000.0,
                                 clock="document", feed=feed, category=category if k == "annotation" else value,
                                 text=value, where=f"tier {tid!r} annotation {aid}", author=author,
                                 created=meta.get("created"), edited=meta.get("edited")))
        if n_ref:
            notes.append(f"tier {tid!r}: {n_ref} reference annotation(s) skipped (no times of their own)")
        if n_untimed:
            notes.append(f"tier {tid!r}: {n_untimed} annotation(s) skipped (unaligned time slots)")
    return entries, notes, {"media": media, "shared_origin_s": shared_origin, "author": doc_author}


def _json(text: str | None) -> dict:
    if not text:
        return {}
    try:
        v = json.loads(text)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}
