"""manifest.json of every export: hashes, versions, clocks, the signed log head, the signature;
verify_export and `evidence-audit verify DIR` naming every difference; the audit-log row.
"""
from __future__ import annotations

import json
import shutil

import pytest
from test_export_video import make_case


@pytest.fixture
def exported(tmp_path):
    from media_core.export.review_video import ReviewOptions, export_review

    case, ids = make_case(tmp_path)
    res = export_review(case, tmp_path / "out", ReviewOptions(size=(320, 180), end_s=1.0))
    yield case, ids, tmp_path, res
    case.close()


def test_manifest_content_and_audit_log(exported):
    from media_core import __version__

    case, ids, tmp, res = exported
    man = json.loads((tmp / "out" / "manifest.json").read_text())
    assert man["schema"] == "evidence-audit.export-manifest/1" and man["kind"] == "review"
    assert man["tool"]["version"] == __version__ and man["tool"]["ffmpeg"].startswith("ffmpeg version")
    assert man["analysis"]["version"] and man["sync"]["algorithm_version"]
    assert {o["role"] for o in man["outputs"]} == {"video", "log"}
    assert all(len(o["sha256"]) == 64 for o in man["outputs"])
    src = {s["feed_id"]: s for s in man["sources"]}
    assert src[ids[1]]["sha256"] == case.feed(ids[1]).sha256
    assert src[ids[1]]["clock"]["drift_ppm"] == 5000.0 and src[ids[0]]["clock"]["is_reference"]
    head = man["case"]["signed_head"]
    assert head["case_id"] == case.case_id and head["signature"]
    assert man["signature"]["fingerprint"] == case.signer.fingerprint
    row = case.audit_log()[-1]
    assert row["action"] == "export.review" and row["details"]["manifest_sha256"] == res.manifest_sha256
    assert row["seq"] > head["seq"]  # the export's row comes after the head the manifest embeds


def test_verify_ok_and_every_tampering_named(exported, tmp_path):
    from media_core.export.manifest import verify_export

    case, ids, tmp, res = exported
    out = tmp / "out"
    rep = verify_export(out, tmp / "media")
    assert rep.ok, rep.problems
    assert rep.checked_outputs == 2 and rep.checked_sources == 3
    # an output changed
    bad = tmp / "bad1"
    shutil.copytree(out, bad)
    video = next(p for p in bad.iterdir() if p.suffix == ".mp4")
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF
    video.write_bytes(bytes(data))
    rep = verify_export(bad)
    assert not rep.ok and any(video.name in p and "SHA-256 differs" in p for p in rep.problems)
    # an output missing, an extra file
    bad2 = tmp / "bad2"
    shutil.copytree(out, bad2)
    next(p for p in bad2.iterdir() if p.suffix == ".log").unlink()
    (bad2 / "extra.txt").write_text("x")
    rep = verify_export(bad2)
    assert any("MISSING" in p for p in rep.problems) and any("extra.txt" in n for n in rep.notes)
    # the manifest edited (an offset moved): the signature no longer holds
    bad3 = tmp / "bad3"
    shutil.copytree(out, bad3)
    man = json.loads((bad3 / "manifest.json").read_text())
    man["sources"][1]["clock"]["offset_s"] = 9.0
    (bad3 / "manifest.json").write_text(json.dumps(man))
    rep = verify_export(bad3)
    assert not rep.ok and any("signature INVALID" in p for p in rep.problems)
    # an original changed
    orig = tmp / "orig"
    shutil.copytree(tmp / "media", orig)
    with open(orig / "b.mp4", "ab") as fh:
        fh.write(b"x")
    rep = verify_export(out, orig, trusted=["SHA256:0000"])
    assert any("b.mp4" in p and "differs" in p for p in rep.problems)
    assert any("not by a trusted key" in p for p in rep.problems)


def test_cli_verify_recognises_export_folder(exported, capsys):
    from media_core.cli import main

    case, ids, tmp, res = exported
    assert main(["verify", str(tmp / "out"), "--originals", str(tmp / "media")]) == 0
    out = capsys.readouterr().out
    assert "OK: export (review)" in out and "3 original(s) match" in out
    assert main(["verify", str(tmp / "out"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    (tmp / "out" / "manifest.json").write_text((tmp / "out" / "manifest.json").read_text().replace('"review"', '"x"', 1))
    assert main(["verify", str(tmp / "out")]) == 1
    assert "signature INVALID" in capsys.readouterr().err
    assert main(["verify", str(tmp / "t.evcase"), "--originals", str(tmp)]) == 2  # --originals is for exports
