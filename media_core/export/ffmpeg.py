r"""FFmpeg for exports, done safely: the one place that builds filtergraphs and runs the binary.

* The binary is imageio-ffmpeg's (no system ffmpeg needed). PyAV's own bundled FFmpeg has no
  libass and no libfreetype (``av.filter.filters_available`` lacks ``subtitles`` and
  ``drawtext`` in PyAV 18.1), so it cannot burn text in; exports use the binary.
* A filtergraph is built as text by :class:`Graph` from filter names, link labels and option
  values that are checked against a strict pattern (letters, digits, ``._+-/``, and nothing that
  means anything to the graph parser: no ``'``, ``:``, ``;``, ``,``, ``[``, ``]``, ``\``, ``=``,
  whitespace). Anything else raises :class:`~media_core.errors.ParameterError`: user text
  never reaches the graph. Text goes into the picture through one generated ASS file burned with
  ``subtitles=`` (see :mod:`media_core.export.ass`), referred to by a fixed relative file name.
* The graph is written to a file and passed as ``-/filter_complex FILE`` (the bundled FFmpeg 9
  no longer accepts ``-filter_complex_script``), never on the command line.
* FFmpeg runs with ``cwd`` set to the export's private work folder; every path it sees is either a
  fixed relative name there or ``file:`` + an absolute path (so no name can read as an option or a
  protocol). Its stderr goes to a log file kept beside the export; a failure is one line naming
  the output and the log.

Why our own builder and not a library: ffmpeg-python is unmaintained since 2019, pulls in
``future`` (CVE-2022-40899) and escapes quotes wrongly (its issues #416, #753); typed-ffmpeg is
a large generated API whose value (type-checked options for every filter) we do not need for the
handful of filters used here, and it still puts option values into graph syntax with its own
escaping. Refusing anything that would need escaping is simpler to audit than escaping it.
"""
from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from media_core.errors import MediaCoreError, ParameterError

__all__ = ["ExportError", "Graph", "ffmpeg_exe", "ffmpeg_version", "run_ffmpeg", "start_ffmpeg", "finish_ffmpeg",
           "num", "file_arg"]

#: what an option value, filter name or link label may contain (nothing the graph parser reads)
_SAFE = re.compile(r"\A[A-Za-z0-9_.+\-/]+\Z")
_LABEL = re.compile(r"\A[A-Za-z0-9_]+\Z")


class ExportError(MediaCoreError):
    """An export could not be made: FFmpeg failed, the folder cannot be written, an original changed."""


def ffmpeg_exe() -> str:
    """The FFmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


_VERSION: str | None = None


def ffmpeg_version() -> str:
    """FFmpeg's first version line, e.g. ``ffmpeg version n9.0.2-17-...`` (recorded in manifests)."""
    global _VERSION
    if _VERSION is None:
        try:
            out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True,
                                 timeout=30, check=False).stdout
            _VERSION = out.splitlines()[0].strip() if out else "unknown"
        except (OSError, subprocess.SubprocessError):
            _VERSION = "unknown"
    return _VERSION


def num(x: float, digits: int = 6) -> str:
    """A number as graph-safe text (fixed point, no exponent)."""
    s = f"{float(x):.{digits}f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def file_arg(path: str | os.PathLike) -> str:
    """A command-line file argument FFmpeg can only read as that file: ``file:`` + absolute path."""
    return "file:" + os.path.abspath(os.fspath(path))


def _check(value: object, what: str) -> str:
    s = value if isinstance(value, str) else num(value) if isinstance(value, float) else str(value)
    if not _SAFE.match(s):
        raise ParameterError(f"filtergraph {what} {s!r} is not allowed (only letters, digits and ._+-/)")
    return s


