"""Rank-uncertainty benchmark: the Monte Carlo of ``scoring.uncertainty`` vectorised over draws.

Builds, in memory, the leaf points of the registry's 164 targets on the project's indicator tree
(random points per leaf, seeded) and times, in this process:

* ``vectorised``: ``rank_uncertainty`` with ``--draws`` draws in one call (what the report does);
* ``one_draw_calls``: the same number of draws as separate one-draw calls (seed 0, 1, 2 …): what the
  Monte Carlo would cost without numpy over the draws axis (only ``--loop-draws`` of them are timed
  and scaled up, since it is slow).

Prints ``name: value`` lines, the headline ratio last::

    python bench/uncertainty.py [--draws 1000] [--loop-draws 100] [--repeat 5]

Exits non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def synthetic_run(seed: int = 1) -> tuple[Any, Any, dict[str, str]]:
    """(tree, leaf points, groups): the project's indicator tree and the registry's 164 targets with
    random points (0 .. the leaf's points) on every applicable leaf — a run's ``leaf_frame`` shape."""
    import numpy as np
    import pandas as pd

    from evidence.registry import load_registry
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    rng = np.random.default_rng(seed)
    rows, groups = [], {}
    for t in load_registry().targets:
        groups[t.target_id] = t.group
        rows += [{"target_id": t.target_id, "leaf_id": leaf.id, "max_points": float(leaf.points),
                  "points": float(rng.integers(0, int(leaf.points) + 1))}
                 for leaf in tree.leaves if leaf.applies_to(t.group)]
    return tree, pd.DataFrame(rows), groups


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--loop-draws", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)

    from scoring.uncertainty import rank_uncertainty

    tree, leaves, groups = synthetic_run()
    rank_uncertainty(leaves, tree, groups, {"draws": 10})  # warm up imports and caches

    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rank_uncertainty(leaves, tree, groups, {"draws": args.draws})
        times.append(time.perf_counter() - start)
    vectorised = statistics.median(times)

    start = time.perf_counter()
    for seed in range(args.loop_draws):
        rank_uncertainty(leaves, tree, groups, {"draws": 1, "seed": seed})
    loop = (time.perf_counter() - start) / args.loop_draws * args.draws

    print(f"targets: {len(groups)}")
    print(f"leaves: {len(tree.leaves)}")
    print(f"draws: {args.draws}")
    print(f"vectorised_s: {vectorised:.3f}")
    print(f"vectorised_min_s: {min(times):.3f}")
    print(f"one_draw_calls_s: {loop:.3f}")
    print(f"speedup: {loop / vectorised:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
