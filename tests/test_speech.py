"""Speech leads around mutes (media_core.analysis.speech), the mute CLI and the report's spoken reason.

Feeds are generated at test time: real synthetic speech from flite (the held-out synthesizer),
street noise, the body-cam chain and AAC (sample_media.speech). Tests that need a synthesizer
skip cleanly where it is not installed.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from media_core.analysis import speech as sp
from media_core.errors import Cancelled, ModelError, ParameterError

flite = pytest.mark.skipif(not __import__("shutil").which("flite"), reason="flite is not installed")


# ------------------------------------------------------------------------------ keywords
def test_keyword_file_phrases_thresholds_and_comments():
    kws = sp.parse_keywords("# reasons\nMute\nturning  off /1e-20/\n\nsergeant said # policy\n")
    assert [k.phrase for k in kws] == ["mute", "turning off", "sergeant said"]
    assert kws[0].threshold_log10 is None and kws[1].threshold_log10 == pytest.approx(-20.0)


@pytest.mark.parametrize("text, msg", [
    ("", "keywords: no keywords"),
    ("# only a comment\n", "keywords: no keywords"),
    ("mute /abc/\n", "keywords, line 1: threshold 'abc' is not a number"),
    ("mute /-1/\n", "keywords, line 1: threshold must be a positive number like 1e-25"),
    ("mute!\n", "keywords, line 1: 'mute!': use letters, spaces and apostrophes only"),
])
def test_bad_keyword_files(text, msg):
    with pytest.raises(ParameterError) as ei:
        sp.parse_keywords(text)
    assert str(ei.value) == msg


def test_a_word_missing_from_the_dictionary_is_named():
    with pytest.raises(ParameterError, match="the word 'xqzzyv' is not in PocketSphinx's English dictionary"):
        sp.KeywordSpotter([sp.Keyword("xqzzyv")])


def test_thresholds_own_then_fitted_table_then_the_length_rule(monkeypatch):
    monkeypatch.setattr(sp, "DEFAULT_THRESHOLDS", {"mute": 4.5, "mic": None})
    assert sp.default_threshold(sp.Keyword("mute"), 3) == 4.5
    assert sp.default_threshold(sp.Keyword("mute", -20.0), 3) == -20.0           # a keyword file's own wins
    assert sp.default_threshold(sp.Keyword("mic"), 3) == float("inf")             # never a lead by default
    assert sp.default_threshold(sp.Keyword("mic", -5.0), 3) == -5.0
    assert sp.default_threshold(sp.Keyword("privacy"), 6) == sp.THRESHOLD_BASE + 6 * sp.THRESHOLD_PER_PHONE
    assert sp.default_threshold(sp.Keyword("mute"), 3, threshold_base=1.0, threshold_per_phone=-2.0) == -5.0
    s = sp.KeywordSpotter([sp.Keyword("mute"), sp.Keyword("mic"), sp.Keyword("camera")])
    try:
        assert s.thresholds == {"mute": 4.5, "mic": float("inf"),
                                "camera": sp.THRESHOLD_BASE + s.phones["camera"] * sp.THRESHOLD_PER_PHONE}
    finally:
        s.close()
    assert sp.leads_params()["default_thresholds"] == {"mic": None, "mute": 4.5}   # stored with the leads
    hits = [sp.Hit("mic", 1.0, 1.2, 30.0, float("inf"), 3), sp.Hit("mute", 2.0, 2.3, 5.0, 4.5, 3),
            sp.Hit("mute", 3.0, 3.3, 4.0, 4.5, 3)]
    assert [(h.keyword, h.start_s) for h in sp.select_hits(hits)] == [("mute", 2.0)]


def test_the_shipped_table_covers_the_default_keywords():
    assert set(sp.DEFAULT_THRESHOLDS) == set(sp.DEFAULT_KEYWORDS)
    assert sp.VERSION == "speech_leads/3"


def test_the_tuned_spotter_spots_every_pronunciation_and_the_baseline_only_the_dictionarys_first():
    kws = [sp.Keyword("mic"), sp.Keyword("camera"), sp.Keyword("privacy"), sp.Keyword("sergeant said")]
    with sp.KeywordSpotter(kws) as tuned, sp.KeywordSpotter(kws, tuned=False) as untuned:
        prons = {k: sorted(p for v, (kw, p) in tuned.variants.items() if kw == k) for k in tuned.phones}
        assert prons == {"mic": ["M AY K"],                                   # cmudict's M IH K replaced
                         "camera": ["K AE M ER AH", "K AE M R AH"],           # the dictionary's alternate
                         "privacy": ["P R AY V AH S IY", "P R IH V AH S IY"],  # added (British)
                         "sergeant said": ["S AA R JH AH N T S EH D"]}
        assert sorted(p for _, p in untuned.variants.values()) == sorted(
            ["M IH K", "K AE M ER AH", "P R AY V AH S IY", "S AA R JH AH N T S EH D"])
        assert tuned.settings == sp.DECODER_SETTINGS and untuned.settings == {}
        assert set(untuned.thresholds.values()) == {sp.UNTUNED_THRESHOLD_LOG10}
    assert sp.leads_params()["decoder"] == sp.DECODER_SETTINGS


# ------------------------------------------------------------------------------ windows
def test_windows_are_cut_by_other_mutes_and_the_ends_of_the_audio():
    mutes = [{"kind": "late-audio-start", "start_s": 0.0, "end_s": 5.0},
             {"kind": "digital-silence", "start_s": 20.0, "end_s": 26.0},
             {"kind": "packet-gap", "start_s": 30.0, "end_s": 31.0}]
    w = sp.mute_windows(mutes, duration_s=34.0)
    assert w[0]["before"]["searched_s"] == 0.0
    assert w[0]["before"]["note"] == "no audio before this mute: it starts at the beginning of the audio"
    assert (w[1]["before"]["start_s"], w[1]["before"]["end_s"]) == (5.0, 20.0)   # not into the late start
    assert "only 15.0 s of live audio before this mute" in w[1]["before"]["note"]
    assert (w[1]["after"]["start_s"], w[1]["after"]["end_s"]) == (26.0, 30.0)    # up to the next mute
    assert (w[2]["after"]["start_s"], w[2]["after"]["end_s"]) == (31.0, 34.0)    # the audio ends
    w = sp.mute_windows([{"kind": "digital-silence", "start_s": 40.0, "end_s": 45.0}], duration_s=100.0,
                        before_s=12.0, after_s=3.0)
    assert (w[0]["before"]["start_s"], w[0]["after"]["end_s"]) == (28.0, 48.0)
    assert w[0]["before"]["note"] == w[0]["after"]["note"] == ""
    with pytest.raises(ParameterError):
        sp.mute_windows([], duration_s=1.0, before_s=-1.0)


def _inputs(path, mutes, duration_s, **kw):
    return {"feed_id": 1, "label": "test", "path": str(path), "sha256": "", "analysed": True, "has_audio": True,
            "duration_s": duration_s, "source_sr": 48000, "clock": {"offset_s": 0.0, "drift_ppm": 0.0},
            "mutes": [{"kind": "digital-silence", "start_s": a, "end_s": b} for a, b in mutes], **kw}


def test_no_mutes_nothing_to_do_and_not_analysed(tmp_path):
    doc = sp.compute_speech_leads(_inputs(tmp_path / "none.m4a", [], 10.0))
    assert doc["note"] == "no mutes: nothing to do" and doc["mutes"] == [] and doc["lead_count"] == 0
    doc = sp.compute_speech_leads(_inputs(tmp_path / "none.m4a", [], 10.0, analysed=False))
    assert doc["note"].startswith("the feed has not been analysed")


def test_non_speech_audio_gives_no_leads(tmp_path):
    from sample_media.audio import tone
    from sample_media.distractors import render_distractor
    from sample_media.encode import write_media
    from sample_media.speech import bodycam_chain, street_noise

    sr, rng = 48000, np.random.default_rng(3)
    y = street_noise(int(24 * sr), sr, rng, level_dbfs=-35.0)
    y[int(2 * sr):int(4 * sr)] += tone(440.0, 2.0, sr, level_dbfs=-20.0)
    for t, kind in ((6.0, "door_slam"), (9.0, "footsteps"), (12.0, "knock")):
        d = render_distractor(kind, sr=sr, rng=rng)
        y[int(t * sr):int(t * sr) + d.size] += d[: y.size - int(t * sr)]
    y = bodycam_chain(y, sr)
    y[int(16 * sr):int(19 * sr)] = 0.0
    p = tmp_path / "street.m4a"
    write_media(p, audio=y, sr=sr, audio_codec="aac", audio_bitrate=64000, video=False)
    doc = sp.compute_speech_leads(_inputs(p, [(16.0, 19.0)], 24.0))
    assert doc["lead_count"] == 0 and doc["note"] == "no keyword heard in the searched windows", doc["mutes"][0]["leads"]
    assert doc["searched_s"] == pytest.approx(16.0 + 5.0, abs=0.05)   # only the windows were decoded


def test_the_model_missing_from_the_wheel_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "en-us" / "en-us").mkdir(parents=True)
    monkeypatch.setenv("EVIDENCE_AUDIT_SPHINX_MODEL", str(tmp_path))
    with pytest.raises(ModelError) as ei:
        sp.model_paths()
    assert str(ei.value).startswith(str(tmp_path / "en-us" / "en-us" / "mdef") + ": ")
    assert "\n" not in str(ei.value)
    from media_core.case.store import Case
    from media_core.cli import main

    case = Case.create(tmp_path / "c.evcase")
    case.close()
    assert main(["mute", "leads", str(tmp_path / "c.evcase")]) == 0  # no feeds: nothing to search, no model needed
    capsys.readouterr()


def test_read_audio_decodes_only_the_span(tmp_path):
    from sample_media.audio import tone
    from sample_media.encode import write_media

    sr = 48000
    y = np.concatenate([tone(300.0, 3.0, sr, level_dbfs=-12.0), tone(1000.0, 3.0, sr, level_dbfs=-12.0)])
    p = tmp_path / "t.m4a"
    write_media(p, audio=y, sr=sr, audio_codec="aac", audio_bitrate=96000, video=False)
    seg = sp.read_audio(p, 3.5, 4.5)
    assert seg.size == 16000
    spec = np.abs(np.fft.rfft(seg))
    assert abs(np.argmax(spec) * 16000 / seg.size - 1000.0) < 5.0


# ------------------------------------------------------------------------------ a case end to end
@pytest.fixture(scope="module")
def spoken_case(tmp_path_factory):
    """A feed with flite speech before two mutes, analysed in a case, leads computed once."""
    if not __import__("shutil").which("flite"):
        pytest.skip("flite is not installed")
    from media_core import pipeline
    from media_core.case.store import Case
    from media_core.clock import Clock
    from sample_media import speech as gen

    d = tmp_path_factory.mktemp("speech")
    v = gen.Voice("flite", "slt", 1.0)
    phrases = [gen.Phrase(3.0, "I am turning off my camera.", v, ("turning off", "camera")),
               gen.Phrase(19.0, "This is for privacy.", v, ("privacy",))]
    truth = gen.render_feed(d / "a.mp4", phrases, duration_s=32.0, mutes=[(7.0, 12.0), (23.0, 27.0)], snr_db=20.0,
                            video=True)
    case = Case.create(d / "c.evcase")
    f = case.add_feed(d / "a.mp4")
    pipeline.analyze_feeds(case)
    case.set_clock(f.id, Clock(5.0, 100.0), method="audio", confidence=0.9)
    docs = sp.speech_leads(case)
    yield case, f, truth, docs[f.id]
    case.close()


@flite
def test_leads_before_the_mute_with_feed_and_shared_times(spoken_case):
    case, f, truth, doc = spoken_case
    assert doc["schema"] == sp.SCHEMA and doc["algorithm_version"] == sp.VERSION
    m1 = doc["mutes"][0]
    assert m1["kind"] == "digital-silence" and abs(m1["start_s"] - 7.0) < 0.05
    kws = {ld["keyword"] for ld in m1["leads"] if ld["side"] == "before"}
    assert kws & {"turning off", "turn off", "camera"}
    for ld in m1["leads"]:  # before: the first phrase; after (12-22 s): the second one, "privacy" at 19 s
        ph = truth["phrases"][0 if ld["side"] == "before" else 1]
        assert ph["start_s"] - 0.3 <= ld["start_s"] <= ph["end_s"] + 0.3
        assert ld["shared_start_s"] == pytest.approx(5.0 + ld["start_s"] * (1 + 100e-6), abs=2e-3)
        assert ld["score"] >= ld["threshold"]
        assert ld["context"]["start_s"] <= ld["start_s"] and ld["context"]["text"]
    assert case.get_analysis(f.id, algorithm=sp.ALGORITHM, version=sp.VERSION) is not None
    row = [r for r in case.audit_log() if r["action"] == "analysis.store"][-1]
    assert row["details"]["algorithm"] == sp.ALGORITHM and row["details"]["version"] == sp.VERSION


@flite
def test_mute_list_and_finding_cli_and_the_report(spoken_case, capsys):
    from media_core.cli import main
    from media_core.export.report.model import build_report
    from media_core.export.report.pdf import display_data

    case, f, truth, doc = spoken_case
    path = str(case.path)
    rep = build_report(case, date="2026-12-01")
    counted = [m for m in rep["mutes"] if m["class"] == "counted"]
    assert [m["spoken_reason"] for m in counted] == ["not reviewed", "not reviewed"]  # leads are not findings
    assert rep["summary"]["mutes_with_stated_reason"] == {"stated": 0, "reviewed": 0, "counted": 2}
    assert main(["mute", "list", path, "--json"]) == 0
    ov = json.loads(capsys.readouterr().out)["mutes"]
    assert [m["finding"]["finding"] for m in ov] == ["not-reviewed", "not-reviewed"] and ov[0]["leads"]
    assert main(["mute", "finding", path, "1", "--set", "reason-stated"]) == 2
    assert "a stated reason needs its text as heard" in capsys.readouterr().err
    assert main(["mute", "finding", path, "1", "--set", "reason-stated", "--text", "turning off my camera"]) == 0
    assert main(["mute", "finding", path, ov[1]["ref"], "--set", "no-reason"]) == 0
    assert main(["mute", "finding", path, "9", "--set", "no-reason"]) == 2
    assert "no mute number 9" in capsys.readouterr().err
    assert main(["mute", "list", path]) == 0
    out = capsys.readouterr().out
    assert "reason-stated" in out and "turning off my camera" in out and "no-reason" in out and "lead:" in out
    rep = build_report(case, date="2026-12-01")
    counted = [m for m in rep["mutes"] if m["class"] == "counted"]
    assert [m["spoken_reason"] for m in counted] == ['reason stated: "turning off my camera"', "no reason"]
    assert rep["summary"]["mutes_with_stated_reason"] == {"stated": 1, "reviewed": 2, "counted": 2}
    dd = display_data(rep)
    assert ["Mutes with a spoken reason", "1 of 2 counted mutes (2 reviewed by the analyst; speech leads are "
            "not counted)"] in dd["summary"]
    assert any('reason stated: "turning off my camera"' in row for row in dd["tables"]["mutes"]["rows"])
    log = [r for r in case.audit_log() if r["action"] == "finding.set"]
    assert log[-2]["details"]["text"] == "turning off my camera" and log[-2]["details"]["author"]


@flite
def test_cli_leads_and_a_missing_model_on_a_real_case(spoken_case, tmp_path, monkeypatch, capsys):
    from media_core.cli import main

    case, f, truth, doc = spoken_case
    kw = tmp_path / "kw.txt"
    kw.write_text("privacy\n")
    assert main(["mute", "leads", str(case.path), "--keywords", str(kw), "--before", "8", "--after", "2",
                 "--no-context"]) == 0
    out = capsys.readouterr().out
    assert '"privacy"' in out and "they are not findings" in out and '"camera"' not in out
    assert sp.stored_speech_leads(case, f.id)["params"]["keywords"] == [{"phrase": "privacy", "threshold_log10": None}]
    (tmp_path / "m" / "en-us" / "en-us").mkdir(parents=True)
    monkeypatch.setenv("EVIDENCE_AUDIT_SPHINX_MODEL", str(tmp_path / "m"))
    assert main(["mute", "leads", str(case.path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "mdef" in err and "PocketSphinx's English model file is missing" in err


def test_cancel_stops_before_any_decode(tmp_path):
    with pytest.raises(Cancelled):
        sp.compute_speech_leads(_inputs(tmp_path / "x.m4a", [(5.0, 6.0)], 10.0), should_stop=lambda: True)
