r"""Text burned into exports: one generated ASS subtitle file, and the fonts it is drawn with.

Every piece of text that comes from a user or a file (labels, annotation text, the wall clock's
source, file names) is drawn by libass from an ASS file the export writes; it never enters a
filtergraph or a command line. :func:`ass_text` makes any string literal ASS text: newlines
become line breaks (``\N``), other control characters a visible ``\uFFFD``, ``{`` and ``}``
(override blocks) are escaped as ``\{`` ``\}``, and a backslash is followed by a WORD JOINER
(U+2060, invisible) so that ``\N``, ``\n`` or ``\h`` typed by a user stay those two characters.

Fonts: DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew) with Noto Sans CJK (Chinese,
Japanese, Korean) and Noto Sans Arabic as fallbacks, from the system (Debian ``fonts-dejavu-core``,
``fonts-noto-cjk``, ``fonts-noto-core``; ``scripts/setup.sh`` installs them). The export links
the ones found into its work folder and gives FFmpeg a ``fonts.conf`` naming only that folder, so
the same fonts are used on every machine that has them. Where the CJK font is missing the export
still works (CJK then shows as boxes) and :func:`find_fonts` says so in one warning line.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ass_text", "ass_time", "FontSet", "find_fonts", "AssDocument"]

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
WORD_JOINER = "\u2060"

FONT_CANDIDATES = {
    "main": ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"],
    "bold": ["/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"],
    "cjk": ["/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
            "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"],
    "arabic": ["/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf",
               "/usr/share/fonts/truetype/noto/NotoNaskhArabic-Regular.ttf"],
}
MAIN_FAMILY = "DejaVu Sans"


def ass_text(s: str) -> str:
    r"""``s`` as literal ASS dialogue text (see the module docstring).

    >>> ass_text("a {b} \\N c\nd")
    'a \\{b\\} \\\u2060N c\\Nd'
    """
    s = str(s).replace("\r\n", "\n").replace("\r", "\n")
    s = _CONTROL.sub("\ufffd", s)
    s = s.replace("\\", "\\" + WORD_JOINER)
    s = s.replace("{", "\\{").replace("}", "\\}")
    return s.replace("\n", "\\N")


def ass_time(t: float) -> str:
    """Seconds as ASS ``H:MM:SS.cc`` (rounded to the centisecond)."""
    cs = max(0, int(round(float(t) * 100)))
    h, rem = divmod(cs, 360000)
    m, rem = divmod(rem, 6000)
    s, c = divmod(rem, 100)
    return f"{h}:{m:02d}:{s:02d}.{c:02d}"


@dataclass
class FontSet:
    """The font files an export draws its text with, and what is missing."""

    files: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        if not self.missing:
            return None
        return (f"no {', no '.join(self.missing)} font found: that text is drawn with a fallback font and may show "
                "as boxes (install fonts-noto-cjk and fonts-noto-core, e.g. with scripts/setup.sh)")

    def names(self) -> dict[str, str]:
        return {k: os.path.basename(v) for k, v in self.files.items()}

    def link_into(self, work: Path) -> None:
        """Link the fonts into ``work/fonts`` and write ``work/fonts.conf`` naming only that folder."""
        d = work / "fonts"
        d.mkdir(exist_ok=True)
        for k, src in self.files.items():
            dst = d / f"{k}{Path(src).suffix}"
            try:
                os.symlink(src, dst)
            except OSError:
                import shutil

                shutil.copyfile(src, dst)
        (work / "fontcache").mkdir(exist_ok=True)
        (work / "fonts.conf").write_text(
            '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
            '  <dir prefix="cwd">fonts</dir>\n  <cachedir prefix="cwd">fontcache</cachedir>\n</fontconfig>\n',
            encoding="ascii")


def find_fonts() -> FontSet:
    """The fonts on this machine for :data:`FONT_CANDIDATES` (``EVIDENCE_AUDIT_NO_CJK_FONT=1`` hides CJK, for tests)."""
    fs = FontSet()
    for role, paths in FONT_CANDIDATES.items():
        if role == "cjk" and os.environ.get("EVIDENCE_AUDIT_NO_CJK_FONT"):
            fs.missing.append("CJK")
            continue
        p = next((p for p in paths if os.path.isfile(p)), None)
        if p is not None:
            fs.files[role] = p
        elif role in ("cjk", "arabic", "main"):
            fs.missing.append({"cjk": "CJK", "arabic": "Arabic", "main": "DejaVu Sans"}[role])
    return fs


def _colour(rgb: tuple[int, int, int], alpha: int = 0) -> str:
    r, g, b = rgb
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


@dataclass
class AssDocument:
    """An ASS script in output pixels (``PlayRes`` = the video size)."""

    width: int
    height: int
    styles: list[str] = field(default_factory=list)
    events: list[tuple[float, float, str]] = field(default_factory=list)

    def style(self, name: str, *, size: int, colour=(255, 255, 255), back=(0, 0, 0), back_alpha: int = 0x40,
              bold: bool = False, align: int = 7, box: bool = True, outline: float = 2.0, margin_v: int = 0) -> None:
        """Add a style; ``box`` draws an opaque box behind the text (BorderStyle 3) in ``back``."""
        border = 3 if box else 1
        self.styles.append(
            f"Style: {name},{MAIN_FAMILY},{int(size)},{_colour(colour)},{_colour(colour)},"
            f"{_colour(back, back_alpha if box else 0)},{_colour(back, back_alpha)},{-1 if bold else 0},0,0,0,"
            f"100,100,0,0,{border},{outline:g},0,{align},10,10,{int(margin_v)},1")

    def add(self, start_s: float, end_s: float, style: str, text: str, *, pos: tuple[int, int] | None = None,
            clip: tuple[int, int, int, int] | None = None) -> None:
        """An event from ``start_s`` to ``end_s`` (export time); ``text`` is user text, escaped here."""
        if end_s <= start_s:
            return
        tags = ""
        if pos is not None:
            tags += f"\\pos({int(pos[0])},{int(pos[1])})"
        if clip is not None:
            tags += "\\clip({},{},{},{})".format(*(int(c) for c in clip))
        self.events.append((start_s, end_s, f"{style},,0,0,0,,{{{tags}}}{ass_text(text)}" if tags
                            else f"{style},,0,0,0,,{ass_text(text)}"))

    def text(self) -> str:
        head = ["[Script Info]", "ScriptType: v4.00+", f"PlayResX: {self.width}", f"PlayResY: {self.height}",
                "WrapStyle: 2", "ScaledBorderAndShadow: yes", "YCbCr Matrix: TV.709", "",
                "[V4+ Styles]",
                "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
                "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, "
                "Alignment, MarginL, MarginR, MarginV, Encoding", *self.styles, "", "[Events]",
                "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"]
        ev = [f"Dialogue: 0,{ass_time(a)},{ass_time(b)},{rest}"
              for a, b, rest in sorted(self.events, key=lambda e: e[0])]
        return "\n".join(head + ev) + "\n"

    def write(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        p.write_text(self.text(), encoding="utf-8")
        return p
