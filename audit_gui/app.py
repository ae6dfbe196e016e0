"""``evidence-audit-gui``: the review app.

Usage::

    evidence-audit-gui [CASE.evcase | MEDIA ...] [--case PATH] [--analyze] [--seek S]
                       [--screenshot PNG] [--quit-after S]

A case folder opens it; media files are added to ``--case`` (created if needed) or to a new
case in a temporary folder. Every feed is prepared in the background: its video index, and its
one analysis decode (mutes, shots, waveform) unless the case has it already. ``--analyze`` then
also syncs the feeds. ``--screenshot`` saves the window once every feed is prepared (and synced,
with ``--analyze``) and the frames at the playhead are shown; ``--quit-after`` quits after that many
seconds (or right after the screenshot). Both work headless (``QT_QPA_PLATFORM=offscreen``).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evidence-audit-gui", description="Review police video feeds in sync.")
    p.add_argument("paths", nargs="*", help="a case folder (NAME.evcase) or media files to add")
    p.add_argument("--case", help="case folder to create or open for the media files")
    p.add_argument("--analyze", action="store_true", help="analyse and sync what is not done yet")
    p.add_argument("--seek", type=float, default=None, help="start at this shared-clock time (s)")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window when ready")
    p.add_argument("--quit-after", type=float, default=None, metavar="S",
                   help="quit after S seconds (after the screenshot when one is asked for)")
    p.add_argument("--size", default="1600x1000", help="window size WxH (default 1600x1000)")
    return p


def _open_from_args(win, args) -> None:
    from media_core.case.store import CASE_SUFFIX, Case

    paths = [Path(p) for p in args.paths]
    case_paths = [p for p in paths if p.suffix == CASE_SUFFIX or p.name == "case.sqlite"]
    media = [p for p in paths if p not in case_paths]
    if case_paths:
        win.open_case(case_paths[0])
    elif args.case:
        cp = Case.normalize_path(args.case)
        win.open_case(cp) if (cp / "case.sqlite").exists() else win.new_case(cp)
    elif media:
        d = tempfile.mkdtemp(prefix="evidence-audit-")
        win.new_case(Path(d) / "untitled.evcase")
        win.statusBar().showMessage(f"new case in {d} (saved as you work)", 10000)
    if media and win.case is not None:
        win.add_feeds(media)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Evidence Audit")
    win = MainWindow()
    try:
        w, h = (int(x) for x in args.size.lower().split("x"))
        win.resize(w, h)
    except ValueError:
        pass
    win.show()
    _open_from_args(win, args)

    state = {"shot": False}

    def ready() -> bool:
        return win.case is None or (not win.jobs_running() and not win.transport.pending)

    def try_screenshot():
        if state["shot"] or not args.screenshot:
            return
        if not ready():
            QTimer.singleShot(200, try_screenshot)
            return
        state["shot"] = True

        def grab():
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            win.grab().save(args.screenshot)
            print(f"screenshot: {args.screenshot}", flush=True)
            if args.quit_after is not None:
                QTimer.singleShot(0, win.close)

        win.frames_settled.connect(lambda *_: None)
        QTimer.singleShot(300, grab)

    def after_prepare():
        if args.analyze and win.case is not None:
            worker = win.start_analysis(only_missing=True)
            if worker is not None:
                win.analysis_done.connect(lambda _r: QTimer.singleShot(50, start_view))
                return
        start_view()

    def start_view():
        if args.seek is not None:
            win.seek(args.seek)
        elif win.state is not None:
            shots = win.state.events_shared("shot")
            if shots:
                win.seek(max(win.state.shared_range()[0], shots[0] - 1.0))
        try_screenshot()

    def when_prepared():
        if win.case is not None and win.jobs_running():
            QTimer.singleShot(100, when_prepared)
        else:
            after_prepare()

    QTimer.singleShot(0, when_prepared)
    if args.quit_after is not None and not args.screenshot:
        QTimer.singleShot(int(args.quit_after * 1000), win.close)
    elif args.quit_after is not None:
        QTimer.singleShot(int(max(args.quit_after, 60) * 1000), win.close)  # safety net
    rc = app.exec()
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
