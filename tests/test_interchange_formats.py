"""Annotation interchange out and back in (media_core.export.interchange, media_core.case.importing):
round trip per format within 1 ms on a copy of the demo case, EAF 3.0 structure, WebVTT escaping."""
from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from media_core.case.importing import import_annotations
from media_core.case.store import Case
from media_core.case.timeline import build_timeline
from media_core.export.interchange import FORMATS, export_annotations
from media_core.export.interchange.vtt import escape_cue_text

NOTES = [  # (feed index or None, start, end, category, text)
    (1, 5.0, 7.5, "command", "Drop it! <b>&amp; --> x\n\nsecond paragraph"),
    (1, 6.0, 8.0, "command", "overlaps the first"),
    (None, 12.25, None, "use of force", "point note, é ü 日本"),
    (2, 30.0, 31.0, "suspect door", "door opens"),
    (0, 40.1234, 41.0, "command", 'quotes "a", b; tab\there'),
]


@pytest.fixture(scope="module")
def exported(demo, tmp_path_factory):
    """The demo case copied twice (one annotated and exported in every format, one left empty)."""
    _, res, _ = demo
    d = tmp_path_factory.mktemp("ix")
    src, empty = d / "src.evcase", d / "empty.evcase"
    shutil.copytree(res["case"], src)
    shutil.copytree(res["case"], empty)
    with Case.open(src) as case:
        feeds = case.feeds
        for fi, a, b, cat, text in NOTES:
            case.add_annotation(start_s=a, end_s=b, feed_id=None if fi is None else feeds[fi].id, category=cat,
                                text=text)
        out = {fmt: export_annotations(case, fmt=fmt, out_dir=d / fmt) for fmt in FORMATS}
        tl = build_timeline(case)
        log = [r for r in case.audit_log() if r["action"] == "export.annotations"]
    return {"dir": d, "src": src, "empty": empty, "out": out, "timeline": tl, "log": log}


def _key(a):
    return (a.feed_id or 0, a.category, a.text, a.author)


@pytest.mark.parametrize("fmt,pick", [("eaf", ".eaf"), ("otio", ".otio"), ("vtt", ".shared.vtt"),
                                      ("csv", ".csv"), ("json", ".json")])
def test_round_trip_keeps_every_annotation_within_1_ms(exported, tmp_path, fmt, pick):
    dst = tmp_path / "c.evcase"
    shutil.copytree(exported["empty"], dst)
    f = next(x["path"] for x in exported["out"][fmt]["files"] if x["path"].endswith(pick))
    with Case.open(dst) as case:
        assert case.annotations == []
        pv = import_annotations(case, f)
        assert pv.measured["mute"] > 0 and pv.measured["shot"] > 0  # recognised, not imported
        got = sorted(build_timeline(case).annotations, key=_key)
        sha = [r for r in case.audit_log() if r["action"] == "annotation.import"]
    want = sorted(exported["timeline"].annotations, key=_key)
    assert [_key(a) for a in got] == [_key(a) for a in want]
    for g, w in zip(got, want):
        assert g.start_s == pytest.approx(w.start_s, abs=1e-3)
        assert (g.end_s is None) == (w.end_s is None)
        if w.end_s is not None:
            assert g.end_s == pytest.approx(w.end_s, abs=1e-3)
        if w.media_start_s is not None:
            assert g.media_start_s == pytest.approx(w.media_start_s, abs=1e-3)
        assert (g.created, g.edited) == (w.created, w.edited)
    assert len(sha) == len(NOTES)
    assert all(r["details"]["source_sha256"] == pv.sha256 for r in sha)


def test_per_feed_vtt_is_in_media_time_and_round_trips(exported, tmp_path):
    files = exported["out"]["vtt"]["files"]
    assert len(files) == 1 + len(exported["timeline"].feeds)
    tl = exported["timeline"]
    fb = tl.feeds[1]
    path = next(x["path"] for x in files if x.get("feed_id") == fb.id)
    text = Path(path).read_text(encoding="utf-8")
    assert "00:00:05.000 --> 00:00:07.500" in text  # media time of feed B, not shared
    dst = tmp_path / "c.evcase"
    shutil.copytree(exported["empty"], dst)
    with Case.open(dst) as case:
        import_annotations(case, path)
        got = sorted((a.media_start_s, a.text) for a in build_timeline(case).annotations)
    assert [t for _, t in got] == ["Drop it! <b>&amp; --> x\n\nsecond paragraph", "overlaps the first"]
    assert got[0][0] == pytest.approx(5.0, abs=1e-3)


def test_include_measured_imports_mutes_and_shots(exported, tmp_path):
    dst = tmp_path / "c.evcase"
    shutil.copytree(exported["empty"], dst)
    f = exported["out"]["csv"]["files"][0]["path"]
    with Case.open(dst) as case:
        pv = import_annotations(case, f, include_measured=True)
        cats = {a.category for a in case.annotations}
    assert {"mute", "shot"} <= cats
    assert len(pv.items) == len(NOTES) + pv.measured["mute"] + pv.measured["shot"]


