"""Bad annotation files (media_core.case.importing): one clear line, or a preview naming what is
skipped; XML bombs and external entities refused; nothing half-imported."""
from __future__ import annotations

import pytest

from media_core.case.importing import MAX_BYTES, apply_import, import_annotations, preview_import, read_annotation_file
from media_core.case.store import Case
from media_core.case.timeline import Feed, Timeline
from media_core.clock import Clock
from media_core.errors import ParameterError

SHA = "ab" * 32


def _tl():
    f = Feed(id=1, label="Officer A body cam", kind="bodycam", path="/x/bodycam_A.mp4", sha256=SHA, has_audio=True,
             has_video=True, duration_s=60.0, clock=Clock(2.0, 0.0), is_reference=False, sync_method="audio")
    return Timeline((f,), (), (), (), ())


def _w(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return p


EAF = ('<?xml version="1.0" encoding="UTF-8"?>\n<ANNOTATION_DOCUMENT AUTHOR="x" DATE="2024-01-01T00:00:00+00:00" '
       'VERSION="3.0"><HEADER TIME_UNITS="milliseconds">{media}</HEADER><TIME_ORDER>'
       '<TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="1000"/><TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="2500"/>'
       '<TIME_SLOT TIME_SLOT_ID="ts3"/></TIME_ORDER>'
       '<TIER TIER_ID="gesture" LINGUISTIC_TYPE_REF="lt" ANNOTATOR="Dr. B"><ANNOTATION><ALIGNABLE_ANNOTATION '
       'ANNOTATION_ID="a1" TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2"><ANNOTATION_VALUE>points</ANNOTATION_VALUE>'
       '</ALIGNABLE_ANNOTATION></ANNOTATION><ANNOTATION><ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" '
       'TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts3"><ANNOTATION_VALUE>?</ANNOTATION_VALUE></ALIGNABLE_ANNOTATION>'
       '</ANNOTATION></TIER><TIER TIER_ID="gloss" LINGUISTIC_TYPE_REF="sub" PARENT_REF="gesture"><ANNOTATION>'
       '<REF_ANNOTATION ANNOTATION_ID="a3" ANNOTATION_REF="a1"><ANNOTATION_VALUE>g</ANNOTATION_VALUE>'
       '</REF_ANNOTATION></ANNOTATION></TIER><LINGUISTIC_TYPE LINGUISTIC_TYPE_ID="lt"/></ANNOTATION_DOCUMENT>')
MD = '<MEDIA_DESCRIPTOR MEDIA_URL="file:///elsewhere/{name}" MIME_TYPE="video/mp4" TIME_ORIGIN="{o}"/>'


def test_foreign_eaf_unknown_tier_becomes_a_category_mapped_through_the_feed(tmp_path):
    p = _w(tmp_path, "a.eaf", EAF.format(media=MD.format(name="bodycam_A.mp4", o=500)))
    pv = preview_import(_tl(), read_annotation_file(p))
    assert pv.items == [{"start_s": 1.5, "end_s": 3.0, "feed_id": 1, "category": "gesture", "text": "points",
                         "author": "Dr. B", "created": None, "edited": None}]  # doc 1000 ms + origin 500 ms
    text = "\n".join(pv.lines())
    assert "1 annotation(s) skipped (unaligned time slots)" in text
    assert "tier 'gloss': 1 reference annotation(s) skipped" in text


def test_eaf_whose_media_are_not_in_the_case_is_one_line(tmp_path):
    p = _w(tmp_path, "b.eaf", EAF.format(media=MD.format(name="other.mp4", o=0) + MD.format(name="x.wav", o=0)))
    with pytest.raises(ParameterError, match=r"^b\.eaf: none of its media \(other\.mp4, x\.wav\) is in case"):
        preview_import(_tl(), read_annotation_file(p))


@pytest.mark.parametrize("doc,msg", [
    ("<ANNOTATION_DOCUMENT><HEADER></ANNOTATION_DOCUMENT>", r"^bad\.eaf: malformed XML at line 1, column \d+"),
    ("", r"^bad\.eaf: malformed XML"),
    ("<?xml version='1.0'?><html/>", r"^bad\.eaf: not an ELAN file \(its root element is <html>"),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
     '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><ANNOTATION_DOCUMENT>&c;</ANNOTATION_DOCUMENT>',
     r"^bad\.eaf: refused: the XML declares a DTD or entities"),
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     '<ANNOTATION_DOCUMENT>&x;</ANNOTATION_DOCUMENT>', r"^bad\.eaf: refused: the XML declares a DTD or entities"),
])
def test_bad_xml_is_one_line_and_entities_are_refused(tmp_path, doc, msg):
    p = _w(tmp_path, "bad.eaf", doc)
    with pytest.raises(ParameterError, match=msg) as ei:
        read_annotation_file(p)
    assert "\n" not in str(ei.value) and "root:" not in str(ei.value)


