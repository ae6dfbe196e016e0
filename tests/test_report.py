"""The commission report (issue 14): claims against the demo, PDF/A declared, reproducible bytes,
hostile text verbatim, CSV injection guarded, long tables with repeated headers."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pytest

from media_core.case.store import Case
from media_core.cli import main as cli_main

pypdf = pytest.importorskip("pypdf")

HOSTILE = "He said \"stop\" & <ran> \u202eRTL\u202c\nsecond line 漢字"


@pytest.fixture
def demo_copy(demo, tmp_path):
    _, res, _ = demo
    dst = tmp_path / "demo.evcase"
    shutil.copytree(res["case"], dst)
    return dst


def _claims(case: Case) -> dict[str, str]:
    b = next(f for f in case.feeds if f.label == "Officer B body cam")
    ids = {}
    ids["11"] = case.add_claim(source="Press release", quote="Officers fired 11 shots.", kind="shot_count",
                               value={"value": 11}).id
    ids["20"] = case.add_claim(source="Police statement", quote="Officers fired 20 shots.", kind="shot_count",
                               value={"value": 20}).id
    ids["12s"] = case.add_claim(source="News", quote="B muted about 12 s after the last shot",
                                kind="mute_after_last_shot_s", value={"low": 9.0, "high": 15.0, "stated": "about 12 s"},
                                feed_id=b.id).id
    ids["6min"] = case.add_claim(source="Blog", quote="B muted 6 minutes after the shooting",
                                 kind="mute_after_last_shot_s", value={"value": 360.0}, feed_id=b.id).id
    ids["free"] = case.add_claim(source="Leaked video story", quote="The officer was afraid for his life",
                                 kind="free_text").id
    ids["hostile"] = case.add_claim(source="=HYPERLINK(\"http://x\")", quote=HOSTILE, kind="shooters",
                                    value={"value": 2}).id
    return ids


def _export(case_path, out, date="2026-12-01"):
    code = cli_main(["export", "report", str(case_path), "--out", str(out), "--date", date])
    assert code == 0
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def test_claims_against_the_demo(demo_copy, tmp_path, capsys):
    with Case.open(demo_copy) as case:
        ids = _claims(case)
    doc = _export(demo_copy, tmp_path / "out")
    by_id = {c["id"]: c for c in doc["claims"]}
    assert by_id[ids["11"]]["status"] == "consistent"
    twenty = by_id[ids["20"]]
    assert twenty["status"] == "inconsistent" and twenty["measured"] == [11, 11] and "20" in twenty["reason"]
    b12 = by_id[ids["12s"]]
    assert b12["status"] == "consistent" and 10.5 < b12["measured"] < 12.5 and 0 < b12["uncertainty"] < 0.5
    assert by_id[ids["6min"]]["status"] == "inconsistent" and by_id[ids["6min"]]["measured"] == b12["measured"]
    assert by_id[ids["free"]]["status"] == "not measurable" and by_id[ids["free"]]["measured"] is None
    assert by_id[ids["hostile"]]["status"] == "not measurable"  # who fired is never guessed
    out = capsys.readouterr().out
    assert "2 consistent, 2 inconsistent, 2 not measurable" in out


def test_mute_table_separates_buffer_no_audio_and_counted(demo_copy, tmp_path):
    doc = _export(demo_copy, tmp_path / "out")
    cls = {(m["feed"], m["kind"]): m["class"] for m in doc["mutes"]}
    assert cls[("Officer A body cam", "late-audio-start")] == "pre-event buffer"  # 29.98 s <= 30 s
    assert cls[("Air 1 helicopter infrared", "no-audio-track")] == "no audio"
    assert cls[("Officer B body cam", "digital-silence")] == "counted"
    assert doc["summary"]["feeds_with_mutes"] == 1
    first = doc["summary"]["first_mute_after_shooting"]
    assert list(first) == ["Officer B body cam"] and first["Officer B body cam"]["kind"] == "digital-silence"
    # a shorter buffer setting turns A's late start into a flagged one, never a counted mute
    code = cli_main(["export", "report", str(demo_copy), "--out", str(tmp_path / "o2"), "--date", "2026-12-01",
                     "--pre-event-buffer", "Axon Body 3=10"])
    assert code == 0
    doc2 = json.loads((tmp_path / "o2" / "report.json").read_text())
    a = next(m for m in doc2["mutes"] if m["kind"] == "late-audio-start")
    assert a["class"] == "late start beyond buffer" and "longer than a pre-event buffer" in a["note"]


def test_pdf_a_declared_fonts_embedded_no_encryption_no_javascript(demo_copy, tmp_path):
    _export(demo_copy, tmp_path / "out")
    r = pypdf.PdfReader(tmp_path / "out" / "report.pdf")
    root = r.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r"pdfaid:part>\s*2\s*<", xmp) and re.search(r"pdfaid:conformance>\s*B\s*<", xmp)
    intent = root["/OutputIntents"][0].get_object()
    icc = intent["/DestOutputProfile"].get_object().get_data()
    assert intent["/S"] == "/GTS_PDFA1" and icc[36:40] == b"acsp" and len(icc) >= 128  # an ICC profile
    assert not r.is_encrypted and "/Encrypt" not in r.trailer
    raw = (tmp_path / "out" / "report.pdf").read_bytes()
    assert b"/JavaScript" not in raw and b"/JS " not in raw
    n_fonts = 0
    for page in r.pages:
        for f in (page["/Resources"].get("/Font") or {}).values():
            f = f.get_object()
            desc = (f["/DescendantFonts"][0].get_object() if "/DescendantFonts" in f else f)["/FontDescriptor"]
            desc = desc.get_object()
            assert any(k in desc for k in ("/FontFile", "/FontFile2", "/FontFile3")), f["/BaseFont"]
            n_fonts += 1
    assert n_fonts >= 2 and len(r.pages) >= 3


def test_same_head_same_date_same_bytes(demo_copy, tmp_path):
    twin = tmp_path / "twin" / "demo.evcase"  # the same case (same name, same head), another folder
    shutil.copytree(demo_copy, twin)
    _export(demo_copy, tmp_path / "a")
    _export(twin, tmp_path / "b")
    assert (tmp_path / "a" / "report.pdf").read_bytes() == (tmp_path / "b" / "report.pdf").read_bytes()
    with Case.open(demo_copy) as case:
        last = case.audit_log()[-1]
        assert last["action"] == "export.report"
        cited = json.loads((tmp_path / "a" / "report.json").read_text())["header"]["signed_head"]
        assert cited["seq"] == last["seq"] - 1  # the head as it was before the export was logged


def test_hostile_text_is_verbatim_and_csv_cells_are_guarded(demo_copy, tmp_path):
    with Case.open(demo_copy) as case:
        _claims(case)
        b = next(f for f in case.feeds if f.label == "Officer B body cam")
        case.set_feed_label(b.id, "-cmd|' /C calc'!A0 <dash> & \"cam\"")
    doc = _export(demo_copy, tmp_path / "out")
    assert any(c["quote"] == HOSTILE for c in doc["claims"])
    text = "".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "out" / "report.pdf").pages)
    flat = " ".join(text.split())  # table cells wrap: compare with line breaks as spaces
    for piece in ("He said \"stop\" & <ran>", "second line", "漢字", "<dash> & \"cam\"", "-cmd|' /C calc'!A0"):
        assert piece in flat, piece
    # the RTL override cannot reorder the PDF (shown as a visible code) and is kept verbatim in CSV and JSON
    assert "<U+202E>RTL<U+202C>" in flat and "\u202e" not in text
    assert "\u202e" in (tmp_path / "out" / "claims.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO((tmp_path / "out" / "claims.csv").read_text(encoding="utf-8-sig"))))
    hostile = next(r for r in rows if r[1] == HOSTILE)
    assert hostile[0] == "'=HYPERLINK(\"http://x\")"  # a formula never reaches a spreadsheet
    mutes = list(csv.reader(io.StringIO((tmp_path / "out" / "mutes.csv").read_text(encoding="utf-8-sig"))))
    after = [r[10] for r in mutes[1:] if r[10]]
    assert any(v.startswith("-") for v in after)  # negative numbers stay numbers
    assert {r[0] for r in mutes[1:] if "calc" in r[0]} == {"'-cmd|' /C calc'!A0 <dash> & \"cam\""}


def test_a_release_sized_case_paginates_with_repeated_headers():
    from media_core.export.report.chart import timeline_svg
    from media_core.export.report.pdf import render_pdf

    feeds = [{"id": i, "label": f"Officer {i} body cam", "kind": "bodycam", "camera": {"model": "Axon Body 3"},
              "sha256": f"{i:064x}", "path": f"/media/release/cam{i}.mp4", "duration_s": 1800.0,
              "start_shared_s": 30.0 * i, "end_shared_s": 30.0 * i + 1800, "start_wall": "2026-11-21T21:13:33.000Z",
              "has_audio": True, "sync_method": "audio", "sync_confidence": 0.9, "clock_offset_s": 30.0 * i,
              "clock_drift_ppm": 0.0, "sync_uncertainty_ms": 12.0} for i in range(1, 54)]
    mutes = [{"feed": f["label"], "feed_id": f["id"], "kind": "digital-silence", "class": "counted",
              "start_shared_s": f["start_shared_s"] + 600 + k * 60, "end_shared_s": f["start_shared_s"] + 630 + k * 60,
              "start_media_s": 600.0 + k * 60, "end_media_s": 630.0 + k * 60, "start_wall": None, "end_wall": None,
              "duration_s": 30.0, "confidence": 0.99, "after_first_shot_s": 10.0, "after_last_shot_s": 5.0,
              "evidence": {"rms_dbfs": -200.0}, "method": "zeros", "spoken_reason": None, "note": "",
              "uncertainty_s": 0.04} for f in feeds for k in range(3)]
    doc = {"header": {"case": "release", "case_id": "x", "date": "2026-12-01", "analyst": "a", "tool_version": "0",
                      "analysis_versions": {"analysis": "v"}, "signed_head": None, "wall_clock": None,
                      "reference_feed": "Officer 1 body cam", "pre_event_buffers_s": {"default": 30.0}},
           "feeds": feeds, "mutes": mutes,
           "summary": {"feeds": 53, "feeds_with_mutes": 53, "muted_minutes_per_recorded_hour": 3.0,
                       "recorded_hours": 26.5, "muted_after_first_shot_s": {}, "muted_after_first_shot_total_s": 0.0,
                       "first_mute_after_shooting": {}},
           "shots": {"incident": {"text": "none", "current": True}, "per_feed": {}, "shots": [], "volleys": []},
           "claims": [], "annotations": [], "method_and_limits": []}
    pdf, warnings = render_pdf(doc, timeline_svg(doc))
    r = pypdf.PdfReader(io.BytesIO(pdf))
    pages = [" ".join(p.extract_text().split()) for p in r.pages]
    with_mute_header = [t for t in pages if "After last shot" in t]
    assert len(r.pages) >= 5 and len(with_mute_header) >= 2  # the mute table's header repeats on each page
    assert all(f"Officer {i} body cam" in "".join(pages) for i in (1, 27, 53)) and warnings == []


def test_report_folder_verifies_and_names_a_changed_file(demo_copy, tmp_path, capsys):
    out = tmp_path / "out"
    _export(demo_copy, out)
    capsys.readouterr()
    assert cli_main(["verify", str(out)]) == 0
    (out / "claims.csv").write_text("source,quote\nforged,claim\n", encoding="utf-8")
    assert cli_main(["verify", str(out)]) == 1
    assert "claims.csv" in capsys.readouterr().err
