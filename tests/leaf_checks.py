"""What the pipeline extracted for a group of leaves, against the simulated web's truth.

Used by the per-group leaf test files on the session-wide full campaign (tests/conftest.py).
A site "has" a leaf in the pipeline when an evidence row worth points exists for it (a 0-point
row only says why a leaf is not met). Sites the simulated web blocks or makes unreachable on
purpose (truth ``access`` with another expected status than ``done``) are not assessed and
left out: their leaves cannot be seen by any crawler.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evidence.store import Store

PRECISION, RECALL, EVIDENCE_PRECISION = 0.98, 0.95, 0.98  # the campaign bars, per leaf


def assessed(truth: dict, sites: list[str]) -> list[str]:
    """The sites a crawler can assess (not blocked or unreachable by design)."""
    out = []
    for s in sites:
        access = truth["sites"][s].get("access") or {}
        if access.get("expect_status", "done") == "done":
            out.append(s)
    return out


@dataclass
class LeafCheck:
    leaf_id: str
    found_present: list[str] = field(default_factory=list)  # truth present, pipeline found (tp)
    missed: list[str] = field(default_factory=list)  # truth present, pipeline found nothing (fn)
    found_absent: list[str] = field(default_factory=list)  # truth absent, pipeline found (fp)
    quiet_absent: list[str] = field(default_factory=list)  # truth absent, pipeline found nothing (tn)
    rows: int = 0  # evidence rows worth points on sites where the leaf is present
    rows_on_truth_pages: int = 0
    trap_pages: int = 0  # trap pages of the leaf that were crawled
    trap_pages_with_evidence: list[str] = field(default_factory=list)

    def problems(self, always_present: bool = False) -> list[str]:
        """What is wrong; ``always_present``: every site has the leaf (no absent site to check)."""
        out = []
        tp, fn, fp = len(self.found_present), len(self.missed), len(self.found_absent)
        if not tp:
            out.append(f"{self.leaf_id}: found on none of the {fn} sites that have it")
        if not self.quiet_absent and not always_present:
            out.append(f"{self.leaf_id}: no site without the leaf was left without evidence "
                       f"({fp} false positives) — or the truth has no such site, and the check is empty")
        if tp + fn and tp / (tp + fn) < RECALL:
            out.append(f"{self.leaf_id}: recall {tp}/{tp + fn}; missed {self.missed}")
        if tp + fp and tp / (tp + fp) < PRECISION:
            out.append(f"{self.leaf_id}: precision {tp}/{tp + fp}; found where absent {self.found_absent}")
        if self.rows and self.rows_on_truth_pages / self.rows < EVIDENCE_PRECISION:
            out.append(f"{self.leaf_id}: only {self.rows_on_truth_pages}/{self.rows} evidence rows on the truth's pages")
        if self.trap_pages and len(self.trap_pages_with_evidence) / self.trap_pages > 1 - PRECISION:
            out.append(f"{self.leaf_id}: evidence on {len(self.trap_pages_with_evidence)}/{self.trap_pages} trap pages: "
                       f"{self.trap_pages_with_evidence[:5]}")
        return out


def check_leaves(store_path: str, campaign: str, truth: dict, sites: list[str], leaves: list[str]) -> dict[str, LeafCheck]:
    """Compare the campaign's evidence for ``leaves`` on ``sites`` with the truth, site by site and page by page."""
    checks = {leaf: LeafCheck(leaf) for leaf in leaves}
    wanted = set(leaves)
    found: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
    with Store(store_path) as st:
        for sid, leaf, url, final in st.conn.execute(
                "select e.site_id, e.leaf_id, e.url, p.final_url from evidence e left join pages p on p.id = e.page_id "
                "where e.campaign = ? and (e.points is null or e.points > 0)", [campaign]):
            if leaf in wanted:
                found.setdefault((sid, leaf), []).append((url, final))
        crawled = {}
        for s in sites:
            crawled[s] = {u for row in st.conn.execute(
                "select url, final_url from pages where campaign = ? and site_id = ?", [campaign, s]) for u in row if u}
    for s in sites:
        for leaf in leaves:
            t = truth["sites"][s]["leaves"][leaf]
            c, ev = checks[leaf], found.get((s, leaf), [])
            if t["present"]:
                (c.found_present if ev else c.missed).append(s)
                urls = set(t["urls"])
                c.rows += len(ev)
                c.rows_on_truth_pages += sum(1 for u, f in ev if u in urls or f in urls)
            else:
                (c.found_absent if ev else c.quiet_absent).append(s)
            traps = set(t.get("traps", [])) - set(t["urls"])
            hit = {u for pair in ev for u in pair if u}
            for trap in traps & crawled[s]:
                c.trap_pages += 1
                if trap in hit:
                    c.trap_pages_with_evidence.append(trap)
    return checks
