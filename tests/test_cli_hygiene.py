"""Terminal output never carries raw control characters; JSON stays exact (issue 11, item D)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from media_core.cli.common import error_line, safe_lines, safe_text, table
from sample_media import write_media

SR = 16000


def _run(capsys, *argv):
    from media_core.cli import main

    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _no_raw_controls(text: str) -> None:
    """Nothing but printable text, spaces and the newlines between lines."""
    bad = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F
           or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 or 0xD800 <= ord(c) <= 0xDFFF]
    assert not bad, f"raw control characters {bad!r} in {text!r}"


@pytest.mark.parametrize("raw, shown", [
    ("cam\nA", "cam\\nA"),
    ("a\rb\tc", "a\\rb\\tc"),
    ("\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),          # OSC: set the window title
    ("\x9b31m", "\\x9b31m"),                             # C1 CSI
    ("x\x7fy\x00z", "x\\x7fy\\x00z"),
    ("invoice\u202egpj.mp4", "invoice\\u202egpj.mp4"),   # right-to-left override
    ("a\u2066b\u2069c", "a\\u2066b\\u2069c"),
    ("bad\udce9byte", "bad\\xe9byte"),                   # a file name byte that is not UTF-8
    ("Caméra 14 — 東京", "Caméra 14 — 東京"),             # letters are letters
])
def test_safe_text(raw, shown):
    assert safe_text(raw) == shown


def test_table_cannot_be_forged_by_a_newline():
    out = table([["evil\nforged  row  here", 1], ["b", 2]], ["file", "n"])
    lines = out.split("\n")
    assert len(lines) == 4  # header, rule, two rows
    assert lines[2].startswith("evil\\nforged")
    _no_raw_controls(out)


def test_error_line_and_summary_lines(capsys):
    error_line(ValueError("x.mp4\n\x1b[2Jwiped"))
    err = capsys.readouterr().err
    assert err == "evidence-audit: x.mp4\\n\\x1b[2Jwiped\n"
    assert safe_lines("one\ntwo\x1b") == "one\ntwo\\x1b"


@pytest.fixture
def evil_feed(tmp_path):
    t = np.arange(2 * SR) / SR
    y = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    name = "cam\n\x1b]0;pwned\x07\u202eA.mp4"
    p = write_media(tmp_path / "plain.mp4", audio=y, sr=SR, fps=10.0, size=(64, 48), duration_s=2.0)
    evil = tmp_path / name
    os.rename(p, evil)
    return evil


@pytest.mark.parametrize("command", [["info"], ["analyze", "--mutes-only"]])
def test_file_names_with_control_characters(evil_feed, capsys, command):
    code, out, err = _run(capsys, *command, evil_feed)
    assert code == 0, err
    _no_raw_controls(out)
    _no_raw_controls(err)
    assert "cam\\n\\x1b]0;pwned\\x07\\u202eA.mp4" in out


def test_missing_file_with_control_characters_is_one_escaped_line(tmp_path, capsys):
    code, out, err = _run(capsys, "info", tmp_path / "no\nsuch\x1b[31m.mp4")
    assert code == 2 and err.count("\n") == 1
    _no_raw_controls(err)


@pytest.mark.parametrize("command", [["info", "--json"], ["analyze", "--mutes-only", "--json"]])
def test_json_stays_exact(evil_feed, capsys, command):
    code, out, err = _run(capsys, *command, evil_feed)
    assert code == 0
    doc = json.loads(out)
    paths = [f["path"] for f in doc["files" if command[0] == "info" else "feeds"]]
    assert paths == [str(evil_feed)]


def test_json_with_a_non_utf8_file_name(evil_feed, capsys):
    raw = os.fsencode(evil_feed.parent) + b"/caf\xe9.mp4"
    os.rename(evil_feed, raw)
    name = os.fsdecode(raw)  # 'caf\udce9.mp4', as sys.argv holds it
    code, out, err = _run(capsys, "info", "--json", name)
    assert code == 0, err
    assert json.loads(out)["files"][0]["path"] == name
    code, out, err = _run(capsys, "info", name)
    assert code == 0 and "caf\\xe9.mp4" in out


@pytest.mark.parametrize("label", ["", "   ", "\t\n"])
def test_whitespace_only_labels_are_refused(tmp_path, capsys, label):
    code, out, err = _run(capsys, "case", "add", tmp_path / "c.evcase", tmp_path / "f.mp4", "--label", label)
    assert code == 2 and err.count("\n") == 1 and "--label" in err
    assert not (tmp_path / "c.evcase").exists()


def test_usage_errors_are_one_line(capsys):
    code, out, err = _run(capsys, "analyze")
    assert code == 2 and err.count("\n") == 1 and err.startswith("evidence-audit: analyze: ")
