"""Charts draw Chinese even when matplotlib's font cache predates the CJK font (scoring/fonts.py).

Each case runs in a fresh interpreter with its own, empty MPLCONFIGDIR: matplotlib builds a new font
cache there, and the script then removes every CJK entry from it — the state of a machine whose cache
was built before fonts-noto-cjk was installed. A chart with a Chinese title is saved; matplotlib
warns "Glyph … missing from font(s)" for every character it draws as an empty box. The control
(charts drawn without scoring.fonts) must warn, or the check proves nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scoring.fonts import find_cjk_font, has_glyphs

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys, warnings
import matplotlib
matplotlib.use("Agg")
from matplotlib import font_manager
# a stale cache: every CJK font forgotten, and font look-ups answered from it
font_manager.fontManager.ttflist = [f for f in font_manager.fontManager.ttflist
                                    if "CJK" not in f.name and "WenQuanYi" not in f.name]
font_manager.fontManager._findfont_cached.cache_clear() if hasattr(font_manager.fontManager, "_findfont_cached") else None
import matplotlib.pyplot as plt
family = None
if sys.argv[1] == "windvane":
    from scoring import charts  # registers the font from its file
    family = charts.CJK_FONT
else:
    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "DejaVu Sans"]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.set_title("浙江省：GDP排名与总得分排名")
    fig.savefig(sys.argv[2])
missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
print(json.dumps({"family": family, "missing": missing}))
"""


def _draw(tmp_path: Path, mode: str) -> dict:
    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / f"mpl-{mode}"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode, str(tmp_path / f"{mode}.png")], env=env,
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_chinese_is_drawn_even_with_a_font_cache_that_lacks_the_cjk_font(tmp_path):
    control = _draw(tmp_path, "plain")
    assert control["missing"], "the stale cache should have lost the CJK font (the check would prove nothing)"
    fixed = _draw(tmp_path, "windvane")
    assert fixed["family"] and ("CJK" in fixed["family"] or "WenQuanYi" in fixed["family"])
    assert fixed["missing"] == []
    assert (tmp_path / "windvane.png").stat().st_size > 0


def test_font_lookup_checks_the_glyphs_and_says_when_there_is_none(tmp_path):
    found = find_cjk_font()
    assert found is not None, "setup.sh installs fonts-noto-cjk; without it the report warns in red"
    assert has_glyphs(found[1])
    latin_only = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
    if not Path(latin_only).is_file():
        import matplotlib
        latin_only = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    assert not has_glyphs(latin_only)
    assert find_cjk_font([latin_only, str(tmp_path / "missing.ttc")]) is None


@pytest.mark.parametrize("problem", [True, False])
def test_the_report_says_in_red_when_no_chinese_font_exists(tmp_path, problem):
    from scoring.fonts import NO_FONT_MESSAGE
    from scoring.report import template_env
    env = template_env()
    src = env.loader.get_source(env, "report.html.j2")[0]
    head = src[:src.index("<h1>")] + "</body></html>"
    html = env.from_string(head).render(run={"run_id": "r1"}, font_problem=NO_FONT_MESSAGE if problem else None)
    assert ('id="font-problem"' in html and "color:#c00" in html and "fonts-noto-cjk" in html) is problem
