"""One decode per feed, in the app too: a case analysed by the CLI opens without decoding audio,
and a feed lacking its analysis is decoded exactly once (which yields its waveform as well)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from media_core import pipeline  # noqa: E402
from sample_media.encode import write_media  # noqa: E402
from sample_media.gunshot import render_incident_audio  # noqa: E402

pytestmark = pytest.mark.gui
SR = 48000
MUTE = (3.8, 4.6)  # digital silence in feed A, media seconds


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("one_decode")
    y, _truth = render_incident_audio(6.0, SR, [1.5, 3.0], np.random.default_rng(5), distance_m=8.0)
    y = y.astype(np.float32)
    a = y[: 5 * SR].copy()
    a[int(MUTE[0] * SR): int(MUTE[1] * SR)] = 0.0
    fa = write_media(d / "cam_a.mp4", audio=a, fps=10.0, size=(96, 64), duration_s=5.0)
    fb = write_media(d / "cam_b.mp4", audio=y[SR // 2: SR // 2 + 5 * SR], fps=10.0, size=(96, 64), duration_s=5.0)
    fc = write_media(d / "cam_c.mp4", audio=y[SR: 5 * SR], fps=10.0, size=(96, 64), duration_s=4.0)
    return fa, fb, fc


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    """A window whose analysis runs in this process, so the patched decoders see every decode."""
    monkeypatch.setenv("EVIDENCE_AUDIT_SETTINGS", str(tmp_path / "settings.ini"))
    from audit_gui.main_window import MainWindow

    w = MainWindow(audio=False, analysis_in_process=False)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def _rgb(img, x, y):
    c = img.pixelColor(int(x), int(y))
    return c.red(), c.green(), c.blue()


def test_case_analysed_by_the_cli_opens_without_decoding(qtbot, window, media, tmp_path, monkeypatch):
    import media_core.analysis.feed
    import media_core.io.decode
    from media_core.cli import main as cli

    case_path = tmp_path / "cli.evcase"
    assert cli(["case", "new", str(case_path)]) == 0
    assert cli(["analyze", str(media[0]), str(media[1]), "--case", str(case_path)]) == 0

    decoded = []

    def refuse(*args, **kwargs):
        decoded.append(args[:1])
        raise AssertionError(f"audio decoded on opening: {args[:1]}")

    monkeypatch.setattr(media_core.io.decode, "run_listeners", refuse)
    monkeypatch.setattr(media_core.analysis.feed, "analyze_feed", refuse)
    win = window
    assert win.open_case(case_path) is not None
    qtbot.waitUntil(lambda: not win.jobs_running(), timeout=30000)
    assert decoded == []
    case, state = win.case, win.state
    a_id, b_id = (f.id for f in case.feeds)
    for fid in (a_id, b_id):
        info = state.feed(fid)
        assert info.prepared and info.index is not None  # the one thing built: a packet scan
        assert pipeline.stored_video_index(case, fid) is not None
        assert info.envelope is not None                 # the waveform comes from the case
        stored = pipeline.stored_analysis(case, fid)
        tl_mutes = state.timeline.mutes_of(fid)
        tl_shots = state.timeline.shots_of(fid)
        assert [(m.media_start_s, m.media_end_s) for m in tl_mutes] == [
            (m["start_s"], m["end_s"]) for m in stored["mutes"]]
        assert [s.media_time_s for s in tl_shots] == [s["time_s"] for s in stored["shots"]]
    mutes_a = state.timeline.mutes_of(a_id)
    assert any(m.kind == "digital-silence" and abs(m.media_start_s - MUTE[0]) < 0.05 for m in mutes_a)
    shots_a = [s.media_time_s for s in state.timeline.shots_of(a_id, confident_only=True)]
    assert any(abs(t - 1.5) < 0.05 for t in shots_a) and any(abs(t - 3.0) < 0.05 for t in shots_a)

    # the tile says so at a moment inside the mute
    with qtbot.waitSignal(win.frames_settled, timeout=10000, check_params_cb=lambda g, ms: g == win._gen):
        win.seek(4.2, force=True)
    assert win.grid.tiles[a_id].muted_kind == "digital-silence"
    assert win.grid.tiles[b_id].muted_kind is None

    # the timeline draws them: the mute's colour, a shot marker and the waveform in feed A's lane
    tl = win.timeline
    tl.resize(1200, tl.height())
    tl.set_view(0.0, 5.0)
    img = tl.grab().toImage()
    lane = tl.lane_rect(0)
    dpr = img.devicePixelRatio()
    r, g, b = _rgb(img, tl.x_of(sum(MUTE) / 2) * dpr, (lane.top() + 4) * dpr)
    assert r > 100 and r > g + 40 and r > b + 40, (r, g, b)        # digital silence: red
    shot_x = tl.x_of(win.case.clock(a_id).to_shared(shots_a[0]))
    assert _rgb(img, shot_x * dpr, (lane.top() + 2) * dpr) == (255, 70, 70)
    sound_x = tl.x_of(1.0)
    column = [_rgb(img, sound_x * dpr, (lane.top() + k) * dpr) for k in range(int(lane.height()))]
    assert (110, 200, 170) in column                                # the waveform envelope


def test_a_feed_lacking_its_analysis_is_decoded_once(qtbot, window, media, tmp_path, monkeypatch):
    import media_core.analysis.feed
    import media_core.io.decode

    real = media_core.io.decode.run_listeners
    decodes = []

    def counting(path, *args, **kwargs):
        decodes.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(media_core.io.decode, "run_listeners", counting)
    monkeypatch.setattr(media_core.analysis.feed, "run_listeners", counting)  # imported by name there
    win = window
    win.new_case(tmp_path / "fresh.evcase")
    (feed,) = win.add_feeds([media[2]])
    qtbot.waitUntil(lambda: not win.jobs_running(), timeout=60000)
    assert decodes == [str(feed.path)]  # one decode: mutes, shots, sync features and the waveform
    info = win.state.feed(feed.id)
    assert info.prepared and info.envelope is not None
    assert pipeline.stored_analysis(win.case, feed.id) is not None
    assert pipeline.load_sync_features(win.case, win.case.feed(feed.id)) is not None
    # reopening decodes nothing more
    win.close_case()
    win.open_case(tmp_path / "fresh.evcase")
    qtbot.waitUntil(lambda: not win.jobs_running(), timeout=30000)
    assert decodes == [str(feed.path)]
