"""Shared helpers of the scoring and report tests (no tests here): a small indicator tree and a real store."""

from __future__ import annotations

from dataclasses import dataclass

from evidence.registry import load_registry
from evidence.store import Store
from extractors.model import Node, Tree

ALL = ("province", "capital", "gdp100")


@dataclass
class FakeRuleset:
    """Stands in for extractors.rules.RuleSet (only .tree and .version are used)."""

    tree: Tree
    version: str = "test-1"


def small_tree() -> Tree:
    nodes = [
        Node("mgmt", "统筹管理", "Management", "index", None),
        Node("mgmt_plan", "规划计划", "Plans", "sub", "mgmt"),
        Node("digital_gov_plan", "数字政府规划", "Plan", "leaf", "mgmt_plan", points=4),
        Node("cap", "数字能力", "Capability", "index", None),
        Node("cap_portal", "门户服务", "Portal", "sub", "cap"),
        Node("hotline_12345", "12345热线", "Hotline", "leaf", "cap_portal", points=2),
        Node("service_portal_link", "政务服务网", "Service portal", "leaf", "cap_portal", points=3,
             groups=("province", "capital")),
        Node("base", "强基赋能", "Enablement", "index", None),
        Node("base_data", "数据开放", "Open data", "sub", "base"),
        Node("open_data_link", "数据开放平台", "Open data link", "leaf", "base_data", points=3),
        Node("sec", "安全规制", "Security", "index", None),
        Node("sec_reg", "安全制度", "Regulation", "sub", "sec"),
        Node("data_security_regulation", "数据安全法规", "Regulation", "leaf", "sec_reg", points=4),
        Node("app", "应用成效", "Results", "index", None),
        Node("app_interp", "政策解读", "Interpretation", "sub", "app"),
        Node("policy_interpretation", "政策解读链接", "Interpretation link", "leaf", "app_interp", points=2),
    ]
    return Tree({n.id: n for n in nodes}, [n.id for n in nodes])


def make_store(path, campaign: str = "2023", status: str | None = "done") -> Store:
    """A store with the registry's campaign; every site's crawl status set to ``status`` (as if the
    crawler had finished: a site never crawled, status NULL, is not assessed)."""
    store = Store(path)
    store.open_campaign(campaign, load_registry())
    if status is not None:
        store.conn.execute("update sites set status = ? where campaign = ?", [status, campaign])
        store.conn.commit()
    return store


def add_evidence(store: Store, campaign: str, rows: list[tuple]) -> list[str]:
    """Store evidence rows (site_id, leaf_id, points[, url]) the way extraction does and return their
    stable keys (audit/ledger.py), in order."""
    recs = []
    for k, row in enumerate(rows):
        site, leaf, points = row[:3]
        url = row[3] if len(row) > 3 else f"https://{site}.example.gov.cn/{leaf}/{k}.html"
        recs.append({"campaign": campaign, "site_id": site, "leaf_id": leaf, "rule_id": f"{leaf}.r1",
                     "page_id": 1000 + k, "url": url, "snippet": f"snippet {leaf} {site}", "start": k,
                     "end": k + 5, "points": points, "page_sha256": f"sha-{k}"})
    store.replace_evidence(campaign, recs)
    by_start = {(r["start"], r["rule_id"]): r["eid"] for r in store.evidence(campaign)}
    return [by_start[(k, f"{row[1]}.r1")] for k, row in enumerate(rows)]


def decide(store: Store, campaign: str, evidence_id: str | None, decision: str, site_id: str | None = None,
           leaf_id: str | None = None, url: str | None = None, **extra) -> dict:
    """Record a decision through the ledger, as the audit application does (who = tester)."""
    from audit.ledger import record_decision

    payload = {"decision": decision, **extra}
    if evidence_id is not None:
        payload["evidence_id"] = evidence_id
    if decision == "reject":
        payload.setdefault("reason", "wrong_page")
    if decision in ("add", "override"):
        tid = next(r["target_id"] for r in store.db.query(
            "select target_id from targets where campaign = ? and site_id = ? order by rowid", [campaign, site_id]))
        payload.update({"target_id": extra.get("target_id", tid), "leaf_id": leaf_id, "url": url,
                        "snippet": "manual snippet"})
    return record_decision(store, campaign, "tester", payload)
