"""The report of a run: HTML with charts, CSV (UTF-8 with BOM), Excel, evidence links, 推进率."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest
from test_scoring_fixtures import FakeRuleset, add_evidence, make_store, small_tree

from evidence.registry import load_registry
from evidence.store import Store
from scoring.report import write_report
from scoring.run import score


@pytest.fixture
def scored(tmp_path):
    store = make_store(tmp_path / "w.db", "2023")
    tree = small_tree()
    rows = []
    for k, site in enumerate(load_registry().sites):
        for j, leaf in enumerate(tree.leaves):
            if (k + j) % 3:
                rows.append((site.site_id, leaf.id, None))
    add_evidence(store, "2023", rows + [("330100", "hotline_12345", None, "https://www.hangzhou.gov.cn/12345")])
    run_id = score(store, "2023", FakeRuleset(tree), run_id="r2023")
    yield store, run_id
    store.close()


def test_report_files(scored, tmp_path):
    store, run_id = scored
    out = tmp_path / "report"
    paths = write_report(store, run_id, FakeRuleset(small_tree()), out)
    for kind in ("report.html", "targets.csv", "leaves.csv", "report.xlsx"):
        assert paths[kind].exists(), kind
    assert paths["targets.csv"].read_bytes().startswith(b"\xef\xbb\xbf")
    with paths["targets.csv"].open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 164
    sizes: dict[str, int] = {}
    for r in rows:
        sizes[r["group"]] = sizes.get(r["group"], 0) + 1
    assert sizes == {"province": 32, "capital": 32, "gdp100": 100}
    for col in ("target_id", "name_zh", "site_id", "admin_code", "gdp", "gdp_rank", "total_points", "max_points",
                "score_rate", "rank", "tier", "z_score", "cap_points", "cap_rate"):
        assert col in rows[0], col
    assert {r["tier"] for r in rows} <= {"1", "2", "3", "4", "5"}
    hz = next(r for r in rows if r["target_id"] == "capital-330100")
    assert hz["name_zh"] == "杭州市"
    assert hz["pages"] == "0"  # nothing crawled in this store

    with paths["leaves.csv"].open(encoding="utf-8-sig") as f:
        leaves = list(csv.DictReader(f))
    # province and capital targets have 6 applicable leaves, GDP-100 targets 5
    assert len(leaves) == 64 * 6 + 100 * 5
    hz_hot = next(r for r in leaves if r["target_id"] == "capital-330100" and r["leaf_id"] == "hotline_12345")
    assert int(hz_hot["evidence_count"]) == len(json.loads(hz_hot["evidence_ids"])) >= 1

    wb = openpyxl.load_workbook(paths["report.xlsx"], read_only=True)
    assert wb.sheetnames[:4] == ["方法", "省级", "省会及计划单列市", "GDP百强城市"]
    assert wb["GDP百强城市"].max_row == 101
    methods = {r[0]: r[1] for r in wb["方法"].iter_rows(values_only=True)}
    assert "equal_interval" in methods["tier cut (梯队)"]
    assert "spearman" in methods["rank correlation (GDP排名 vs 总得分排名)"]

    html = paths["report.html"].read_text(encoding="utf-8")
    for needle in ("equal_interval", "spearman", "score_100", "五个梯队", "Z-分数", "叶指标覆盖", "阈值",
                   'id="t-capital-330100"', 'href="#t-capital-330100"', "https://www.hangzhou.gov.cn/12345",
                   "推进率 needs a previous campaign", "上海市、北京市、天津市、重庆市除外",
                   "164 of the run's targets have no stored page"):
        assert needle in html, needle
    for png in ("scatter_province.png", "scatter_capital.png", "scatter_gdp100.png", "radar_all.png",
                "radar_gdp100.png", "mean_sd.png"):
        assert (out / png).stat().st_size > 5000, png
        assert f'src="{png}"' in html


def test_progress_against_previous_campaign(scored, tmp_path):
    store, run_id = scored
    store.open_campaign("2022", load_registry())
    store.conn.execute("update sites set status = 'done' where campaign = '2022'")  # as if crawled
    add_evidence(store, "2022", [("330100", "hotline_12345", None), ("330100", "open_data_link", None)])
    score(store, "2022", FakeRuleset(small_tree()), run_id="r2022")
    paths = write_report(store, run_id, FakeRuleset(small_tree()), tmp_path / "r")
    html = paths["report.html"].read_text(encoding="utf-8")
    assert "推进率 against run r2022" in html
    with paths["targets.csv"].open(encoding="utf-8-sig") as f:
        rows = {r["target_id"]: r for r in csv.DictReader(f)}
    hz = rows["capital-330100"]
    prev = 5 / 18 * 100
    assert float(hz["progress"]) == pytest.approx((float(hz["score_100"]) - prev) / prev)
    assert rows["gdp100-110000"]["progress"] == ""  # excluded municipality


def test_cli_score_report_diff_with_the_project_rules(tmp_path, cli):
    """The real `windvane score`, `report` and `diff` commands over a store with evidence."""
    from test_scoring_fixtures import decide

    from extractors.rules import load_rules
    from tests.conftest import ROOT

    rules = load_rules(ROOT / "rules")
    leaves = [leaf.id for leaf in rules.tree.leaves]
    db = tmp_path / "cli.db"
    store = make_store(db, "2023")
    ids = add_evidence(store, "2023", [(s, leaf, None) for s in ("330000", "330100", "110000") for leaf in leaves])
    store.close()
    cli("score", "--store", str(db), "--run", "a", check=True)
    with Store(db) as st:
        decide(st, "2023", ids[0], "reject")
    cli("score", "--store", str(db), "--run", "b", check=True)
    out = tmp_path / "rep"
    proc = cli("report", "--store", str(db), "--run", "b", "--out", str(out), check=True)
    assert "report report.html:" in proc.stdout
    assert (out / "targets.csv").exists() and (out / "report.xlsx").exists()
    proc = cli("diff", "a", "b", "--store", str(db), check=True)
    assert f"leaf {leaves[0]}:" in proc.stdout and f"evidence removed {ids[0]}" in proc.stdout
    assert "province-330000 浙江省" in proc.stdout


def test_report_of_an_empty_run_is_a_clear_error(tmp_path):
    from evidence.store import StoreError

    with Store(tmp_path / "e.db") as st:
        st.save_run({"run_id": "empty", "campaign": "none", "created_at": "2023-01-01T00:00:00Z"}, [])
        with pytest.raises(StoreError, match="no scored targets"):
            write_report(st, "empty", FakeRuleset(small_tree()), tmp_path / "out")
