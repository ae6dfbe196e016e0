"""Review app (audit_gui), offscreen with pytest-qt: the analyst's whole loop on generated feeds."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402

from audit_gui.workers import ProcessWorker, ThreadWorker  # noqa: E402
from media_core import pipeline  # noqa: E402
from media_core.case.store import Case  # noqa: E402
from media_core.progress import check_cancel  # noqa: E402
from sample_media.encode import read_frame_index, write_media  # noqa: E402

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[1]
SR = 48000


def _scene_audio(duration_s: float, rng: np.random.Generator) -> np.ndarray:
    """Noise with a few loud clicks: something to sync on and to see in the waveform."""
    y = (0.02 * rng.standard_normal(int(duration_s * SR))).astype(np.float32)
    for t in (0.8, 1.7, 2.9, 3.6):
        i = int(t * SR)
        n = int(0.03 * SR)
        y[i:i + n] += (0.8 * np.exp(-np.arange(n) / (0.004 * SR)) * rng.standard_normal(n)).astype(np.float32)
    return np.clip(y, -1, 1)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    """Three small feeds of one scene; B starts 0.5 s into the scene, C is video-only and shorter."""
    d = tmp_path_factory.mktemp("feeds")
    rng = np.random.default_rng(7)
    scene = _scene_audio(4.5, rng)
    a = write_media(d / "cam_a.mp4", audio=scene[: 4 * SR], fps=30.0, size=(320, 240), duration_s=4.0)
    b = write_media(d / "cam_b.mp4", audio=scene[SR // 2: SR // 2 + 4 * SR], fps=25.0, size=(320, 240),
                    duration_s=4.0)
    c = write_media(d / "cam_c.mp4", audio=None, fps=30.0, size=(240, 180), duration_s=2.0)
    return [a, b, c]

def tile_index(tile, size=(320, 240)) -> int:
    """Frame number drawn into the generated video, read back from the tile's image.

    The tile holds the frame scaled to fit; scale it back to the coded size so the 16 bars line
    up with the pixel grid :func:`read_frame_index` expects.
    """
    img = tile.image.scaled(size[0], size[1], Qt.AspectRatioMode.IgnoreAspectRatio,
                            Qt.TransformationMode.FastTransformation)
    img = img.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = img.width(), img.height(), img.bytesPerLine()
    arr = np.frombuffer(img.constBits(), np.uint8, count=bpl * h).reshape(h, bpl)[:, : 3 * w].reshape(h, w, 3)
    return read_frame_index(arr)


def wait_prepared(qtbot, win, timeout=30000):
    qtbot.waitUntil(lambda: not win.jobs_running() and all(f.prepared for f in win.state.feeds), timeout=timeout)


def seek_and_wait(qtbot, win, t):
    """Seek and wait until every tile shows its frame (a later re-seek, e.g. after a resize, counts)."""
    with qtbot.waitSignal(win.frames_settled, timeout=10000,
                          check_params_cb=lambda gen, ms: gen == win._gen) as blocker:
        gen = win.seek(t, force=True)
    assert blocker.args[0] >= gen
    return blocker.args[1]


def test_review_loop_save_and_reopen(qtbot, win, feeds, tmp_path):
    case_path = tmp_path / "incident.evcase"
    win.new_case(case_path)
    assert win.case is not None and win.case.path == case_path
    assert str(case_path) in win.recent_cases()
    added = win.add_feeds(feeds)
    assert len(added) == 3
    wait_prepared(qtbot, win)
    ids = [f.id for f in win.state.feeds]
    assert set(win.grid.tiles) == set(ids)
    a_id, b_id, c_id = ids
    assert win.state.feed(c_id).envelope is None and win.state.feed(a_id).envelope is not None

    # label and kind through the feeds panel
    win.case.set_feed_label(a_id, "Officer A")
    win.case.set_feed_kind(a_id, "bodycam")
    assert win.grid.tiles[a_id].label == "Officer A" and win.grid.tiles[a_id].kind == "bodycam"

    # analysis in the background; results land in the case
    with qtbot.waitSignal(win.analysis_done, timeout=90000) as done:
        assert win.start_analysis() is not None
    assert done.args[0] is not None, win.statusBar().currentMessage()
    assert not done.args[0]["errors"], done.args[0]["errors"]
    for fid in ids:
        assert win.case.get_analysis(fid, algorithm="analysis") is not None
    # B starts 0.5 s into the scene, so on A's clock its media time 0 is at +0.5 s
    rel = win.case.clock(b_id).to_shared(0.0) - win.case.clock(a_id).to_shared(0.0)
    assert rel == pytest.approx(0.5, abs=0.02)

    # seek: every tile with footage shows the exact frame covering the shared time
    win.select_feed(a_id)
    ms = seek_and_wait(qtbot, win, 1.0)
    assert ms < 5000
    ix_a = win.state.feed(a_id).index
    want = ix_a.index_at(win.state.feed(a_id).clock.to_media(1.0))
    assert tile_index(win.grid.tiles[a_id]) == want == win.grid.tiles[a_id].frame_index
    # C is 2 s long and has no sync: at shared 3.5 s it shows "no footage"
    seek_and_wait(qtbot, win, 3.5)
    assert win.grid.tiles[c_id].no_footage and win.grid.tiles[c_id].image is None

    # step one frame right/left with the keyboard, one second with Shift
    seek_and_wait(qtbot, win, 1.0)
    with qtbot.waitSignal(win.frames_settled, timeout=10000, check_params_cb=lambda g, ms: g == win._gen):
        qtbot.keyClick(win, Qt.Key.Key_Right)
    assert win.grid.tiles[a_id].frame_index == want + 1 == tile_index(win.grid.tiles[a_id])
    with qtbot.waitSignal(win.frames_settled, timeout=10000, check_params_cb=lambda g, ms: g == win._gen):
        qtbot.keyClick(win, Qt.Key.Key_Left)
    t_a = win.grid.tiles[a_id]
    assert t_a.frame_index == want, (t_a.frame_index, want)
    assert tile_index(t_a) == want, (t_a.image.width(), t_a.image.height())
    pos = win.position
    with qtbot.waitSignal(win.frames_settled, timeout=10000, check_params_cb=lambda g, ms: g == win._gen):
        qtbot.keyClick(win, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert win.position == pytest.approx(pos + 1.0)

    # play a few frames with Space
    seek_and_wait(qtbot, win, 0.5)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert win.clock.playing
    qtbot.wait(400)
    qtbot.keyClick(win, Qt.Key.Key_Space)
    assert not win.clock.playing
    assert win.position > 0.7
    stats = win.play_stats()
    assert stats[a_id][1] >= 5  # frames shown while playing
    qtbot.waitUntil(lambda: not win._pending, timeout=5000)

    # annotations: marker (M), range (I/O), edit, delete, undo/redo with the keyboard
    seek_and_wait(qtbot, win, 1.2)
    qtbot.keyClick(win, Qt.Key.Key_M)
    assert len(win.case.annotations) == 1 and win.case.annotations[0].end_s is None
    qtbot.keyClick(win, Qt.Key.Key_I)
    seek_and_wait(qtbot, win, 2.2)
    qtbot.keyClick(win, Qt.Key.Key_O)
    rng_ann = win.add_range(text="officer gives commands", category="command")
    assert (rng_ann.start_s, rng_ann.end_s) == pytest.approx((1.2, 2.2))
    assert win.annotations.table.rowCount() == 2
    win.case.update_annotation(rng_ann.id, text="commands: show hands")
    win.annotations.search.setText("hands")
    assert win.annotations.table.rowCount() == 1
    win.annotations.search.setText("")
    win.annotations.filter.setCurrentIndex(win.annotations.filter.findData("command"))
    assert win.annotations.table.rowCount() == 1
    win.annotations.filter.setCurrentIndex(0)
    win.annotations.select(rng_ann.id)
    win.annotations.delete_selected()
    assert len(win.case.annotations) == 1
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo delete
    assert win.case.annotation(rng_ann.id).text == "commands: show hands"
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo edit
    assert win.case.annotation(rng_ann.id).text == "officer gives commands"
    qtbot.keyClick(win, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert win.case.annotation(rng_ann.id).text == "commands: show hands"

    # a marker on feed B is kept in B's media time and drawn where B's clock puts it
    win.select_feed(b_id)
    seek_and_wait(qtbot, win, 2.5)
    qtbot.keyClick(win, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    fm = [a for a in win.case.annotations if a.feed_id == b_id][0]
    assert fm.start_s == pytest.approx(win.case.clock(b_id).to_media(2.5))
    assert win.state.annotation_shared_span(fm)[0] == pytest.approx(2.5)
    s_, e_ = win.annotations.convert_times(fm.start_s, None, b_id, None)
    assert s_ == pytest.approx(2.5) and e_ is None
    win.case.delete_annotation(fm.id)
    win.select_feed(a_id)

    # jump to next/previous annotation
    seek_and_wait(qtbot, win, 0.0)
    qtbot.keyClick(win, Qt.Key.Key_Down)
    assert win.position == pytest.approx(1.2)

    # nudge B by +1 frame with the sync panel: the B tile's media time follows live
    seek_and_wait(qtbot, win, 2.0)
    before = win.grid.tiles[b_id].media_s
    off0 = win.case.clock(b_id).offset_s
    from PySide6.QtWidgets import QPushButton

    win.select_feed(b_id)
    btn = win.sync_panel.findChild(QPushButton, "nudge_+1f")
    qtbot.mouseClick(btn, Qt.MouseButton.LeftButton)
    fps_b = win.state.feed(b_id).fps
    assert win.case.clock(b_id).offset_s == pytest.approx(off0 + 1 / fps_b)
    assert win.grid.tiles[b_id].media_s == pytest.approx(before - 1 / fps_b, abs=1e-6)
    win.sync_panel.ms.setValue(40)
    qtbot.mouseClick(win.sync_panel.findChild(QPushButton, "nudge_-ms"), Qt.MouseButton.LeftButton)
    final_offset = win.case.clock(b_id).offset_s
    assert final_offset == pytest.approx(off0 + 1 / fps_b - 0.040)
    anns = {a.id: a for a in win.case.annotations}
    analysed = {fid: win.case.get_analysis(fid, algorithm="analysis") for fid in ids}

    # close and reopen: everything as left, nothing recomputed
    win.close_case()
    assert win.case is None and not win.grid.tiles
    win.open_case(case_path)
    assert not win.preparing()  # index and envelope came from the case
    assert all(f.prepared for f in win.state.feeds)
    assert {a.id: a for a in win.case.annotations} == anns
    assert win.case.clock(b_id).offset_s == pytest.approx(final_offset)
    assert win.case.feed(a_id).label == "Officer A" and win.case.feed(a_id).kind == "bodycam"
    assert {fid: win.case.get_analysis(fid, algorithm="analysis") for fid in ids} == analysed
    seek_and_wait(qtbot, win, 1.0)
    t_a = win.grid.tiles[a_id]
    assert t_a.frame_index == want, (t_a.frame_index, want)
    assert tile_index(t_a) == want, (t_a.image.width(), t_a.image.height())
    log = [r["action"] for r in win.case.audit_log()]
    for action in ("annotation.add", "annotation.delete", "annotation.undo_delete", "sync.nudge", "feed.label"):
        assert action in log


def _one_feed_case(tmp_path, paths):
    case = Case.create(tmp_path / "w.evcase")
    case.add_feeds([str(p) for p in paths])
    return case


def test_worker_result_equals_synchronous(qtbot, feeds, tmp_path):
    with _one_feed_case(tmp_path, feeds[:1]) as case:
        feed = case.feeds[0]
    sync = pipeline.compute_preparation(feed, analysis=False)
    w = ThreadWorker(pipeline.compute_preparation, feed, analysis=False)
    progress = []
    w.signals.progress.connect(lambda f, m: progress.append(f))
    with qtbot.waitSignal(w.signals.returned, timeout=30000) as blocker:
        w.start()
    qtbot.waitUntil(lambda: w.done, timeout=5000)
    assert blocker.args[0] == sync and sync.video_index["schema"]
    assert progress and progress[-1] == 1.0


def test_process_worker_result_equals_synchronous(qtbot, feeds, tmp_path):
    """Analysis runs in a child process in the app; it must give what a direct call gives."""
    with Case.create(tmp_path / "p.evcase") as case:
        case.add_feeds([feeds[0], feeds[1]])
        todo = case.feeds[:1]
        sync_inputs = pipeline.sync_inputs(case)
    direct = pipeline.compute_case_work(todo, sync=sync_inputs)
    w = ProcessWorker(pipeline.compute_case_work, todo, sync=sync_inputs, emits=True)
    partials = []
    w.signals.partial.connect(partials.append)
    with qtbot.waitSignal(w.signals.returned, timeout=90000) as blocker:
        w.start()
    qtbot.waitUntil(lambda: w.done, timeout=10000)
    got = blocker.args[0]
    assert got["errors"] == direct["errors"] == []
    fid = todo[0].id
    a_got, a_direct = got["preparation"][fid].analysis, direct["preparation"][fid].analysis
    assert _strip_timing(a_got.result) == _strip_timing(a_direct.result)
    assert a_got.envelope is not None and a_got.sync_features is not None  # from the same one decode
    assert _strip_timing(got["sync"]) == _strip_timing(direct["sync"])
    assert [p[0] for p in partials] == ["preparation", "features", "sync"]


def _strip_timing(obj):
    """Results without wall-clock measurements (which differ run to run)."""
    if isinstance(obj, dict):
        skip = ("elapsed", "time_s_wall", "seconds_taken", "duration_wall")
        return {k: _strip_timing(v) for k, v in obj.items() if not any(x in str(k) for x in skip)}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def test_worker_cancel(qtbot, feeds, tmp_path):
    """quit() reaches the call as should_stop(); the core raises Cancelled; the worker says cancelled."""
    with _one_feed_case(tmp_path, feeds[2:]) as case:
        feed = case.feeds[0]

    def slow(feed, *, progress, should_stop):
        for _ in range(500):
            check_cancel(should_stop, "test job")
            pipeline.compute_preparation(feed, analysis=False, should_stop=should_stop)
        return "finished"

    w = ThreadWorker(slow, feed)
    returned = []
    w.signals.returned.connect(returned.append)
    with qtbot.waitSignal(w.signals.cancelled, timeout=30000):
        w.start()
        qtbot.wait(50)
        w.quit()
    qtbot.waitUntil(lambda: w.done, timeout=5000)
    assert returned == []


def test_process_worker_cancel(qtbot, feeds, tmp_path):
    """A cancel reaches the child process's should_stop(): it stops and reports cancelled."""
    with _one_feed_case(tmp_path, feeds[:2]) as case:
        todo = case.feeds
    w = ProcessWorker(pipeline.compute_case_work, todo, emits=True)
    outcome = []
    w.signals.returned.connect(lambda r: outcome.append("returned"))
    w.signals.errored.connect(lambda e: outcome.append(f"errored {e}"))
    with qtbot.waitSignal(w.signals.cancelled, timeout=60000):
        w.start()
        w.quit()
    qtbot.waitUntil(lambda: w.done, timeout=20000)
    assert outcome == []


