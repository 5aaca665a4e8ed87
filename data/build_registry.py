"""Build data/registry.csv from the researched reference tables.

The registry is the project's own copy of the 164 evaluation targets. It is
generated once from ``../shared/reference`` (or any folder with the same three
CSV files) and then reviewed and corrected in place: a researcher fixes a
value in ``data/registry.csv`` and reruns; this script is only needed to
rebuild it from new reference tables.

When OUT_CSV already exists the rebuild is a merge, so hand corrections survive:
the GDP columns (``REFERENCE_COLUMNS``: value, rank, status) come from the
reference, every other column keeps the registry's value wherever it differs
from the reference (a hand fix), rows keep the registry's order, and new
targets are appended in reference order. Every kept hand value and every
changed row is printed. ``--fresh`` ignores the existing file.

Usage: python data/build_registry.py [--fresh] [REFERENCE_DIR] [OUT_CSV]
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

COLUMNS = [
    "target_id", "group", "site_id", "name_zh", "name_en", "admin_code", "province",
    "level", "gdp_2022_yi", "gdp_rank", "gdp_status", "portal_url", "portal_confidence",
    "zwfw_url", "opendata_url", "source",
]


def _rank(rows: list[dict]) -> None:
    ordered = sorted(rows, key=lambda r: -float(r["gdp_2022_yi"] or 0))
    for i, row in enumerate(ordered, 1):
        row["gdp_rank"] = str(i)


def build(ref: Path) -> list[dict]:
    out: list[dict] = []
    with open(ref / "provinces.csv", encoding="utf-8") as fh:
        prov = list(csv.DictReader(fh))
    group = []
    for r in prov:
        group.append({
            "target_id": f"province-{r['code']}", "group": "province", "site_id": r["code"],
            "name_zh": r["name_zh"], "name_en": r["name_en"], "admin_code": r["code"],
            "province": r["name_zh"], "level": "province", "gdp_2022_yi": r["gdp_2022_yi"],
            "gdp_status": r["gdp_confidence"], "portal_url": r["portal_url"],
            "portal_confidence": r["portal_confidence"], "zwfw_url": r["zwfw_url"],
            "opendata_url": r["opendata_url"], "source": "reference/provinces.csv",
        })
    _rank(group)
    out += group
    with open(ref / "capitals.csv", encoding="utf-8") as fh:
        caps = list(csv.DictReader(fh))
    group = []
    for r in caps:
        group.append({
            "target_id": f"capital-{r['admin_code']}", "group": "capital",
            "site_id": r["admin_code"], "name_zh": r["name_zh"], "name_en": r["name_en"],
            "admin_code": r["admin_code"], "province": r["province"], "level": "city",
            "gdp_2022_yi": r["gdp_2022_yi"], "gdp_status": r["gdp_status"],
            "portal_url": r["portal_url"], "portal_confidence": r["portal_confidence"],
            "zwfw_url": "", "opendata_url": "", "source": "reference/capitals.csv",
        })
    _rank(group)
    out += group
    with open(ref / "gdp_top100_2022.csv", encoding="utf-8") as fh:
        gdp = list(csv.DictReader(fh))
    for r in gdp:
        muni = r["is_municipality"] == "yes"
        out.append({
            "target_id": f"gdp100-{r['admin_code']}", "group": "gdp100",
            "site_id": r["admin_code"], "name_zh": r["name_zh"], "name_en": r["name_en"],
            "admin_code": r["admin_code"], "province": r["province"],
            "level": "province" if muni else "city", "gdp_2022_yi": r["gdp_2022_yi"],
            "gdp_rank": r["rank"], "gdp_status": r["gdp_status"], "portal_url": r["portal_url"],
            "portal_confidence": r["portal_confidence"], "zwfw_url": "", "opendata_url": "",
            "source": "reference/gdp_top100_2022.csv",
        })
    # a government in two groups is one site: share the province row's service links
    links = {r["site_id"]: r for r in out if r["zwfw_url"] or r["opendata_url"]}
    for r in out:
        if r["site_id"] in links and not r["zwfw_url"]:
            r["zwfw_url"] = links[r["site_id"]]["zwfw_url"]
            r["opendata_url"] = links[r["site_id"]]["opendata_url"]
    return out


# the columns the reference tables own: a rebuild takes them from the reference
REFERENCE_COLUMNS = ("gdp_2022_yi", "gdp_rank", "gdp_status")


def merge(old: list[dict], new: list[dict]) -> tuple[list[dict], list[str]]:
    """Rows of ``new`` in the order of ``old``, keeping ``old``'s hand corrections.

    Returns the merged rows and one line per changed or hand-kept value.
    """
    fresh = {r["target_id"]: r for r in new}
    out: list[dict] = []
    notes: list[str] = []
    for o in old:
        n = fresh.pop(o["target_id"], None)
        if n is None:
            notes.append(f"{o['target_id']}: not in the reference; kept as it is")
            out.append({c: o.get(c, "") for c in COLUMNS})
            continue
        row = {}
        for c in COLUMNS:
            before, ref = o.get(c, ""), n.get(c, "")
            if c in REFERENCE_COLUMNS or c not in o:
                row[c] = ref
                if before != ref:
                    notes.append(f"{o['target_id']} {c}: {before!r} -> {ref!r}")
            else:
                row[c] = before
                if before != ref:
                    notes.append(f"{o['target_id']} {c}: kept hand value {before!r} (reference: {ref!r})")
        out.append(row)
    for n in fresh.values():
        notes.append(f"{n['target_id']}: new target from the reference")
        out.append(n)
    return out, notes


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    args = [a for a in argv[1:] if a != "--fresh"]
    ref = Path(args[0]) if args else here.parent.parent / "shared" / "reference"
    dest = Path(args[1]) if len(args) > 1 else here / "registry.csv"
    rows = build(ref)
    if dest.exists() and "--fresh" not in argv:
        with open(dest, encoding="utf-8", newline="") as fh:
            rows, notes = merge(list(csv.DictReader(fh)), rows)
        print("\n".join(notes))
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} targets to {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
