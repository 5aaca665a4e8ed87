"""The scorers' loop: edit one rule or one weight, rerun, and see exactly what moved and why.

A real store (SQLite + WARC) of two portals, 杭州 and 宁波 (both in the capital and GDP-100
groups), with archived pages; the project's rules copied to a temp folder and edited there.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3

import pytest
from test_extract import _add_page, _registry_subset

from evidence.store import Store
from evidence.warc import WarcArchive
from extractors.rules import load_rules
from extractors.run import extract
from scoring.diff import run_diff, write_diff
from scoring.run import score
from scoring.runs import describe_run, list_runs, run_evidence
from tests.conftest import ROOT

C = "r2023"
HZ, NB = "https://www.hangzhou.gov.cn", "https://www.ningbo.gov.cn"
RULE = "online_interview.dated_interview"


def _page(title: str, body: str) -> bytes:
    return (f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>"
            f"<div class='header'><a href='/'>首页</a> <a href='/col/zwgk/'>政务公开</a></div>"
            f"<div class='article'>{body}</div>"
            f"<div class='footer'>主办：人民政府办公厅 <a href='http://12345.gov.cn/'>12345政务服务便民热线</a></div>"
            f"</body></html>").encode()


@pytest.fixture()
def world(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    store = Store(tmp_path / "s.db")
    store.open_campaign(C, _registry_subset("330100", "330200"), as_of="2023-10-31")
    store.conn.execute("update sites set status = 'done' where campaign = ?", [C])
    store.conn.commit()
    archive = WarcArchive(store.campaign_dir(C) / "warc", C)
    for site, base in (("330100", HZ), ("330200", NB)):
        _add_page(store, archive, C, site, base + "/", _page("人民政府门户网站", "<p>今日要闻</p>"), encoding="utf-8")
        for n in range(3):
            _add_page(store, archive, C, site, f"{base}/art/2023/5/{n + 1}/art_{n}.html",
                      _page(f"关于做好第{n}批政务公开工作的通知", f"<p>第{n}批工作要点。发布日期：2023-05-0{n + 1}</p>"),
                      encoding="utf-8")
    # 杭州: an interview page the rule reads as one; 宁波: an interview page titled in a way it does not know
    _add_page(store, archive, C, "330100", HZ + "/art/2023/9/12/art_9.html",
              _page("【在线访谈】市医保局局长谈医疗保障制度改革", "<p>访谈时间：2023年09月12日 10:00</p><p>主持人：欢迎收看。</p>"),
              encoding="utf-8")
    _add_page(store, archive, C, "330200", NB + "/art/2023/9/15/art_7.html",
              _page("【访谈回顾】市数据局局长谈公共数据开放", "<p>访谈时间：2023年09月15日 15:00</p><p>主持人：欢迎收看。</p>"),
              encoding="utf-8")
    archive.close()
    yield {"store": store, "rules": rules, "tmp": tmp_path}
    store.close()


def _evidence(store: Store) -> dict[str, tuple]:
    return {r["eid"]: (r["id"], r["rule_id"], r["url"], r["first_seen"], r["rule_version"])
            for r in store.evidence(C)}


def test_one_rule_edit_recomputes_that_rule_and_the_diff_explains_the_move(world):
    store, rules = world["store"], world["rules"]
    first = extract(store, C, load_rules(rules))
    assert first["mode"].startswith("full")
    before = score(store, C, load_rules(rules), run_id="before")
    kept_scores = sorted(map(tuple, (r.values() for r in store.scores(before))))
    kept_evidence = run_evidence(store, before)
    ev0 = _evidence(store)
    assert not any(rule == RULE and "ningbo" in url for _id, rule, url, *_ in ev0.values())

    # widen one keyword of one rule: 访谈回顾 becomes an interview title
    leaf = rules / "leaves" / "online_interview.yaml"
    text = leaf.read_text(encoding="utf-8")
    assert "pattern: '在线访谈|访谈实录|" in text
    leaf.write_text(text.replace("pattern: '在线访谈|访谈实录|", "pattern: '在线访谈|访谈回顾|访谈实录|"), encoding="utf-8")
    rs = load_rules(rules)
    again = extract(store, C, rs)
    assert again["mode"] == "incremental"
    assert again["rules_recomputed"] == f"1 ({RULE})" and again["rules_reused"] == len(rs.rules) - 1
    assert again["sites_recomputed"].startswith("0 ")
    assert again["pages_parsed"] < again["pages"]  # pages without an interview word are not even parsed

    ev1 = _evidence(store)
    # only that rule's evidence changed: every other finding kept its key, row, first_seen and version
    others0 = {k: v for k, v in ev0.items() if v[1] != RULE}
    others1 = {k: v for k, v in ev1.items() if v[1] != RULE}
    assert others0 == others1
    new = [v for k, v in ev1.items() if k not in ev0]
    assert [(rule, url) for _id, rule, url, *_ in new] == [(RULE, NB + "/art/2023/9/15/art_7.html")]
    # the incremental result is exactly what a full extraction gives
    extract(store, C, rs, full=True)
    assert set(_evidence(store)) == set(ev1)

    after = score(store, C, rs, run_id="after")
    d = run_diff(store, before, after)
    assert [e["rule_id"] for e in d.rule_edits] == [RULE] and d.rule_edits[0]["change"] == "edited"
    assert not d.weight_edits
    moved = {t.target_id: t for t in d.targets}
    # 宁波 moved up to share rank 1 with 杭州, whose points and rank did not change (so it is not listed)
    assert set(moved) == {"capital-330200", "gdp100-330200"}
    nb = moved["capital-330200"]
    assert nb.kind == "own" and nb.rank_a == 2 and nb.rank_b == 1 and nb.score_b > nb.score_a
    (lc,) = nb.leaves
    assert lc.leaf_id == "online_interview" and (lc.points_a, lc.points_b) == (0, 1)
    assert [(e["rule_id"], e["url"]) for e in lc.added] == [(RULE, NB + "/art/2023/9/15/art_7.html")]
    assert "访谈回顾" in lc.added[0]["snippet"]

    # the diff as text, CSV and HTML (windvane diff)
    paths = write_diff(store, before, after, world["tmp"] / "diff")
    txt = paths["text"].read_text(encoding="utf-8")
    assert f"rule {RULE}: edited" in txt and "capital-330200 宁波市: total" in txt and "rank 2 -> 1" in txt
    assert "+ ev_" in txt and NB + "/art/2023/9/15/art_7.html" in txt
    with open(paths["csv"], encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    ev_rows = [r for r in rows if r["row"] == "evidence"]
    assert {(r["target_id"], r["evidence"], r["rule_id"]) for r in ev_rows} == {
        ("capital-330200", "added", RULE), ("gdp100-330200", "added", RULE)}
    assert any(r["row"] == "rule edit" and r["rule_id"] == RULE for r in rows)
    assert "访谈回顾" in paths["html"].read_text(encoding="utf-8")

    # the earlier run's stored results are unchanged, and cannot be changed
    assert sorted(map(tuple, (r.values() for r in store.scores(before)))) == kept_scores
    assert run_evidence(store, before) == kept_evidence
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.conn.execute("UPDATE scores SET points = 9 WHERE run_id = 'before'")
    with pytest.raises(sqlite3.IntegrityError, match="immutable"):
        store.conn.execute("DELETE FROM run_evidence WHERE run_id = 'before'")


def test_weight_only_edit_reads_no_page_and_the_diff_names_the_weight(world):
    store, rules = world["store"], world["rules"]
    extract(store, C, load_rules(rules))
    a = score(store, C, load_rules(rules), run_id="a")
    leaf = rules / "leaves" / "hotline_12345.yaml"
    text = leaf.read_text(encoding="utf-8")
    assert "\npoints: 2\n" in text
    leaf.write_text(text.replace("\npoints: 2\n", "\npoints: 3\n", 1), encoding="utf-8")
    rs = load_rules(rules)
    again = extract(store, C, rs)
    assert again["mode"].startswith("reused") and again["pages"] == 0 and again["findings"] == 0
    b = score(store, C, rs, run_id="b")
    d = run_diff(store, a, b)
    assert d.rule_edits == []
    assert {(e["node_id"], e["what"], e["a"], e["b"]) for e in d.weight_edits} == {("hotline_12345", "points", 2.0, 3.0)}
    # the max points of every target grew by one: each target is listed with its new total
    assert {t.max_b - t.max_a for t in d.targets if t.kind == "own"} == {1.0}

    shown = describe_run(store, b)
    assert shown["weights"]["hotline_12345"] == 3.0 and shown["rules"] == len(rs.rules)
    assert shown["as_of"] == "2023-10-31" and shown["created_by"]
    listed = {r["run_id"]: r for r in list_runs(store)}
    assert set(listed) == {"a", "b"} and listed["b"]["evidence"] == listed["a"]["evidence"] > 0


def test_new_or_changed_pages_rerun_every_rule_on_their_site_only(world):
    store, rules = world["store"], world["rules"]
    rs = load_rules(rules)
    extract(store, C, rs)
    ev0 = _evidence(store)
    archive = WarcArchive(store.campaign_dir(C) / "warc", C)
    _add_page(store, archive, C, "330200", NB + "/art/2023/10/1/art_8.html",
              _page("【在线访谈】市长谈营商环境", "<p>访谈时间：2023年10月01日</p>"), encoding="utf-8")
    archive.close()
    again = extract(store, C, rs)
    assert again["mode"] == "incremental" and again["rules_recomputed"] == "0"
    assert again["sites_recomputed"] == "1 (1 new, changed or gone pages)"
    ev1 = _evidence(store)
    hz0 = {k: v for k, v in ev0.items() if "hangzhou" in v[2]}
    assert hz0 == {k: v for k, v in ev1.items() if "hangzhou" in v[2]}  # the other site untouched
    assert any(v[1] == RULE and v[2].endswith("art_8.html") for v in ev1.values())
    extract(store, C, rs, full=True)
    assert set(_evidence(store)) == set(ev1)


def test_cli_runs_and_diff(world, cli):
    store, rules = world["store"], world["rules"]
    extract(store, C, load_rules(rules))
    score(store, C, load_rules(rules), run_id="one")
    score(store, C, load_rules(rules), run_id="two")
    db = str(store.path)
    out = cli("runs", "list", "--store", db, check=True).stdout
    assert "one" in out and "two" in out and "2023-10-31" in out
    out = cli("runs", "show", "one", "--store", db, check=True).stdout
    assert "run one" in out and "rules with their hashes kept" in out and "evidence counted" in out
    taken = cli("score", "--store", db, "--rules", str(rules), "--run", "one")
    assert taken.returncode != 0 and "immutable" in taken.stderr and "Traceback" not in taken.stderr
    out = cli("diff", "one", "two", "--store", db, "--out", str(world["tmp"] / "d"), check=True).stdout
    assert "no target's scores, ranks or evidence changed" in out
    assert (world["tmp"] / "d" / "diff-one-two.csv").exists()
    # the loop in one command: edit a rule, `windvane rerun` extracts what changed, scores, says what moved
    leaf = rules / "leaves" / "online_interview.yaml"
    leaf.write_text(leaf.read_text(encoding="utf-8").replace("pattern: '在线访谈|访谈实录|",
                                                             "pattern: '在线访谈|访谈回顾|访谈实录|"), encoding="utf-8")
    out = cli("rerun", "--store", db, "--rules", str(rules), "--run", "three", check=True).stdout
    assert "mode incremental" in out and f"rule {RULE}: edited" in out
    assert "capital-330200 宁波市: total" in out and NB + "/art/2023/9/15/art_7.html" in out


def test_the_prefilter_never_skips_a_page_a_rule_matches(rs):
    """Every 'must match' example of every rule in rules/ (the pages rule authors wrote down, real
    portal markup among them) passes the prefilter, from its kept haystacks and from its raw body."""
    from extractors import incremental as inc
    from extractors.engine import parse_html, parse_text

    checked = 0
    for rule in rs.rules:
        req = inc.compile_requirement(inc.rule_words(rule.matcher))
        if req is None:
            continue
        for ex in rule.examples:
            if not ex.expect:
                continue
            doc = parse_html(ex.content, ex.url) if ex.is_html else parse_text(ex.content, ex.url)
            kept = inc.open_haystacks(dict(zip(("text", "labels", "title"), inc.doc_haystacks(doc), strict=True)))
            assert inc.may_match(req, kept), (rule.id, ex.source)
            assert inc.may_match(req, inc.raw_haystacks(ex.content, ex.is_html)), (rule.id, ex.source)
            checked += 1
    assert checked > 100


def test_the_prefilter_skips_pages_without_the_words():
    from extractors import incremental as inc
    from extractors.matchers import build

    m = build({"all": [{"text": {"in": "title", "pattern": "在线访谈|访谈实录"}},
                       {"not": {"text": {"pattern": "暂无"}}}]})
    req = inc.compile_requirement(inc.rule_words(m))
    assert {w for _k, p in req for w in p.pattern.split("|")} == {"在线访谈", "访谈实录"}
    assert not inc.may_match(req, inc.raw_haystacks("<title>政务公开</title><p>在线 访谈</p>".replace(" ", "x")))
    assert inc.may_match(req, inc.raw_haystacks("<title>在线<b>访</b>\n谈</title>"))  # tags and spaces inside
    assert inc.may_match(req, inc.raw_haystacks("<title>&#22312;线访谈</title>"))  # an entity
    assert inc.rule_words(build({"not": {"text": {"pattern": "x"}}})) is None
    assert inc.rule_words(build({"any": [{"text": {"pattern": "甲乙"}}, {"url": {"pattern": "x"}}]})) is None


def test_extraction_in_worker_processes_gives_the_same_evidence(world):
    """The page pass split over two forked processes (a share of the sites each) writes exactly the
    evidence one process writes, and keeps the haystacks for later reruns."""
    store, rules = world["store"], world["rules"]
    rs = load_rules(rules)
    one = extract(store, C, rs, full=True)
    ev1 = {r["eid"]: (r["rule_id"], r["url"], r["snippet"], r["values"], r["points"]) for r in store.evidence(C)}
    two = extract(store, C, rs, full=True, workers=2)
    assert two["workers"] == 2 and two["findings"] == one["findings"] and two["pages"] == one["pages"]
    ev2 = {r["eid"]: (r["rule_id"], r["url"], r["snippet"], r["values"], r["points"]) for r in store.evidence(C)}
    assert ev2 == ev1
    kept = store.conn.execute("select count(*) from extract_pages where campaign = ? and hay_text is not null",
                              [C]).fetchone()[0]
    assert kept == one["pages"]
    # an incremental rerun in workers: the same as in one process
    leaf = rules / "leaves" / "online_interview.yaml"
    leaf.write_text(leaf.read_text(encoding="utf-8").replace("pattern: '在线访谈|访谈实录|",
                                                             "pattern: '在线访谈|访谈回顾|访谈实录|"), encoding="utf-8")
    again = extract(store, C, load_rules(rules), workers=2)
    assert again["mode"] == "incremental" and again["findings"] >= 1
    incremental = set(_evidence(store))
    extract(store, C, load_rules(rules), full=True)
    assert set(_evidence(store)) == incremental and len(incremental) == len(ev1) + 1