@dataclass
class Graph:
    """A filtergraph built from checked pieces. ``chain(inputs, [(filter, {opt: value}), ...], outputs)``.

    Examples
    --------
    >>> g = Graph()
    >>> g.chain(["0:v"], [("format", {"pix_fmts": "yuv420p"}), ("subtitles", {"filename": "overlay.ass"})], ["v"])
    >>> g.text()
    '[0:v]format=pix_fmts=yuv420p,subtitles=filename=overlay.ass[v]'
    >>> Graph().chain(["0:v"], [("drawtext", {"text": "a:b"})], ["v"])
    Traceback (most recent call last):
    ...
    media_core.errors.ParameterError: filtergraph option value 'a:b' is not allowed (only letters, digits and ._+-/)
    """

    chains: list[str] = field(default_factory=list)

    def chain(self, inputs: Sequence[str], filters: Sequence[tuple[str, dict]], outputs: Sequence[str]) -> None:
        parts = []
        for name, opts in filters:
            _check(name, "filter name")
            if opts:
                kv = ":".join(f"{_check(k, 'option name')}={_check(v, 'option value')}" for k, v in opts.items())
                parts.append(f"{name}={kv}")
            else:
                parts.append(name)
        for lab in list(inputs) + list(outputs):
            if not _LABEL.match(lab.replace(":", "_", 1)):
                raise ParameterError(f"filtergraph label {lab!r} is not allowed")
        self.chains.append("".join(f"[{i}]" for i in inputs) + ",".join(parts) + "".join(f"[{o}]" for o in outputs))

    def text(self) -> str:
        return ";\n".join(self.chains)

    def write(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.write_text(self.text() + "\n", encoding="ascii")
        return p


def _base_cmd() -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-y"]


def _env(cwd: Path) -> dict:
    env = dict(os.environ)
    conf = cwd / "fonts.conf"
    if conf.is_file():
        env["FONTCONFIG_FILE"] = str(conf)
    return env


def start_ffmpeg(args: Sequence[str], *, cwd: str | os.PathLike, log_path: str | os.PathLike,
                 stdin_pipe: bool = False) -> subprocess.Popen:
    """Start FFmpeg with ``args`` (after the common options) in ``cwd``; stderr to ``log_path``."""
    cwd = Path(cwd)
    for a in args:
        if not isinstance(a, str) or "\n" in a or "\x00" in a:
            raise ParameterError(f"bad FFmpeg argument {a!r}")
    log = open(log_path, "ab")
    try:
        log.write(("$ " + " ".join(["ffmpeg", *_base_cmd()[1:], *args]) + "\n").encode("utf-8", "replace"))
        log.flush()
        return subprocess.Popen([*_base_cmd(), *args], cwd=cwd, env=_env(cwd), stdout=subprocess.DEVNULL,
                                stderr=log, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL)
    finally:
        log.close()


def _last_error(log_path: str | os.PathLike) -> str:
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    for line in reversed(lines):
        s = line.strip()
        if s and not s.startswith("$ ") and ("rror" in s or "nvalid" in s or "No such" in s or "failed" in s):
            return s[:200]
    return (lines[-1].strip()[:200] if lines else "no output")


def finish_ffmpeg(proc: subprocess.Popen, *, output_name: str, log_path: str | os.PathLike,
                  timeout: float | None = None) -> None:
    """Wait for FFmpeg; a failure raises :class:`ExportError` in one line naming the output and the log."""
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    rc = proc.wait(timeout=timeout)
    if rc != 0:
        raise ExportError(f"{output_name}: FFmpeg failed (exit {rc}: {_last_error(log_path)}); "
                          f"full log in {log_path}")


def run_ffmpeg(args: Sequence[str], *, cwd: str | os.PathLike, log_path: str | os.PathLike, output_name: str,
               should_stop=None) -> None:
    """Run FFmpeg to the end (or until ``should_stop()``: then it is killed and Cancelled raised)."""
    import time

    from media_core.errors import Cancelled

    proc = start_ffmpeg(args, cwd=cwd, log_path=log_path)
    while proc.poll() is None:
        if should_stop is not None and should_stop():
            kill(proc)
            raise Cancelled(f"export of {output_name}")
        time.sleep(0.05)
    finish_ffmpeg(proc, output_name=output_name, log_path=log_path)


def kill(proc: subprocess.Popen) -> None:
    """Stop an FFmpeg we started (this process's own child, by its handle)."""
    if proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass
    if proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
