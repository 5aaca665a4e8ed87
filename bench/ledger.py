"""Decision-ledger benchmark: what stable evidence identity costs over plain row handling.

Builds, in a temp dir, a store of a campaign's size (``--evidence`` rows over ``--pages`` pages,
``--decisions`` auditors' decisions on them) and times, in this process:

* ``reextract``: ``Store.replace_evidence`` of the same findings again (keys computed, rows upserted by
  key, findings no longer found removed: what ``windvane extract`` does) against the baseline the
  store used before stable keys: DELETE the campaign's evidence and INSERT the rows again;
* ``ledger``: ``audit.ledger.load_ledger`` (every decision applied to every item: status, history,
  QC pick, orphans, overrides) against the baseline of reading the same evidence and decision rows
  into dicts with one SELECT each.

Prints ``name: value`` lines, the headline ratio last::

    python bench/ledger.py [--evidence 35000] [--pages 8000] [--decisions 5000] [--repeat 3]

Exits non-zero only if it could not run.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

C = "bench"


def _rows(n_evidence: int, n_pages: int, rng: random.Random) -> list[dict]:
    leaves = [f"leaf_{k:02d}" for k in range(50)]
    out = []
    for k in range(n_evidence):
        page = rng.randrange(1, n_pages + 1)
        leaf = leaves[k % len(leaves)]
        out.append({"campaign": C, "site_id": f"{110000 + page % 132 * 100}", "leaf_id": leaf,
                    "rule_id": f"{leaf}.r{k % 3}", "rule_version": "v1", "page_id": page,
                    "url": f"https://www.site{page % 132}.gov.cn/art/{page}.html", "snippet": f"政务服务 {k}",
                    "start": k, "end": k + 4, "values": json.dumps({"title": "数字政府"}, ensure_ascii=False),
                    "points": None, "extracted_at": "2026-01-01T00:00:00Z"})
    return out


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evidence", type=int, default=35000)
    ap.add_argument("--pages", type=int, default=8000)
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    from audit.ledger import load_ledger, record_decision
    from evidence.registry import load_registry
    from evidence.store import Store

    rng = random.Random(2023)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.db")
        store.open_campaign(C, load_registry())
        store.conn.executemany(
            "INSERT INTO pages (id, campaign, site_id, url, sha256) VALUES (?, ?, ?, ?, ?)",
            [(p, C, "110000", f"https://www.site{p % 132}.gov.cn/art/{p}.html", f"{p:064x}")
             for p in range(1, args.pages + 1)])
        store.conn.commit()
        rows = _rows(args.evidence, args.pages, rng)
        store.replace_evidence(C, rows)

        cols = [c for c in rows[0]]

        def baseline_rewrite() -> None:
            with store.conn:
                store.conn.execute("CREATE TEMP TABLE IF NOT EXISTS plain AS SELECT * FROM evidence WHERE 0")
                store.conn.execute("DELETE FROM plain")
                store.conn.executemany(
                    f"INSERT INTO plain ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
                    f"VALUES ({', '.join('?' * len(cols))})", [[r[c] for c in cols] for r in rows])

        t_base_x = _best(baseline_rewrite, args.repeat)
        t_x = _best(lambda: store.replace_evidence(C, rows), args.repeat)

        keys = [r[0] for r in store.conn.execute("SELECT eid FROM evidence WHERE campaign = ?", [C])]
        led = load_ledger(store, C)
        for k in range(args.decisions):
            payload = {"evidence_id": keys[rng.randrange(len(keys))], "decision": "confirm" if k % 4 else "reject",
                       "reason": None if k % 4 else "outdated"}
            record_decision(store, C, f"auditor{k % 3}", payload, ledger=led)

        def baseline_read() -> None:
            conn = store.conn
            prev, conn.row_factory = conn.row_factory, sqlite3.Row
            try:
                [dict(r) for r in conn.execute("SELECT * FROM evidence WHERE campaign = ?", [C])]
                [dict(r) for r in conn.execute("SELECT * FROM decisions WHERE campaign = ?", [C])]
            finally:
                conn.row_factory = prev

        t_base_l = _best(baseline_read, args.repeat)
        t_l = _best(lambda: load_ledger(store, C), args.repeat)
        store.close()

    print(f"evidence_rows: {args.evidence}")
    print(f"decisions: {args.decisions}")
    print(f"reextract_s: {t_x:.3f}")
    print(f"reextract_baseline_s: {t_base_x:.3f}")
    print(f"reextract_ratio: {t_x / t_base_x:.2f}")
    print(f"ledger_load_s: {t_l:.3f}")
    print(f"ledger_baseline_s: {t_base_l:.3f}")
    print(f"ledger_ratio: {t_l / t_base_l:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
