"""A Chinese font for the report's charts, registered from its file, never left to matplotlib's cache.

matplotlib finds fonts through a cache it builds once (``~/.cache/matplotlib/fontlist-*.json``). A
cache built before ``fonts-noto-cjk`` was installed lacks every CJK font, and matplotlib then draws
each Chinese label as an empty box, with only a warning. ``ensure_cjk_font()`` therefore looks the
font file up itself — ``fc-match`` for a font covering Simplified Chinese, then the known Debian
paths — registers the file with ``font_manager.fontManager.addfont`` (a TrueType collection
registers all its faces) and puts the Simplified-Chinese family first in ``font.sans-serif``.
It returns the family name, or None when the machine has no font with Chinese glyphs; the report
then says so in red at its top (``scoring/report.py``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# Debian's packages: fonts-noto-cjk, fonts-noto-cjk-extra, fonts-wqy-microhei, fonts-wqy-zenhei, fonts-arphic-*
KNOWN_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
# family names in order of preference, among the faces a file registers
PREFERRED = ("Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "AR PL UMing CN")
PROBE = "中文"  # characters every candidate must have glyphs for

_chosen: list[str | None] = []  # memo: [family] once looked up


def _fc_match() -> list[str]:
    """Font files fontconfig picks for Simplified Chinese (none when fc-match is missing or fails)."""
    exe = shutil.which("fc-match")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-s", "-f", "%{file}\n", ":lang=zh-cn"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [ln.strip() for ln in out.splitlines()[:5] if ln.strip()]


def has_glyphs(path: str, text: str = PROBE) -> bool:
    """Whether the font file's first face maps every character of ``text`` to a glyph."""
    from matplotlib import ft2font

    try:
        font = ft2font.FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in text)


def find_cjk_font(candidates: list[str] | None = None) -> tuple[str, str] | None:
    """(family, file) of the first candidate file that exists and has Chinese glyphs, registered with
    matplotlib; candidates default to the known Debian files, then what fc-match offers."""
    from matplotlib import font_manager

    files = list(KNOWN_FILES) + _fc_match() if candidates is None else candidates
    for path in files:
        if not Path(path).is_file() or not has_glyphs(path):
            continue
        before = len(font_manager.fontManager.ttflist)
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue
        added = [e.name for e in font_manager.fontManager.ttflist[before:]] or \
            [e.name for e in font_manager.fontManager.ttflist if e.fname == path]
        family = next((n for n in PREFERRED if n in added), added[0] if added else None)
        if family:
            return family, path
    return None


def ensure_cjk_font() -> str | None:
    """Register a Chinese font for the charts (once per process) and return its family, or None."""
    import matplotlib.pyplot as plt

    if not _chosen:
        found = find_cjk_font()
        _chosen.append(found[0] if found else None)
    family = _chosen[0]
    if family:
        rest = [f for f in plt.rcParams["font.sans-serif"] if f != family]
        plt.rcParams["font.sans-serif"] = [family, *rest]
        plt.rcParams["font.family"] = "sans-serif"
    return family


NO_FONT_MESSAGE = ("No font with Chinese glyphs was found: the charts' Chinese labels are empty boxes. "
                   "Install one (Debian: apt-get install fonts-noto-cjk) and write the report again.")