def test_every_export_is_logged_with_its_files_sha256(exported):
    assert [r["details"]["format"] for r in exported["log"]] == list(FORMATS)
    for r, fmt in zip(exported["log"], FORMATS):
        files = r["details"]["files"]
        assert [f["sha256"] for f in files] == [x["sha256"] for x in exported["out"][fmt]["files"]]


def test_cue_text_is_escaped_per_the_webvtt_spec():
    assert escape_cue_text("a < b & c > d") == "a &lt; b &amp; c &gt; d"
    assert escape_cue_text("x --> y") == "x --&gt; y"
    assert escape_cue_text("one\n\n\ntwo\r\nthree") == "one\ntwo\nthree"  # a blank line would end the cue
    assert escape_cue_text("") == "&nbsp;"


def test_otio_places_each_feed_by_a_leading_gap_on_the_shared_clock(exported):
    import opentimelineio as otio

    tl = exported["timeline"]
    t = otio.adapters.read_from_file(exported["out"]["otio"]["files"][0]["path"])
    origin = t.metadata["evidence_audit"]["shared_origin_s"]
    assert len(t.tracks) == len(tl.feeds)
    by_sha = {f.sha256: f for f in tl.feeds}
    for track in t.tracks:
        clips = [c for c in track if isinstance(c, otio.schema.Clip)]
        assert len(clips) == 1
        clip = clips[0]
        f = by_sha[clip.metadata["evidence_audit"]["sha256"]]
        start = track.range_of_child(clip).start_time.to_seconds()
        assert start == pytest.approx(f.shared_range()[0] - origin, abs=1e-6)
        assert clip.media_reference.target_url.endswith(f.path.split("/")[-1])
        assert clip.media_reference.available_range.duration.to_seconds() == pytest.approx(f.duration_s, abs=1e-6)
        kinds = {m.metadata["evidence_audit"]["kind"] for m in clip.markers}
        if tl.mutes_of(f.id):
            assert "mute" in kinds


# ---------------------------------------------------------------- EAF 3.0: what the XSD requires
_ORDER = ["LICENSE", "HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "LOCALE", "LANGUAGE", "CONSTRAINT",
          "CONTROLLED_VOCABULARY", "LEXICON_REF", "REF_LINK_SET", "EXTERNAL_REF"]


def check_eaf30(root) -> None:
    """The EAF 3.0 schema's rules for the elements we write (http://www.mpi.nl/tools/elan/EAFv3.0.xsd):
    element order and cardinality, required attributes and their types, and every key/keyref pair."""
    import datetime as dt

    assert root.tag == "ANNOTATION_DOCUMENT"
    for a in ("DATE", "AUTHOR", "VERSION"):
        assert a in root.attrib
    assert root.get("VERSION") == "3.0" and root.get("FORMAT", "3.0") == "3.0"
    assert root.get("{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation").endswith("EAFv3.0.xsd")
    dt.datetime.fromisoformat(root.get("DATE"))  # xsd:dateTime
    tags = [c.tag for c in root]
    assert all(t in _ORDER for t in tags), tags
    assert [_ORDER.index(t) for t in tags] == sorted(_ORDER.index(t) for t in tags), "elements out of order"
    assert tags.count("HEADER") == 1 and tags.count("TIME_ORDER") == 1
    header = root.find("HEADER")
    htags = [c.tag for c in header]
    order = ["MEDIA_DESCRIPTOR", "LINKED_FILE_DESCRIPTOR", "PROPERTY"]
    assert [order.index(t) for t in htags] == sorted(order.index(t) for t in htags)
    assert header.get("TIME_UNITS", "milliseconds") in ("NTSC-frames", "PAL-frames", "milliseconds")
    for md in header.findall("MEDIA_DESCRIPTOR"):
        assert md.get("MEDIA_URL") and md.get("MIME_TYPE")
        if md.get("TIME_ORIGIN") is not None:
            assert -2**63 <= int(md.get("TIME_ORIGIN")) < 2**63  # xsd:long
    slots = {}
    for ts in root.find("TIME_ORDER"):
        assert ts.tag == "TIME_SLOT"
        sid = ts.get("TIME_SLOT_ID")
        assert sid and sid not in slots  # xsd:ID, unique
        v = ts.get("TIME_VALUE")
        if v is not None:
            assert 0 <= int(v) < 2**32  # xsd:unsignedInt
        slots[sid] = v
    ltypes = {}
    for lt in root.findall("LINGUISTIC_TYPE"):
        lid = lt.get("LINGUISTIC_TYPE_ID")
        assert lid and lid not in ltypes  # linTypeNameKey
        ltypes[lid] = lt
        for b in ("TIME_ALIGNABLE", "GRAPHIC_REFERENCES"):
            assert lt.get(b) in (None, "true", "false", "1", "0")
    langs = {la.get("LANG_ID") for la in root.findall("LANGUAGE")}
    assert all(langs)
    cvs = {}
    for cv in root.findall("CONTROLLED_VOCABULARY"):
        assert cv.get("CV_ID") and cv.get("CV_ID") not in cvs  # cvNameKey
        cvs[cv.get("CV_ID")] = cv
        ids = set()
        for e in cv:
            assert e.tag in ("DESCRIPTION", "CV_ENTRY_ML")
            if e.tag == "CV_ENTRY_ML":
                assert e.get("CVE_ID") and e.get("CVE_ID") not in ids  # cvEntryKey
                ids.add(e.get("CVE_ID"))
                vals = e.findall("CVE_VALUE")
                assert vals and all(v.get("LANG_REF") in langs for v in vals)  # cvValueLangRef
    for lt in ltypes.values():
        if lt.get("CONTROLLED_VOCABULARY_REF"):
            assert lt.get("CONTROLLED_VOCABULARY_REF") in cvs  # cvNameRef
    tiers, ann_ids = set(), set()
    for tier in root.findall("TIER"):
        tid = tier.get("TIER_ID")
        assert tid and tid not in tiers  # tierNameKey
        tiers.add(tid)
        assert tier.get("LINGUISTIC_TYPE_REF") in ltypes  # linTypeNameRef
        for ann in tier:
            assert ann.tag == "ANNOTATION" and len(ann) == 1
            al = ann[0]
            assert al.tag in ("ALIGNABLE_ANNOTATION", "REF_ANNOTATION")
            aid = al.get("ANNOTATION_ID")
            assert aid and aid not in ann_ids
            ann_ids.add(aid)
            assert [c.tag for c in al] == ["ANNOTATION_VALUE"]
            if al.tag == "ALIGNABLE_ANNOTATION":
                r1, r2 = al.get("TIME_SLOT_REF1"), al.get("TIME_SLOT_REF2")
                assert r1 in slots and r2 in slots  # timeSlotRef1/2
                assert int(slots[r1]) < int(slots[r2])  # ELAN: a positive duration
    for tier in root.findall("TIER"):
        if tier.get("PARENT_REF"):
            assert tier.get("PARENT_REF") in tiers  # tierNameRef