def test_timeline_click_drag_wheel(qtbot, win, feeds, tmp_path):
    win.new_case(tmp_path / "t.evcase")
    win.add_feeds(feeds[:2])
    wait_prepared(qtbot, win)
    tl = win.timeline
    tl.resize(900, 200)
    tl.set_view(0.0, 4.0)
    y = int(tl.lane_rect(0).center().y())
    x = int(tl.x_of(2.0))
    with qtbot.waitSignal(tl.seek_requested) as sig:
        qtbot.mouseClick(tl, Qt.MouseButton.LeftButton, pos=QPoint(x, y))
    assert sig.args[0] == pytest.approx(2.0, abs=4.0 / tl.plot_width)
    assert win.position == pytest.approx(sig.args[0])
    with qtbot.waitSignal(tl.selection_changed) as sel:
        qtbot.mousePress(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl.x_of(1.0)), y))
        qtbot.mouseMove(tl, QPoint(int(tl.x_of(2.0)), y))
        qtbot.mouseMove(tl, QPoint(int(tl.x_of(3.0)), y))
        qtbot.mouseRelease(tl, Qt.MouseButton.LeftButton, pos=QPoint(int(tl.x_of(3.0)), y))
    assert sel.args[0] == pytest.approx(1.0, abs=0.02) and sel.args[1] == pytest.approx(3.0, abs=0.02)
    assert win.in_point == pytest.approx(1.0, abs=0.02) and win.out_point == pytest.approx(3.0, abs=0.02)
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    span = tl.view_end - tl.view_start
    ev = QWheelEvent(QPointF(x, y), QPointF(tl.mapToGlobal(P(x, y))), P(0, 0), P(0, 120), Qt.MouseButton.NoButton,
                     Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    tl.wheelEvent(ev)
    assert tl.view_end - tl.view_start < span
    assert tl.view_start <= 2.0 <= tl.view_end


def test_screenshot_of_main_window(qtbot, win, feeds, tmp_path):
    """Screenshot on the demo incident when it has been generated, else on the generated feeds."""
    demo = ROOT / "sample_media" / "generated"
    demo_feeds = sorted(demo.glob("*.mp4")) if demo.is_dir() else []
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    win.resize(1600, 1000)
    win.new_case(tmp_path / "shot.evcase")
    for f in win.add_feeds(demo_feeds or feeds):
        kind = next((k for k in ("bodycam", "dashcam", "helicopter") if f.name.startswith(k)), "other")
        win.case.set_feed_kind(f.id, kind)
    wait_prepared(qtbot, win, timeout=90000)
    with qtbot.waitSignal(win.analysis_done, timeout=110000):
        win.start_analysis()
    feeds_now = win.state.feeds
    shots = win.state.events_shared("shot")
    t = max(win.state.shared_range()[0], shots[0] - 0.5) if shots else 1.0
    a = win.case.add_annotation(start_s=t, category="shot", text="first shot heard")
    win.select_feed(feeds_now[0].id)
    seek_and_wait(qtbot, win, t)
    qtbot.wait(100)
    png = out_dir / ("gui_demo_incident.png" if demo_feeds else "gui_generated_feeds.png")
    assert win.grab().save(str(png))
    assert png.stat().st_size > 10_000
    img = QImage(str(png))
    assert img.width() >= 1200
    assert a.id in {x.id for x in win.case.annotations}


def test_shuttle_back_drop_and_recent(qtbot, win, feeds, tmp_path):
    win.new_case(tmp_path / "d.evcase")
    win.handle_dropped([str(feeds[0])])  # drag and drop a media file: added as a feed
    assert [f.path for f in win.case.feeds] == [str(feeds[0])]
    wait_prepared(qtbot, win)
    seek_and_wait(qtbot, win, 3.0)
    qtbot.keyClick(win, Qt.Key.Key_J)  # shuttle backwards (by seeks)
    assert win.clock.playing and win.rate < 0
    qtbot.wait(400)
    qtbot.keyClick(win, Qt.Key.Key_K)
    assert not win.clock.playing
    assert 2.0 < win.position < 2.9
    qtbot.keyClick(win, Qt.Key.Key_L)  # forward 1x, then 2x
    qtbot.keyClick(win, Qt.Key.Key_L)
    assert win.clock.playing and win.rate == 2.0
    qtbot.keyClick(win, Qt.Key.Key_K)
    win.close_case()
    win.handle_dropped([str(tmp_path / "d.evcase")])  # dropping a case folder opens it
    assert win.case is not None and len(win.case.feeds) == 1
    assert win.recent_cases()[0] == str(tmp_path / "d.evcase")


def test_app_main_headless_screenshot(qtbot, feeds, tmp_path, monkeypatch):
    monkeypatch.setenv("EVIDENCE_AUDIT_SETTINGS", str(tmp_path / "settings.ini"))
    from audit_gui.app import main

    png = tmp_path / "win.png"
    rc = main([str(feeds[0]), str(feeds[1]), "--case", str(tmp_path / "m.evcase"), "--seek", "1.5",
               "--screenshot", str(png), "--quit-after", "0.5", "--size", "1200x800"])
    assert rc == 0
    assert png.is_file() and QImage(str(png)).width() == 1200
    with Case.open(tmp_path / "m.evcase") as c:
        assert len(c.feeds) == 2
        assert all(c.get_analysis(f.id, algorithm=pipeline.INDEX_ALGORITHM) for f in c.feeds)


def test_cancel_analysis_keeps_window_usable(qtbot, win, feeds, tmp_path):
    win.new_case(tmp_path / "c.evcase")
    win.add_feeds(feeds[:2])
    wait_prepared(qtbot, win)
    with qtbot.waitSignal(win.analysis_done, timeout=60000) as done:
        w = win.start_analysis()
        assert w is not None and win.progress.isVisible() and win.b_cancel.isVisible()
        qtbot.mouseClick(win.b_cancel, Qt.MouseButton.LeftButton)
    assert done.args[0] is None  # cancelled
    qtbot.waitUntil(lambda: not win.jobs_running(), timeout=20000)
    assert not win.progress.isVisible()
    assert win.a_analyze.isEnabled()
    seek_and_wait(qtbot, win, 1.0)  # still reviewing
