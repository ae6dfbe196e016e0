"""Audio of one chosen feed, played in sync with the master clock (QtMultimedia's QAudioSink).

The GUI thread only sends requests (source, play from a shared time, stop, new clock); an
:class:`_AudioWorker` in its own ``QThread`` owns the ``QAudioSink`` (push mode) and a
:class:`media_core.io.audio_out.SharedClockPcm`, decodes 20 ms at a time and keeps the sink's buffer
full. Every 250 ms it compares the shared time being heard (position written minus what the sink
still buffers) with the master clock and re-seeks when they differ by more than 40 ms, so audio
follows the video clock, nudges and drift. Audio plays only at 1x; other rates are silent.

Where QtMultimedia is missing (PySide6-Essentials), its libraries do not load (no libpulse), or
there is no output device (``QMediaDevices.defaultAudioOutput()`` is null, e.g. headless CI),
:func:`create_audio_output` returns an output whose ``available`` is False and ``reason`` says why.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

CHUNK_S = 0.02           # PCM produced per step
BUFFER_S = 0.15          # sink buffer
RESYNC_EVERY_MS = 250
RESYNC_TOLERANCE_S = 0.04


class _AudioWorker(QObject):
    """Lives in the audio thread: owns the sink and the PCM producer."""

    message = Signal(str)

    def __init__(self, device, master_clock):
        super().__init__()
        self._device = device
        self._master = master_clock
        self._sink = None
        self._io = None
        self._pcm = None
        self._path = None
        self._clock = None
        self._timer = None
        self._resync = None
        self._playing = False
        self._float = False

    @Slot()
    def setup(self) -> None:
        from PySide6.QtMultimedia import QAudioFormat, QAudioSink

        fmt = self._device.preferredFormat()
        ch = max(1, min(2, fmt.channelCount()))
        fmt.setChannelCount(ch)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        if not self._device.isFormatSupported(fmt):
            fmt.setSampleFormat(QAudioFormat.SampleFormat.Float)
            self._float = True
        self.fmt = fmt
        self.sr, self.ch = fmt.sampleRate(), ch
        self._bpf = ch * (4 if self._float else 2)
        self._sink = QAudioSink(self._device, fmt, self)
        self._sink.setBufferSize(int(BUFFER_S * self.sr) * self._bpf)
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._fill)
        self._resync = QTimer(self)
        self._resync.setInterval(RESYNC_EVERY_MS)
        self._resync.timeout.connect(self._check_sync)

    @Slot(object)
    def set_source(self, src) -> None:
        path, clock = src if src is not None else (None, None)
        if path != self._path:
            if self._pcm is not None:
                self._pcm.close()
            self._pcm = None
            self._path = path
        self._clock = clock
        if self._pcm is not None and clock is not None:
            self._pcm.set_clock(clock)
        if self._playing:
            self.play(self._master.now())

    @Slot(float)
    def play(self, shared_s: float) -> None:
        from media_core.io.audio_out import SharedClockPcm

        self.stop()
        if self._path is None:
            return
        if self._pcm is None:
            self._pcm = SharedClockPcm(self._path, clock=self._clock, sr=self.sr, channels=self.ch)
        self._pcm.seek(shared_s)
        self._io = self._sink.start()
        self._playing = True
        self._fill()
        self._timer.start()
        self._resync.start()

    @Slot()
    def stop(self) -> None:
        self._playing = False
        if self._timer is not None:
            self._timer.stop()
            self._resync.stop()
        if self._sink is not None and self._io is not None:
            self._sink.stop()   # drops what is buffered: pause is immediate
        self._io = None

    @Slot()
    def shutdown(self) -> None:
        self.stop()
        if self._pcm is not None:
            self._pcm.close()
            self._pcm = None
        QThread.currentThread().quit()

    def _fill(self) -> None:
        if not self._playing or self._io is None:
            return
        step = int(CHUNK_S * self.sr)
        try:
            while self._sink.bytesFree() >= step * self._bpf:
                y = self._pcm.read(step)
                data = y.T.astype("<f4").tobytes() if self._float else _s16(y)
                self._io.write(data)
        except Exception as exc:  # a decode failure: say so once and go silent
            self.stop()
            self.message.emit(f"audio stopped: {exc}")

    def _check_sync(self) -> None:
        if not self._playing or self._pcm is None:
            return
        buffered = (self._sink.bufferSize() - self._sink.bytesFree()) / self._bpf / self.sr
        heard = self._pcm.position_s - buffered
        now = self._master.now()
        if abs(heard - now) > RESYNC_TOLERANCE_S:
            self._pcm.seek(now + buffered)


def _s16(y):
    from media_core.io.audio_out import to_s16_bytes

    return to_s16_bytes(y)


class QtAudioOutput(QObject):
    """The GUI thread's handle on audio playout (see the module docstring).

    Attributes
    ----------
    available : bool
        Whether audio can play on this machine.
    reason : str
        Why not (empty when available).
    """

    _sig_source = Signal(object)
    _sig_play = Signal(float)
    _sig_stop = Signal()
    _sig_shutdown = Signal()

    def __init__(self, master_clock, parent=None):
        super().__init__(parent)
        self.available = False
        self.reason = ""
        self.playing = False
        self._thread = None
        self._worker = None
        self._lock = threading.Lock()
        try:
            from PySide6.QtMultimedia import QMediaDevices
        except ImportError as exc:
            self.reason = ("this PySide6 has no QtMultimedia (install PySide6-Addons)" if "QtMultimedia" in str(exc)
                           else f"QtMultimedia cannot load ({exc})")
            return
        dev = QMediaDevices.defaultAudioOutput()
        if dev.isNull():
            self.reason = "no audio output device"
            return
        self.device_name = dev.description()
        self._thread = QThread()
        self._thread.setObjectName("audio")
        self._worker = _AudioWorker(dev, master_clock)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.setup)
        self._sig_source.connect(self._worker.set_source)
        self._sig_play.connect(self._worker.play)
        self._sig_stop.connect(self._worker.stop)
        self._sig_shutdown.connect(self._worker.shutdown)
        self.message = self._worker.message
        self._thread.start()
        self.available = True

    def set_source(self, path: str | None, clock) -> None:
        """Play ``path`` (mapped through ``clock``), or nothing for None."""
        if self.available:
            self._sig_source.emit((path, clock) if path is not None else None)

    def play(self, shared_s: float) -> None:
        self.playing = True
        if self.available:
            self._sig_play.emit(float(shared_s))

    def stop(self) -> None:
        self.playing = False
        if self.available:
            self._sig_stop.emit()

    def close(self) -> None:
        if self._thread is not None:
            self._sig_shutdown.emit()
            self._thread.wait(3000)
            self._thread = None
        self.available = False