def test_written_eaf_meets_the_eaf_3_0_schema_rules_and_aligns_every_feed(exported):
    path = exported["out"]["eaf"]["files"][0]["path"]
    root = ET.parse(path).getroot()
    check_eaf30(root)
    tl = exported["timeline"]
    origin = float(next(p.text for p in root.iter("PROPERTY") if p.get("NAME") == "evidence_audit.shared_origin_s"))
    mds = {md.get("RELATIVE_MEDIA_URL"): int(md.get("TIME_ORIGIN") or 0) for md in root.iter("MEDIA_DESCRIPTOR")}
    assert len(mds) == len(tl.feeds)
    for f in tl.feeds:
        # ELAN plays the file at document time + TIME_ORIGIN: media time at document 0 is to_media(origin)
        assert mds[f.path.split("/")[-1]] == round(1000 * f.to_media(origin))
        assert mds[f.path.split("/")[-1]] <= 0
    assert min(-o for o in mds.values()) == 0  # the earliest feed is the master, origin 0
    tiers = {t.get("TIER_ID"): t for t in root.iter("TIER")}
    assert any(k.startswith("mutes: ") for k in tiers) and any(k.startswith("shots: ") for k in tiers)
    assert tiers["command"].get("ANNOTATOR")  # authors kept
    slots = {s.get("TIME_SLOT_ID"): int(s.get("TIME_VALUE")) for s in root.iter("TIME_SLOT")}
    for k, t in tiers.items():
        if k.startswith("shots: "):
            for al in t.iter("ALIGNABLE_ANNOTATION"):
                assert slots[al.get("TIME_SLOT_REF2")] - slots[al.get("TIME_SLOT_REF1")] == 1  # 1-ms spans
    mute_values = {al.findtext("ANNOTATION_VALUE") for k, t in tiers.items() if k.startswith("mutes: ")
                   for al in t.iter("ALIGNABLE_ANNOTATION")}
    cv = {v.text for v in root.iter("CVE_VALUE")}
    assert mute_values <= cv  # mute kinds from the controlled vocabulary


def test_cli_export_and_import_dry_run(exported, tmp_path, capsys):
    from media_core.cli import main

    dst = tmp_path / "c.evcase"
    shutil.copytree(exported["empty"], dst)
    assert main(["export", "annotations", str(exported["src"]), "--format", "eaf", "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{len(NOTES)} annotation(s), ") and "src.eaf" in out
    assert main(["import", "annotations", str(dst), str(tmp_path / "o" / "src.eaf"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{len(NOTES)} annotation(s) to import, 0 skipped" in out and "dry run: nothing imported" in out
    with Case.open(dst) as case:
        assert case.annotations == []
    bad = tmp_path / "bad.eaf"
    bad.write_text("<ANNOTATION_DOCUMENT>")
    assert main(["import", "annotations", str(dst), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evidence-audit: bad.eaf: malformed XML at line 1") and err.count("\n") == 1
    assert main(["import", "annotations", str(dst), str(tmp_path / "o" / "src.eaf"), "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc["imported"] == len(NOTES) and doc["measured_in_file"]["shot"] > 0
