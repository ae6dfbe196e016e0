"""Audio of one chosen feed (audit_gui.qt_audio): silent fallback without a device, and the push logic."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from media_core.clock import Clock  # noqa: E402
from media_core.io.audio_out import SharedClockPcm  # noqa: E402
from sample_media.encode import write_media  # noqa: E402

pytestmark = pytest.mark.gui
SR = 48000


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("audio_feeds")
    rng = np.random.default_rng(11)
    out = []
    for k in range(2):
        y = (0.3 * rng.standard_normal(3 * SR)).astype(np.float32)
        out.append(write_media(d / f"cam_{k}.mp4", audio=y, fps=30.0, size=(160, 120), duration_s=3.0))
    return out

def test_choosing_an_audio_feed_without_a_device_keeps_working_and_says_so(qtbot, win, feeds, tmp_path):

    if win.audio_available:
        pytest.skip("this machine has an audio output device")
    # said once, at start-up, with the reason
    assert len(win.audio_notices) == 1
    assert "Review works silently" in win.audio_notices[0]
    win.new_case(tmp_path / "a.evcase")
    win.add_feeds(feeds)
    qtbot.waitUntil(lambda: not win.jobs_running() and all(f.prepared for f in win.state.feeds), timeout=30000)
    a_id, b_id = (f.id for f in win.state.feeds)
    # default: the selected tile's feed
    win.select_feed(a_id)
    assert win.audio_feed_id() == a_id
    win.select_feed(b_id)
    assert win.audio_feed_id() == b_id
    # choose feed A from the toolbar while B is selected
    i = win.audio_box.findData(a_id)
    assert i >= 0 and win.audio_box.itemText(i).endswith(win.state.feed(a_id).label)
    win.audio_box.setCurrentIndex(i)
    assert win.audio_choice == a_id and win.audio_feed_id() == a_id
    msg = win.statusBar().currentMessage()
    assert "audio not played" in msg and "silently" in msg
    # the app goes on: play, pause, seek
    win.play()
    qtbot.wait(400)
    win.pause()
    assert win.position > 0.1
    with qtbot.waitSignal(win.frames_settled, timeout=10000, check_params_cb=lambda g, ms: g == win._gen):
        win.seek(1.0, force=True)
    assert win.grid.tiles[a_id].frame_index is not None
    win.set_audio_feed(None)
    assert win.audio_feed_id() is None and win.audio_box.currentData() == "off"
    assert len(win.audio_notices) == 1  # never repeated


class _FakeIO:
    def __init__(self):
        self.data = bytearray()

    def write(self, b):
        self.data += b
        return len(b)


class _FakeSink:
    """What _AudioWorker uses of QAudioSink: a buffer of fixed size that nobody drains."""

    def __init__(self, size):
        self.size = size
        self.io = None

    def bufferSize(self):  # noqa: N802
        return self.size

    def bytesFree(self):  # noqa: N802
        return self.size - len(self.io.data) if self.io is not None else self.size

    def start(self):
        self.io = _FakeIO()
        return self.io

    def stop(self):
        pass


def test_worker_pushes_the_samples_of_the_master_clock_time(qtbot, feeds):
    """The audio thread's worker, run in this thread with a fake sink: it writes exactly the PCM
    the producer gives for the master clock's time, and re-seeks when the clock moves away."""
    from PySide6.QtCore import QTimer

    from audit_gui.playback import MasterClock
    from audit_gui.qt_audio import _AudioWorker

    master = MasterClock()
    master.set(1.25)
    w = _AudioWorker(None, master)
    w.sr, w.ch, w._bpf, w._float = SR, 2, 4, False
    w._sink = _FakeSink(int(0.1 * SR) * 4)
    w._timer, w._resync = QTimer(), QTimer()
    clock = Clock(0.4, 150.0)
    w.set_source((str(feeds[1]), clock))
    w.play(1.25)
    got = np.frombuffer(bytes(w._sink.io.data), "<i2").reshape(-1, 2).T
    assert got.shape[1] == int(0.1 * SR) // 960 * 960
    with SharedClockPcm(feeds[1], clock=clock, sr=SR, channels=2) as ref:
        ref.seek(1.25)
        want = np.rint(np.clip(ref.read(got.shape[1]), -1, 32767 / 32768) * 32768).astype(np.int16)
    assert np.array_equal(got, want)
    # the master clock jumps 1 s ahead: the next samples written come from there
    master.set(2.25)
    buffered = (w._sink.bufferSize() - w._sink.bytesFree()) / w._bpf / SR
    w._check_sync()
    assert w._pcm.position_s == pytest.approx(2.25 + buffered)
    w.stop()
    w._pcm.close()  # (not w.shutdown(): that quits the current thread's loop, here the main thread)


def test_audio_plays_through_a_real_device_when_there_is_one(qtbot, win, feeds, tmp_path):
    """With an output device (CI installs PulseAudio's null sink when it can), playing pushes the
    chosen feed's audio through a real QAudioSink, which drains it in step with the master clock."""
    if not win.audio_available:
        pytest.skip("no audio output device on this machine")
    win.new_case(tmp_path / "dev.evcase")
    win.add_feeds(feeds)
    qtbot.waitUntil(lambda: not win.jobs_running() and all(f.prepared for f in win.state.feeds), timeout=30000)
    a_id = win.state.feeds[0].id
    win.select_feed(a_id)
    win.play()
    worker = win.audio._worker
    qtbot.waitUntil(lambda: worker._pcm is not None and worker._playing, timeout=5000)
    qtbot.wait(300)
    p0, t0 = worker._pcm.position_s, win.clock.now()
    sink = worker._sink
    offsets = []  # feed time leaving our buffer for the device, minus the master clock
    for _ in range(6):
        qtbot.wait(200)
        p1, t1 = worker._pcm.position_s, win.clock.now()
        buffered_s = (sink.bufferSize() - sink.bytesFree()) / worker._bpf / worker.sr
        offsets.append((p1 - buffered_s) - t1)
    win.pause()
    assert win.audio.available and win.audio_feed_id() == a_id
    # the device drains what we write: the producer advances with the clock (a sink nobody
    # drains would stay full and stop it after 150 ms)
    assert (p1 - p0) > 0.7 * (t1 - t0), (p0, p1, t0, t1)
    # on the master clock: re-synced whenever it is more than 40 ms off (every 250 ms), so some
    # reading must be within 100 ms even on a loaded machine, where one reading may lag
    assert min(abs(d) for d in offsets) < 0.1, offsets
