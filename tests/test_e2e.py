"""End to end on a subset of the simulated web: crawl → extract → score → report.

One real crawl (Scrapy over real HTTP on 127.0.0.1, through the simulated web's
proxy, by the registry's real https:// URLs) feeds every test in this module.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.registry import DEFAULT_REGISTRY, load_registry
from evidence.store import Store
from evidence.warc import read_record
from tests.conftest import ROOT, run_cli
from windvane.truth import evaluate, format_quality, load_truth, score_agreement

CAMPAIGN = "e2e"
N_SITES = 14


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("e2e")
    reg = load_registry()
    # a spread of sites across the three groups (first provinces, capitals and GDP cities)
    sites = [s.site_id for s in reg.sites]
    pick = sites[:5] + sites[32:37] + sites[-4:]
    assert len(pick) == N_SITES
    store = tmp / "store.db"
    truth = tmp / "truth.json"
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth), faults="full") as web:
        args = ["crawl", "--proxy", web.proxy_url, "--ca-bundle", web.ca_path, "--store", str(store), "--campaign", CAMPAIGN,
                "--as-of", "2023-10-31", "--quiet", "--delay", "0"]
        for s in pick:
            args += ["--site", s]
        run_cli(*args, check=True, timeout=600)
        # a second crawl of the same campaign adds nothing
        with Store(store) as st:
            before = st.conn.execute("select count(*) from pages").fetchone()[0]
        run_cli(*args, check=True, timeout=600)
        with Store(store) as st:
            after = st.conn.execute("select count(*) from pages").fetchone()[0]
    assert after == before
    run_cli("extract", "--store", str(store), check=True)
    run_cli("score", "--store", str(store), "--run", "r1", check=True)
    out = tmp / "report"
    run_cli("report", "--store", str(store), "--run", "r1", "--out", str(out), check=True)
    return {"store": store, "truth": load_truth(truth), "sites": pick, "report": out}


def test_pages_agree_with_their_warc_records(campaign):
    with Store(campaign["store"]) as st:
        rows = list(st.iter_pages(CAMPAIGN, columns="url, final_url, sha256, warc_file, warc_offset"))
        warc_dir = st.campaign_dir(CAMPAIGN) / "warc"
    assert len(rows) > N_SITES * 50
    assert any(r["url"] != r["final_url"] for r in rows)  # redirected pages: the check below tells them apart
    import hashlib
    for r in rows:
        uri, _headers, body = read_record(warc_dir, r["warc_file"], r["warc_offset"])
        # the record is the response as fetched: its target URI is the page's final URL (after redirects)
        assert uri == r["final_url"], (r["url"], r["final_url"], uri)
        assert hashlib.sha256(body).hexdigest() == r["sha256"], r["url"]
    for f in sorted(warc_dir.glob("*.warc.gz")):
        proc = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(f)],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_evidence_matches_the_truth(campaign):
    with Store(campaign["store"]) as st:
        quality = evaluate(st, CAMPAIGN, campaign["truth"], campaign["sites"])
    print()
    print(format_quality(quality))
    for q in quality.values():
        assert q.tp + q.fn > 0, f"{q.leaf_id}: no site in the subset has it; the check would be empty"
        assert q.precision >= 0.95, q
        assert q.recall >= 0.95, q
        assert q.evidence_precision >= 0.95, q


def test_scores_agree_with_the_truth(campaign):
    from extractors.rules import load_rules

    tree = load_rules(ROOT / "rules").tree
    with Store(campaign["store"]) as st:
        agree, total, bad = score_agreement(st, "r1", campaign["truth"], tree, campaign["sites"])
    print(f"\ntargets agreeing with the truth: {agree}/{total} {bad}")
    assert total >= N_SITES
    assert agree / total >= 0.95, bad


def test_report_lists_every_target_by_group(campaign):
    csv_path = campaign["report"] / "targets.csv"
    with open(csv_path, encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 164
    groups = {}
    for r in rows:
        groups[r["group"]] = groups.get(r["group"], 0) + 1
    assert groups == {"province": 32, "capital": 32, "gdp100": 100}
    html = (campaign["report"] / "report.html").read_text(encoding="utf-8")
    assert "浙江省" in html or "北京市" in html
    # the subset has script-built and challenged sites: the report says how many pages needed the browser
    with Store(campaign["store"]) as st:
        browser = st.conn.execute("select count(*) from pages where via = 'browser'").fetchone()[0]
        total = st.conn.execute("select count(*) from pages").fetchone()[0]
    assert 0 < browser < total * 0.1
    assert f"<tr><th>pages that needed the browser</th><td class=\"n\">{browser} (" in html
