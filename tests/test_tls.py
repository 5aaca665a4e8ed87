"""HTTPS that means HTTPS: the crawl's verified TLS probe and the https_access leaf.

Real `windvane crawl` subprocesses through the simulated web's proxy (CONNECT + TLS, per-host
certificates from its throwaway CA; with faults=full some portals present an expired, a
self-signed or a wrong-host certificate), then `windvane extract` and `windvane score`.
With `--ca-bundle` (the simulated web's CA file) only the valid host passes; without it every
host of the simulated web fails verification (unknown CA) while the crawl itself still works.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from evidence.registry import DEFAULT_REGISTRY
from evidence.store import Store
from evidence.warc import read_record
from tests.conftest import run_cli

SIMWEB_CA = "CN=windvane simweb throwaway CA"


def _pick(truth: dict, fault: str | None) -> str:
    """A site with this TLS fault (None: a valid certificate), without a cookie challenge."""
    for sid, s in sorted(truth["sites"].items()):
        tls = [f for f in s["faults"] if f.startswith("tls_")]
        if s["scheme"] != "https" or any(f.startswith("cookie_challenge") for f in s["faults"]):
            continue
        if (fault is None and not tls) or (fault is not None and tls == [fault]):
            return sid
    raise AssertionError(f"the simulated web (seed 2023, faults full) has no site with {fault}")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> dict:
    from simweb.server import SimWebProcess

    tmp = tmp_path_factory.mktemp("tls")
    store = tmp / "store.db"
    truth_path = tmp / "truth.json"
    with SimWebProcess(str(DEFAULT_REGISTRY), seed=2023, truth_path=str(truth_path), faults="full") as web:
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        sites = {"valid": _pick(truth, None), "expired": _pick(truth, "tls_expired"),
                 "self_signed": _pick(truth, "tls_self_signed")}
        common = ["--proxy", web.proxy_url, "--store", str(store), "--as-of", "2023-10-31", "--depth", "1",
                  "--max-pages", "12", "--delay", "0", "--browser", "never", "--timeout", "10", "--quiet"]
        args = ["crawl", *common, "--campaign", "ca", "--ca-bundle", web.ca_path]
        for sid in sites.values():
            args += ["--site", sid]
        run_cli(*args, check=True, timeout=300)
        # the same valid site, trusting only the system's store: the simulated web's CA is unknown there
        run_cli("crawl", *common, "--campaign", "system", "--site", sites["valid"], check=True, timeout=300)
        ca_pem = open(web.ca_path, encoding="ascii").read()
    for campaign in ("ca", "system"):
        run_cli("extract", "--store", str(store), "--campaign", campaign, check=True, timeout=300)
        run_cli("score", "--store", str(store), "--campaign", campaign, "--run", campaign, check=True, timeout=300)
    return {"store": store, "truth": truth, "sites": sites, "ca_pem": ca_pem}


def _probes(store, campaign: str) -> dict[str, dict]:
    with Store(store) as st:
        return {row["site_id"]: row for row in st.tls_probes(campaign).values()}


def test_truth_marks_the_bad_certificates_as_not_meeting_https_access(crawled):
    truth, sites = crawled["truth"], crawled["sites"]
    assert truth["sites"][sites["valid"]]["leaves"]["https_access"]["present"] is True
    for kind in ("expired", "self_signed"):
        leaf = truth["sites"][sites[kind]]["leaves"]["https_access"]
        assert leaf["present"] is False and leaf["urls"] == []
        assert any(d["kind"] == f"tls_{kind}" for d in leaf["trap_details"])


def test_tls_facts_are_stored_per_site(crawled):
    probes, sites = _probes(crawled["store"], "ca"), crawled["sites"]
    assert set(probes) == set(sites.values())
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    ok = probes[sites["valid"]]
    assert ok["verified"] is True and ok["problem"] is None and ok["error"] is None
    assert ok["issuer"] == SIMWEB_CA and ok["subject"] == f"CN={ok['host']}" and ok["host"] in ok["san"]
    assert ok["not_before"] < now < ok["not_after"]
    assert ok["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert ok["via_proxy"] is True and ok["trust"].endswith(".pem")

    expired = probes[sites["expired"]]
    assert expired["verified"] is False and expired["problem"] == "expired"
    assert "expired" in expired["error"] and expired["error_code"] == 10
    assert expired["issuer"] == SIMWEB_CA and expired["not_after"] < now  # the facts were read anyway

    selfs = probes[sites["self_signed"]]
    assert selfs["verified"] is False and selfs["problem"] == "self_signed"
    assert "self-signed" in selfs["error"] and selfs["error_code"] == 18
    assert selfs["issuer"] == selfs["subject"] == f"CN={selfs['host']}"


def test_tls_facts_are_archived_in_the_warc(crawled):
    with Store(crawled["store"]) as st:
        folder = st.campaign_dir("ca") / "warc"
        rows = st.conn.execute("select host, verified, warc_file, warc_offset from tls_probes "
                               "where campaign='ca'").fetchall()
    assert len(rows) == 3
    for host, verified, file, offset in rows:
        uri, headers, body = read_record(folder, file, offset)
        assert uri == f"https://{host}/"
        assert headers.get("Content-Type") == "application/json"
        record = json.loads(body)
        assert record["host"] == host and record["verified"] == bool(verified)
        assert record["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
        assert record["certificate_pem"] != crawled["ca_pem"]  # the host's certificate, not the CA's


def _evidence(store, campaign: str, site_id: str) -> list[dict]:
    with Store(store) as st:
        return [e for e in st.evidence(campaign, site_id) if e["leaf_id"] == "https_access"]


def test_https_access_needs_a_verified_certificate(crawled):
    store, sites, truth = crawled["store"], crawled["sites"], crawled["truth"]
    for kind, sid in sites.items():
        ev = _evidence(store, "ca", sid)
        worth = [e for e in ev if (e["points"] or 0) > 0]
        # what the pipeline extracted agrees with the truth, site by site
        assert bool(worth) == truth["sites"][sid]["leaves"]["https_access"]["present"], (kind, ev)
        if kind == "valid":
            assert {e["rule_id"] for e in worth} >= {"https_access.https", "https_access.redirect"}
            for e in worth:
                cert = json.loads(e["values"])["certificate"]
                assert cert["verified"] is True and cert["issuer"] == SIMWEB_CA
            assert not [e for e in ev if e["rule_id"] == "https_access.certificate_invalid"]
        else:  # not met, and the reason is in the evidence values
            assert [e["rule_id"] for e in ev] == ["https_access.certificate_invalid"]
            assert ev[0]["points"] == 0
            cert = json.loads(ev[0]["values"])["certificate"]
            assert cert["verified"] is False and cert["problem"] == kind and cert["error"]


def test_scores_follow_the_certificate(crawled):
    store, sites, truth = crawled["store"], crawled["sites"], crawled["truth"]
    with Store(store) as st:
        points = {}
        for sid, pts in st.conn.execute(
                "select t.site_id, s.points from scores s join targets t "
                "on t.target_id = s.target_id and t.campaign = 'ca' "
                "where s.run_id = 'ca' and s.node_id = 'https_access'"):
            points.setdefault(sid, set()).add(pts)
    share = truth["sites"][sites["valid"]]["leaves"]["https_access"]["points_share"]
    assert points[sites["valid"]] == {share * 2}
    assert points[sites["expired"]] == {0} and points[sites["self_signed"]] == {0}


def test_without_a_ca_bundle_the_simulated_web_is_untrusted_but_crawled(crawled):
    store, sid = crawled["store"], crawled["sites"]["valid"]
    probe = _probes(store, "system")[sid]
    assert probe["verified"] is False and probe["trust"] == "system"
    assert probe["problem"] == "unknown_ca", probe  # the throwaway CA is in no system trust store
    assert probe["issuer"] == SIMWEB_CA
    with Store(store) as st:
        site = st.conn.execute("select status, pages from sites where campaign='system' and site_id=?",
                               [sid]).fetchone()
        home = st.conn.execute("select status from pages where campaign='system' and site_id=? and depth=0 "
                               "and kind != 'probe'", [sid]).fetchone()
    assert site[0] == "done" and site[1] > 3 and home[0] == 200  # Scrapy's content crawl does not verify
    ev = _evidence(store, "system", sid)
    assert [e["rule_id"] for e in ev] == ["https_access.certificate_invalid"]
    assert json.loads(ev[0]["values"])["certificate"]["problem"] == "unknown_ca"


def test_a_bad_ca_bundle_is_a_user_error(tmp_path):
    bad = tmp_path / "not-a-bundle.pem"
    bad.write_text("hello\n", encoding="utf-8")
    for path in (bad, tmp_path / "missing.pem"):
        p = run_cli("crawl", "--store", str(tmp_path / "s.db"), "--ca-bundle", str(path), "--site", "110000",
                    "--quiet", timeout=60)
        assert p.returncode == 2, p.stderr
        assert str(path) in p.stderr and "CA bundle" in p.stderr
