"""The registry and the evidence store: validation, idempotence, clear errors."""

from __future__ import annotations

import sqlite3

import pytest

from evidence.registry import DEFAULT_REGISTRY, RegistryError, load_registry, parse_registry
from evidence.store import Store, StoreError
from tests.conftest import run_cli


def test_default_registry_has_three_groups_and_shared_sites():
    reg = load_registry(full=True)
    groups = {g: len(reg.by_group(g)) for g in ("province", "capital", "gdp100")}
    assert groups == {"province": 32, "capital": 32, "gdp100": 100}
    assert len(reg.targets) == 164
    sites = {s.site_id: s for s in reg.sites}
    # 杭州 is a capital and a GDP-100 city: one site, two targets
    assert {t.group for t in sites["330100"].targets} == {"capital", "gdp100"}
    # 北京 is a province-level unit and a GDP-100 city
    assert {t.group for t in sites["110000"].targets} == {"province", "gdp100"}
    assert "新疆生产建设兵团" in {t.name_zh for t in reg.by_group("province")}
    assert all(t.get("source") for t in reg.targets)
    assert all(t.gdp_rank for t in reg.targets)


def test_registry_errors_name_file_and_row():
    text = DEFAULT_REGISTRY.read_text(encoding="utf-8").splitlines()
    header, rows = text[0], text[1:]
    bad_url = rows[2].replace("https://www.hebei.gov.cn/", "www hebei gov")
    dup = rows[5]
    broken = "\n".join([header, rows[0], rows[1], bad_url, dup, dup]) + "\n"
    with pytest.raises(RegistryError) as e:
        parse_registry(broken, "my.csv", full=True)
    msg = str(e.value)
    assert "my.csv:4: portal_url 'www hebei gov' is not an http(s) URL" in msg
    assert "my.csv:6: duplicate target_id" in msg
    assert "group province has 5 targets, expected 32" in msg


def test_registry_check_cli_reports_bad_row(tmp_path):
    lines = DEFAULT_REGISTRY.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("https://", "ftp://")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run_cli("registry", "check", "--registry", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:4: portal_url" in proc.stderr
    ok = run_cli("registry", "check")
    assert ok.returncode == 0 and "164 targets" in ok.stdout


def test_store_upserts_pages_without_duplicates(tmp_path):
    reg = load_registry()
    with Store(tmp_path / "s.db") as st:
        st.open_campaign("c1", reg)
        st.open_campaign("c1", reg)  # reopening (resume) is fine
        row = {"campaign": "c1", "site_id": "330100", "url": "https://www.hangzhou.gov.cn/",
               "status": 200, "title": "a"}
        st.add_pages([row])
        st.add_pages([{**row, "title": "b"}])
        pages = list(st.iter_pages("c1"))
        assert len(pages) == 1 and pages[0]["title"] == "b"
        assert st.registry("c1").text == reg.text
        assert len(list(st.db.query("select * from targets where campaign='c1'"))) == 164


def test_corrupt_store_is_refused_and_left_untouched(tmp_path):
    bad = tmp_path / "corrupt.db"
    payload = b"this is not a sqlite database" * 100
    bad.write_bytes(payload)
    with pytest.raises(StoreError, match="corrupt.db: not a usable windvane store"):
        Store(bad)
    assert bad.read_bytes() == payload
    proc = run_cli("extract", "--store", str(bad))
    assert proc.returncode == 2 and "corrupt.db" in proc.stderr
    with pytest.raises(StoreError, match="no store here"):
        Store(tmp_path / "missing.db", create=False)


def test_store_is_plain_sqlite_in_wal_mode(tmp_path):
    p = tmp_path / "s.db"
    Store(p).close()
    conn = sqlite3.connect(p)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
    assert {"campaigns", "sites", "targets", "pages", "failures", "evidence", "decisions",
            "runs", "scores"} <= tables
