"""Generated registries of any size (simweb/synthetic.py) and the simulated web serving them."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from evidence.registry import load_registry
from simweb.synthetic import synthetic_registry, synthetic_registry_text, synthetic_web, write_synthetic_truth
from tests.conftest import run_cli


def test_registry_of_30_sites_validates(tmp_path: Path, registry) -> None:
    path = tmp_path / "registry.csv"
    reg = synthetic_registry(30, path=path)
    again = load_registry(path)  # what `windvane crawl --registry` reads
    assert [t.target_id for t in again.targets] == [t.target_id for t in reg.targets]
    sites = reg.sites
    assert len(sites) == 30 and len({s.site_id for s in sites}) == 30 and len({s.name_zh for s in sites}) == 30
    assert all(re.fullmatch(r"www\.s\d{4}\.gov\.cn", s.host) for s in sites)
    assert len({s.host for s in sites}) == 30
    assert {t.group for t in reg.targets} == {"province", "capital", "gdp100"}
    assert not {s.site_id for s in sites} & {s.site_id for s in registry.sites}  # never a real site's id
    for group in ("province", "capital", "gdp100"):
        ranks = [t.gdp_rank for t in reg.by_group(group)]
        assert ranks == list(range(1, len(ranks) + 1))
    assert synthetic_registry_text(30) == path.read_text(encoding="utf-8")  # deterministic
    assert synthetic_registry_text(30, seed=7) != synthetic_registry_text(30)
    assert len(synthetic_registry(1500).sites) == 1500


async def test_the_simulated_web_serves_generated_sites(tmp_path: Path) -> None:
    from simweb.server import SimWebServer
    reg = synthetic_registry(12)
    srv = SimWebServer(reg, web=synthetic_web(reg))
    truth = json.loads(write_synthetic_truth(srv.web, tmp_path / "truth.json").read_text(encoding="utf-8"))
    assert set(truth["sites"]) == {s.site_id for s in reg.sites}
    leaves = [lt["present"] for t in truth["sites"].values() for lt in t["leaves"].values()]
    assert 0.1 < sum(leaves) / len(leaves) < 0.9  # coin flips: some leaves present, some not
    site = reg.sites[-1]
    home = await srv.respond("https", site.host, "/")
    assert home.status == 200 and b"<html" in home.body.lower()
    assert site.name_zh in home.body.decode("gbk" if b"charset=gbk" in home.body.lower() else "utf-8", "replace")
    robots = await srv.respond("https", site.host, "/robots.txt")
    assert robots.status == 200
    assert (await srv.respond("https", "www.s9999.gov.cn", "/")).status == 502  # not in this registry


@pytest.mark.slow
def test_crawl_of_generated_sites_stores_pages(tmp_path: Path) -> None:
    from simweb.server import SimWebProcess
    reg = tmp_path / "registry.csv"
    store = tmp_path / "store.db"
    with SimWebProcess(str(reg), sites=3) as web:
        run_cli("crawl", "--registry", str(reg), "--proxy", web.proxy_url, "--store", str(store), "--campaign", "gen",
                "--delay", "0", "--max-pages", "10", "--depth", "2", "--quiet", check=True)
    with sqlite3.connect(store) as db:
        per_site = dict(db.execute("SELECT site_id, count(*) FROM pages WHERE campaign='gen' AND status=200 "
                                   "GROUP BY site_id"))
        statuses = {r[0] for r in db.execute("SELECT status FROM sites WHERE campaign='gen'")}
    assert set(per_site) == {s.site_id for s in load_registry(reg).sites}
    assert all(n >= 5 for n in per_site.values()) and statuses == {"done"}
