"""Stable evidence identity and the append-only decision ledger (audit/ledger.py), on a real store:
real pages in a real WARC, real extraction with the project's rules, a rule edit, re-extraction."""

from __future__ import annotations

import http.server
import io
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
import yaml
from test_extract import hangzhou_campaign

from audit.ledger import (
    DecisionError,
    approved_evidence_csv,
    cohen_kappa,
    decisions_csv,
    load_ledger,
    record_decision,
    set_qc_share,
)
from evidence.identity import evidence_key
from evidence.store import Store
from evidence.warc import read_record
from extractors.rules import load_rules
from extractors.run import extract
from scoring.run import run_decisions, score
from tests.conftest import rule_member

ROOT = Path(__file__).resolve().parent.parent
C = "c"
HZ = "https://www.hangzhou.gov.cn"
TARGET = "capital-330100"


@pytest.fixture
def world(tmp_path):
    """A store with two archived Hangzhou pages, extracted with a copy of the project's rules."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = Store(tmp_path / "w.db")
    hangzhou_campaign(store, C).close()
    extract(store, C, load_rules(rules))
    yield {"store": store, "rules": rules}
    store.close()


def _first(led, rule_id):
    return next(i for i in sorted(led.items.values(), key=lambda i: i.row_id or 0) if i.rule_id == rule_id)


def _edit_rule(rules: Path, leaf: str, rule_id: str, change) -> None:
    path = rules / "leaves" / f"{leaf}.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    rule = next(r for r in spec["rules"] if r["id"] == rule_id)
    change(rule)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")


def test_keys_are_what_the_finding_is():
    a = evidence_key("c", "r.1", "https://x.gov.cn/", "abc", 10)
    assert a == evidence_key("c", "r.1", "https://x.gov.cn/", "abc", 10) and a.startswith("ev_")
    # any part of what the finding is changes the key: campaign, rule, page, page content, position
    others = {evidence_key("d", "r.1", "https://x.gov.cn/", "abc", 10), evidence_key("c", "r.2", "https://x.gov.cn/", "abc", 10),
              evidence_key("c", "r.1", "https://y.gov.cn/", "abc", 10), evidence_key("c", "r.1", "https://x.gov.cn/", "abd", 10),
              evidence_key("c", "r.1", "https://x.gov.cn/", "abc", 11)}
    assert a not in others and len(others) == 5
    # without an offset the normalised snippet anchors it
    assert evidence_key("c", "r", "u", "h", None, "数据  开放\n平台") == evidence_key("c", "r", "u", "h", None, "数据 开放 平台")


def test_decisions_survive_a_rule_edit_and_orphans_are_never_reapplied(world):
    store, rules = world["store"], world["rules"]
    led = load_ledger(store, C)
    hot = _first(led, "hotline_12345.text")
    od = _first(led, "open_data_link.labelled")
    acc = _first(led, "accessibility_mode.control")
    d_hot = record_decision(store, C, "alice", {"evidence_id": hot.id, "decision": "confirm"})
    d_od = record_decision(store, C, "alice", {"evidence_id": od.id, "decision": "reject", "reason": "outdated",
                                               "note": "平台已下线"})
    d_acc = record_decision(store, C, "alice", {"evidence_id": acc.id, "decision": "confirm"})
    assert d_hot["evidence_id"] == hot.id and d_od["reason"] == "outdated" and d_acc["who"] == "alice"
    before = {i.id: (i.row_id, i.rule_version) for i in load_ledger(store, C).items.values()}

    # edit one rule's wording (its version changes, its findings stay) and make another find nothing
    _edit_rule(rules, "hotline_12345", "hotline_12345.text",
               lambda r: rule_member(r["match"], "text").update(near=rule_member(r["match"], "text")["near"] + "|服务专线|来电"))
    _edit_rule(rules, "accessibility_mode", "accessibility_mode.control",
               lambda r: r.update(match={"text": {"pattern": "永远不会出现的字样ZZZ"}},
                                  examples={"match": ["<p>永远不会出现的字样ZZZ</p>"], "no_match": ["<p>无障碍</p>"]}))
    extract(store, C, load_rules(rules))

    led2 = load_ledger(store, C)
    assert led2.items[hot.id].status == "confirmed" and led2.items[hot.id].decision["id"] == d_hot["id"]
    assert led2.items[od.id].status == "rejected" and led2.items[od.id].decision["reason"] == "outdated"
    assert led2.items[hot.id].rule_version != before[hot.id][1]  # same finding, edited rule
    assert led2.items[hot.id].row_id == before[hot.id][0]        # even the row is kept
    # the accessibility finding is gone: its decision is orphaned, shown with what it was about
    assert acc.id not in led2.items
    assert [(o["id"], o["rule_id"], o["url"]) for o in led2.orphans] == [(d_acc["id"], acc.rule_id, acc.url)]
    assert all(i.decision is None or i.decision["id"] != d_acc["id"] for i in led2.items.values())
    # every finding still found kept its key; only the edited-away rule's findings disappeared
    gone = set(before) - set(led2.items)
    assert gone and all(k.startswith("ev_") for k in gone)
    assert {load_ledger(store, C).items.get(k) for k in gone} == {None}
    assert all(before[k][0] == led2.items[k].row_id for k in before if k in led2.items)


def test_decisions_are_append_only(world):
    store = world["store"]
    item = _first(load_ledger(store, C), "hotline_12345.text")
    d = record_decision(store, C, "alice", {"evidence_id": item.id, "decision": "confirm"})
    for sql in ("UPDATE decisions SET decision = 'reject' WHERE id = ?", "DELETE FROM decisions WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute(sql, [d["id"]])
    # undo is a new decision; the undone row stays
    u = record_decision(store, C, "alice", {"decision": "undo", "undoes": d["id"]})
    led = load_ledger(store, C)
    assert led.items[item.id].status == "unreviewed" and len(led.decisions) == 2
    assert [h["id"] for h in led.items[item.id].history] == [d["id"]] and led.items[item.id].history[0]["undone"]
    with pytest.raises(DecisionError) as e:
        record_decision(store, C, "alice", {"decision": "undo", "undoes": u["id"]})
    assert e.value.status == 409
    with pytest.raises(DecisionError) as e:
        record_decision(store, C, "alice", {"decision": "undo", "undoes": d["id"]})
    assert e.value.status == 409


@pytest.mark.parametrize("payload,status", [
    ({"decision": "maybe"}, 400),
    ({"decision": "confirm", "evidence_id": "ev_nope"}, 404),
    ({"decision": "reject", "evidence_id": None}, 404),
    ({"decision": "override", "target_id": TARGET, "leaf_id": "hotline_12345", "points": "x", "reason": "r"}, 400),
    ({"decision": "override", "target_id": TARGET, "leaf_id": "hotline_12345", "points": 1}, 400),
    ({"decision": "override", "target_id": "capital-999999", "leaf_id": "hotline_12345", "points": 1, "reason": "r"}, 404),
    ({"decision": "add", "target_id": TARGET, "leaf_id": "hotline_12345", "url": "javascript:alert(1)"}, 400),
])
def test_bad_decisions_are_refused_with_a_status(world, payload, status):
    with pytest.raises(DecisionError) as e:
        record_decision(world["store"], C, "alice", payload)
    assert e.value.status == status
    assert load_ledger(world["store"], C).decisions == []


def test_reject_needs_a_reason_code(world):
    store = world["store"]
    item = _first(load_ledger(store, C), "hotline_12345.text")
    with pytest.raises(DecisionError, match="reason"):
        record_decision(store, C, "alice", {"evidence_id": item.id, "decision": "reject"})


def test_scoring_applies_decisions_and_records_them(world):
    store = world["store"]
    rs = load_rules(world["rules"])
    r0 = score(store, C, rs, run_id="r0")
    leaf = {s["node_id"]: s for s in store.scores(r0) if s["target_id"] == TARGET}
    assert leaf["hotline_12345"]["points"] == leaf["hotline_12345"]["machine_points"] > 0
    led = load_ledger(store, C)
    # reject every open-data finding → the leaf falls to 0; override the hotline leaf to 1; add a hand-found
    # digital-government plan elsewhere (the leaf already scores; the addition is recorded and applied)
    for i in led.items.values():
        if i.leaf_id == "open_data_link":
            record_decision(store, C, "alice", {"evidence_id": i.id, "decision": "reject", "reason": "wrong_target"})
    ov = record_decision(store, C, "alice", {"decision": "override", "target_id": TARGET, "leaf_id": "hotline_12345",
                                             "points": 1, "reason": "only a phone number"})
    r1 = score(store, C, rs, run_id="r1")
    leaf1 = {s["node_id"]: s for s in store.scores(r1) if s["target_id"] == TARGET}
    assert leaf1["open_data_link"]["points"] == 0 and leaf1["open_data_link"]["machine_points"] > 0
    assert leaf1["hotline_12345"]["points"] == 1
    total0 = next(s["points"] for s in store.scores(r0) if s["target_id"] == TARGET and s["node_id"] == "total")
    total1 = next(s["points"] for s in store.scores(r1) if s["target_id"] == TARGET and s["node_id"] == "total")
    assert total1 == total0 - leaf["open_data_link"]["points"] - (leaf["hotline_12345"]["points"] - 1)
    used = run_decisions(store, r1)
    assert ov["id"] in {u["decision_id"] for u in used}
    assert {u["decision"] for u in used} == {"reject", "override"}
    assert "1 leaf override(s)" in store.run("r1")["notes"]
    # undoing the override gives the machine's points back
    record_decision(store, C, "bob", {"decision": "undo", "undoes": ov["id"]})
    r2 = score(store, C, rs, run_id="r2")
    assert next(s for s in store.scores(r2) if s["target_id"] == TARGET and s["node_id"] == "hotline_12345")["points"] \
        == leaf["hotline_12345"]["points"]
    assert ov["id"] not in {u["decision_id"] for u in run_decisions(store, r2)}


def test_qc_is_blind_second_auditor_and_kappa(world):
    store = world["store"]
    set_qc_share(store, 1.0)
    led = load_ledger(store, C)
    items = sorted(led.items.values(), key=lambda i: i.row_id)[:6]
    for k, i in enumerate(items):
        record_decision(store, C, "alice", {"evidence_id": i.id, "decision": "confirm" if k % 3 else "reject",
                                            "reason": None if k % 3 else "draft"})
    led = load_ledger(store, C)
    assert {i.id for i in led.qc_queue("bob")} == {i.id for i in items}
    assert led.qc_queue("alice") == []  # the first reviewer never QCs her own items
    with pytest.raises(DecisionError) as e:
        record_decision(store, C, "alice", {"evidence_id": items[1].id, "decision": "confirm", "role": "qc"})
    assert e.value.status == 409
    # bob agrees on all but one
    for k, i in enumerate(items):
        verdict = "confirm" if k % 3 else "reject"
        if k == 1:
            verdict = "reject"
        record_decision(store, C, "bob", {"evidence_id": i.id, "decision": verdict, "role": "qc",
                                          "reason": "other" if verdict == "reject" else None})
    led = load_ledger(store, C)
    assert [i.id for i in led.disagreements()] == [items[1].id]
    assert led.items[items[1].id].status == "confirmed"  # QC does not change scores until resolved
    k = led.kappa_by_leaf()["all"]
    pairs = [("reject", "reject"), ("confirm", "reject")] + [("confirm", "confirm")] * 2 + [("reject", "reject")] + \
        [("confirm", "confirm")]
    assert k["n"] == 6 and k["agreements"] == 5 and k["kappa"] == pytest.approx(cohen_kappa(pairs))
    # a resolution settles it
    record_decision(store, C, "carol", {"evidence_id": items[1].id, "decision": "reject", "role": "resolve",
                                        "reason": "wrong_page"})
    led = load_ledger(store, C)
    assert led.disagreements() == [] and led.items[items[1].id].status == "rejected"


def test_cohen_kappa_known_values():
    # 20 items: both say yes on 10, both no on 5, raters differ on 5 (2 + 3) → po .75, pe .5 → κ .5
    pairs = [("y", "y")] * 10 + [("n", "n")] * 5 + [("y", "n")] * 3 + [("n", "y")] * 2
    assert cohen_kappa(pairs) == pytest.approx((0.75 - (13 / 20 * 12 / 20 + 7 / 20 * 8 / 20)) /
                                               (1 - (13 / 20 * 12 / 20 + 7 / 20 * 8 / 20)))
    assert cohen_kappa([]) is None and cohen_kappa([("y", "y")] * 3) is None


def test_legacy_row_id_decisions_map_only_when_safe(world):
    store = world["store"]
    item = _first(load_ledger(store, C), "hotline_12345.text")
    other = _first(load_ledger(store, C), "open_data_link.labelled")
    # a decision from before stable keys names a row id; made after the row was extracted → that row
    store.conn.execute("insert into decisions (campaign, evidence_id, decision, who, at) values (?, ?, 'reject', 'old', ?)",
                       [C, item.row_id, "2999-01-01T00:00:00Z"])
    # made before the row existed (the ids were reassigned by a later extraction) → orphaned, never applied
    store.conn.execute("insert into decisions (campaign, evidence_id, decision, who, at) values (?, ?, 'reject', 'old', ?)",
                       [C, other.row_id, "2000-01-01T00:00:00Z"])
    store.conn.commit()
    led = load_ledger(store, C)
    assert led.items[item.id].status == "rejected"
    assert led.items[other.id].status == "unreviewed"
    assert [o["legacy_evidence_id"] for o in led.orphans] == [other.row_id]


class _Page(http.server.BaseHTTPRequestHandler):
    BODY = "<html><head><title>杭州市数据开放</title></head><body><p>手工找到的证据：公共数据开放平台</p></body></html>".encode()

    def do_GET(self):  # noqa: N802
        if self.path == "/missing":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *a):
        pass


def test_added_evidence_is_archived_on_the_spot_and_exported(world):
    store = world["store"]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/od.html"
        d = record_decision(store, C, "alice", {"decision": "add", "target_id": TARGET, "leaf_id": "open_data_link",
                                                "url": url, "note": "found by hand", "file_name": "../../evil.pdf",
                                                "file_bytes": b"%PDF-1.4 hand"})
        bad = record_decision(store, C, "alice", {"decision": "add", "target_id": TARGET, "leaf_id": "open_data_link",
                                                  "url": url.replace("od.html", "missing")})
    finally:
        srv.shutdown()
    assert d["archived"] and d["evidence_id"].startswith("man_") and not d["archive_error"]
    assert bad["archived"] is None and "404" in bad["archive_error"]
    page = store.page(d["archived"])
    assert page["kind"] == "manual" and "公共数据开放平台" in page["text"]
    _uri, _h, body = read_record(store.campaign_dir(C) / "warc", page["warc_file"], page["warc_offset"])
    assert body == _Page.BODY
    # the uploaded file stays inside the campaign folder, whatever its name said
    kept = (store.campaign_dir(C) / d["file"]).resolve()
    assert kept.is_relative_to(store.campaign_dir(C).resolve()) and kept.read_bytes() == b"%PDF-1.4 hand"
    led = load_ledger(store, C)
    assert led.items[d["evidence_id"]].manual and led.items[d["evidence_id"]].page_id == page["id"]

    # exports: all decisions; approved evidence of the published run only
    rs = load_rules(world["rules"])
    confirm_me = _first(led, "hotline_12345.text")
    record_decision(store, C, "alice", {"evidence_id": confirm_me.id, "decision": "confirm"})
    record_decision(store, C, "alice", {"evidence_id": d["evidence_id"], "decision": "confirm"})
    score(store, C, rs, run_id="pub")
    buf = io.StringIO()
    assert decisions_csv(store, C, buf) == 4
    assert buf.getvalue().splitlines()[0].startswith("id,at,who,role,decision,evidence_id")
    buf = io.StringIO()
    n = approved_evidence_csv(store, C, "pub", buf)
    lines = buf.getvalue().splitlines()
    assert n == len(lines) - 1 >= 2
    assert any(confirm_me.id in ln for ln in lines) and any(d["evidence_id"] in ln for ln in lines)
    led = load_ledger(store, C)
    assert not any(i.id in ln for ln in lines for i in led.items.values() if i.status == "unreviewed")


def test_exported_cells_never_run_as_spreadsheet_formulas(world):
    store = world["store"]
    item = _first(load_ledger(store, C), "hotline_12345.text")
    record_decision(store, C, "alice", {"evidence_id": item.id, "decision": "reject", "reason": "other",
                                        "note": "=HYPERLINK(\"http://evil\")"})
    buf = io.StringIO()
    decisions_csv(store, C, buf)
    import csv
    row = list(csv.DictReader(io.StringIO(buf.getvalue())))[0]
    assert row["note"] == "'=HYPERLINK(\"http://evil\")"


def test_an_orphan_names_its_likely_successor_and_can_be_carried_over(world):
    store = world["store"]
    item = _first(load_ledger(store, C), "hotline_12345.text")
    d = record_decision(store, C, "alice", {"evidence_id": item.id, "decision": "reject", "reason": "wrong_page"})
    # a rule edit that moves the match's start (e.g. a pattern widened to the left): same rule, same page,
    # an overlapping span — a new finding, so the decision is orphaned, and the new finding is named
    rows = [dict(r) for r in store.evidence(C)]
    for r in rows:
        r.pop("id")
        r.pop("eid")
        r.pop("first_seen")
        if r["rule_id"] == item.rule_id and r["start"] == item.start:
            r["start"] -= 2
            r["snippet"] = "热线" + r["snippet"]
    store.replace_evidence(C, rows)
    led = load_ledger(store, C)
    (orphan,) = led.orphans
    assert orphan["id"] == d["id"] and len(orphan["candidates"]) == 1
    new = led.items[orphan["candidates"][0]]
    assert new.id != item.id and new.start == item.start - 2 and new.status == "unreviewed"  # never applied by itself
    # carrying it over is a new decision by a person
    record_decision(store, C, "alice", {"evidence_id": new.id, "decision": "reject", "reason": "wrong_page",
                                        "note": f"carried over from decision #{d['id']}"})
    led = load_ledger(store, C)
    assert led.items[new.id].status == "rejected" and led.orphans[0]["carried_over_to"] == [new.id]
