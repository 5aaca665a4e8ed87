"""The scorers' loop: a full extraction against a rerun after one rule's edit and after a weight-only edit.

Every step is the real command line (``python -m windvane.cli`` of the interpreter running this
bench), timed as wall time including the command's start-up, over a private copy of a store:

1. ``windvane extract --full``: every rule over every stored page, in one process and on every core
   (the default; the baseline of the headline ratio);
2. one rule edited (``online_interview.dated_interview``: one more interview title word), then
   ``windvane extract`` + ``windvane score``: only that rule reruns, pages it cannot match unparsed;
3. one leaf's points edited (``hotline_12345``: 2 -> 3, a weight-only edit): no extraction is needed, so
   the rerun is ``windvane score`` alone (which checks that the evidence is current and warns if not);
   ``windvane extract`` (nothing to recompute: no page is read) + ``windvane score`` also shown.

Prints ``name: value`` lines, ``one_rule_ratio`` (step 2 / step 1) last. Goals: one-rule edit at most
5% of the full extraction; weight-only edit under 2 s::

    python bench/rerun.py [--store PATH --campaign NAME] [--sites N]

Without ``--store`` it crawls the simulated web first (``--sites`` sites, all by default: the full
demo campaign, several minutes). A given store is never written: its database is copied.
Exits non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.extract import build_store, copy_store  # noqa: E402 - after the path set-up

RULE_FILE, RULE_OLD, RULE_NEW = ("online_interview.yaml", "pattern: '在线访谈|访谈实录|",
                                 "pattern: '在线访谈|访谈回顾|访谈实录|")
LEAF_FILE, LEAF_OLD, LEAF_NEW = "hotline_12345.yaml", "\npoints: 2\n", "\npoints: 3\n"


def windvane(*args: str) -> tuple[float, str]:
    """Run one windvane command; (wall seconds, stdout). Raises if it fails."""
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "windvane.cli", *args], cwd=ROOT, capture_output=True, text=True)
    took = time.monotonic() - t
    if proc.returncode != 0:
        raise RuntimeError(f"windvane {' '.join(args)} exited with {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return took, proc.stdout


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise RuntimeError(f"{path}: the text to edit ({old.strip()!r}) is not there any more")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="an existing store (read-only: its database is copied)")
    ap.add_argument("--campaign", help="the campaign of --store")
    ap.add_argument("--sites", type=int, default=None, help="sites to crawl when no --store is given (default: all)")
    ap.add_argument("--registry", default=str(ROOT / "data" / "registry.csv"))
    args = ap.parse_args(argv)
    if bool(args.store) != bool(args.campaign):
        ap.error("--store and --campaign go together")
    with tempfile.TemporaryDirectory(prefix="wv-bench-rerun-") as td:
        tmp = Path(td)
        try:
            if args.store:
                store, campaign = copy_store(Path(args.store), tmp), args.campaign
            else:
                sites = args.sites or sum(1 for _ in open(args.registry, encoding="utf-8")) - 1
                store, campaign = build_store(tmp, sites, Path(args.registry), None)
            rules = tmp / "rules"
            shutil.copytree(ROOT / "rules", rules)
            common = ["--store", str(store), "--campaign", campaign, "--rules", str(rules)]
            full1_s, _ = windvane("extract", *common, "--full", "--workers", "1")
            full_s, _ = windvane("extract", *common, "--full")  # every core (the default)
            windvane("score", *common)  # the run before the edits (the loop starts from a scored campaign)

            edit(rules / "leaves" / RULE_FILE, RULE_OLD, RULE_NEW)
            one_extract_s, out = windvane("extract", *common)
            one_score_s, _ = windvane("score", *common)

            edit(rules / "leaves" / LEAF_FILE, LEAF_OLD, LEAF_NEW)
            w_extract_s, out_w = windvane("extract", *common)
            w_score_s, _ = windvane("score", *common)
            score_alone_s, _ = windvane("score", *common)
        except (RuntimeError, OSError) as e:
            print(f"error: could not run the bench ({e})", file=sys.stderr)
            return 2
        with sqlite3.connect(store) as conn:
            pages = conn.execute("select count(*) from pages where campaign = ?", [campaign]).fetchone()[0]
    one_s = one_extract_s + one_score_s
    weight_s = score_alone_s
    parsed = next((p.split(" ", 1)[1] for p in out.split(", ") if p.startswith("pages_parsed ")), "?")
    print(f"pages: {pages}")
    print(f"full_extract_one_process_seconds: {full1_s:.2f}")
    print(f"full_extract_seconds: {full_s:.2f} (every core)")
    print(f"one_rule_extract_seconds: {one_extract_s:.2f} (pages parsed: {parsed})")
    print(f"one_rule_score_seconds: {one_score_s:.2f}")
    print(f"one_rule_rerun_seconds: {one_s:.2f}")
    print(f"weight_only_extract_seconds: {w_extract_s:.2f} ({'no page read' if 'reused' in out_w else 'pages read'})")
    print(f"weight_only_extract_then_score_seconds: {w_extract_s + w_score_s:.2f}")
    print(f"weight_only_rerun_seconds: {weight_s:.2f} (windvane score alone; goal: under 2 s)")
    print(f"one_rule_ratio_vs_one_process: {one_s / full1_s:.3f}")
    print(f"one_rule_ratio: {one_s / full_s:.3f} (goal: at most 0.05; against the full extraction on every core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