def test_vtt_negative_reversed_and_malformed_cues_are_skipped_overlaps_named(tmp_path):
    p = _w(tmp_path, "c.vtt", "WEBVTT\n\n1\n00:00:01.000 --> 00:00:03.000\n<v Ann>first &amp; &lt;x&gt;</v>\n\n"
                              "2\n00:00:02.000 --> 00:00:04.000\n[command] second\n\n"
                              "3\n-00:00:01.000 --> 00:00:01.000\nneg\n\n"
                              "4\n00:00:05.000 --> 00:00:04.000\nreversed\n\n"
                              "5\n00:00:xx.000 --> 00:00:06.000\nbroken\n")
    pv = preview_import(_tl(), read_annotation_file(p))
    assert [(i["start_s"], i["category"], i["text"], i["feed_id"]) for i in pv.items] == \
        [(1.0, "custom", "first & <x>", None), (2.0, "command", "second", None)]
    assert pv.skipped == [] and any("line 12: cue skipped (negative time" in n for n in pv.notes)
    assert any("cue skipped (it ends before it starts)" in n for n in pv.notes)
    assert any("are not WebVTT timestamps" in n for n in pv.notes)
    assert any("line 8: cue overlaps the cue at line 4 (both kept)" in n for n in pv.notes)
    assert any("cue times taken as the shared clock" in n for n in pv.notes)


def test_vtt_with_feed_option_is_that_feeds_media_time(tmp_path):
    p = _w(tmp_path, "d.vtt", "WEBVTT\n\n00:00:01.500 --> 00:00:02.000\nhello\n")
    pv = preview_import(_tl(), read_annotation_file(p), feed="Officer A body cam")
    assert (pv.items[0]["start_s"], pv.items[0]["feed_id"]) == (1.5, 1)
    with pytest.raises(ParameterError, match=r"^--feed nobody: no such feed"):
        preview_import(_tl(), read_annotation_file(p), feed="nobody")


@pytest.mark.parametrize("data,how", [
    ("\ufeffcategory,start_s,text\ncommand,1.5,Stop\n".encode("utf-8"), "UTF-8 with a byte-order mark"),
    ("category;start_s;text\ncommand;1,5;Arrêtez\n".encode("latin-1"), "not UTF-8: read as Latin-1"),
    (b"category\tstart_s\ttext\ncommand\t1.5\tStop\n", None),
])
def test_csv_encodings_and_delimiters(tmp_path, data, how):
    pv = preview_import(_tl(), read_annotation_file(_w(tmp_path, "e.csv", data)))
    assert [(i["category"], i["start_s"]) for i in pv.items] == [("command", 1.5)]
    if how:
        assert f"text {how}" in pv.notes
    if b"Arr" in data:
        assert pv.items[0]["text"] == "Arrêtez"


def test_csv_wrong_columns_is_one_line_and_bad_rows_are_named(tmp_path):
    with pytest.raises(ParameterError, match=r"^f\.csv: the CSV lacks the column\(s\) category, start_s "
                                             r"\(found: when, what\)$"):
        read_annotation_file(_w(tmp_path, "f.csv", "when,what\n1,2\n"))
    with pytest.raises(ParameterError, match=r"^g\.csv: not a table"):
        read_annotation_file(_w(tmp_path, "g.csv", "just some words\n"))
    p = _w(tmp_path, "h.csv", "category,start_s,end_s,feed\ncommand,abc,,\n,1,2,\ncommand,3,2,\n"
                              "command,1,2,Unknown cam\ncommand,4,5,\n")
    pv = preview_import(_tl(), read_annotation_file(p))
    assert len(pv.items) == 1 and pv.items[0]["start_s"] == 4.0
    assert pv.skipped == ["row 4: ends before it starts", "row 5: feed Unknown cam is not in the case"]
    assert "row 2: start_s 'abc' is not a number (row skipped)" in pv.notes
    assert "row 3: no category (row skipped)" in pv.notes


def test_huge_files_are_refused_before_reading(tmp_path, monkeypatch):
    import media_core.case.importing as imp

    p = _w(tmp_path, "big.csv", "category,start_s\n" + "command,1\n" * 2000)
    monkeypatch.setattr(imp, "MAX_BYTES", 1000)
    with pytest.raises(ParameterError, match=r"^big\.csv: 0\.0 MB; annotation files over 0 MB are refused$"):
        read_annotation_file(p)
    assert MAX_BYTES == 50 * 1024 * 1024
    with pytest.raises(ParameterError, match=r"^x\.srt: unknown annotation format \.srt"):
        read_annotation_file(_w(tmp_path, "x.srt", "1"))


def test_an_import_is_all_or_nothing_and_logged_with_the_files_sha256(tmp_path, monkeypatch):
    p = _w(tmp_path, "i.csv", "category,start_s,end_s,text\n" + "".join(f"command,{i},{i + 1},n{i}\n"
                                                                         for i in range(5)))
    with Case.create(tmp_path / "c.evcase") as case:
        n0 = len(case.audit_log())
        calls = {"n": 0}
        real = case._log

        def failing(action, details):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError("disk full")
            return real(action, details)

        monkeypatch.setattr(case, "_log", failing)
        with pytest.raises(OSError):
            import_annotations(case, p)
        assert case.annotations == [] and len(case.audit_log()) == n0
        monkeypatch.setattr(case, "_log", real)
        pv = import_annotations(case, p, dry_run=True)
        assert case.annotations == [] and len(pv.items) == 5
        p.write_text(p.read_text() + "command,9,10,late\n")
        with pytest.raises(ParameterError, match=r"^i\.csv: changed since it was previewed"):
            apply_import(case, pv)
        pv = import_annotations(case, p)
        log = [r for r in case.audit_log() if r["action"] == "annotation.import"]
        assert len(case.annotations) == 6 and len(log) == 6
        assert {r["details"]["source_sha256"] for r in log} == {pv.sha256}
        assert {r["details"]["source"] for r in log} == {"i.csv"}
