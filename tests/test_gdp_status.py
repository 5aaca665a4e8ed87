"""How the registry's GDP figures were checked: the status classes, the store's targets column, the report."""

from __future__ import annotations

import sqlite3

import pytest

from evidence.registry import gdp_status_class, gdp_status_counts, load_registry
from evidence.store import Store
from scoring.report import _gdp_status_rows


@pytest.mark.parametrize("status, cls", [
    ("confirmed: chinabankingnews 2023-02-06", "confirmed"),
    ("confirmed to ±0.5: 中国城市统计年鉴 (2023 edition, 2022 data)", "confirmed"),
    ("near-confirmed: 中国城市统计年鉴 gives 3314", "confirmed"),
    ("corrected: city statistical bulletin / newspaper", "corrected"),
    ("corrected-likely (rounded, 中国城市统计年鉴; no early-2023 source found)", "corrected"),
    ("corrected (rounded); previous value was the 2021 figure", "corrected"),
    ("unverified-recall", "unverified"),
    ("unverified: the yearbook's 4608 includes 雄安新区", "unverified"),
    (" Confirmed ", "confirmed"),
    ("high", None), ("medium", None), ("", None), (None, None),
])
def test_gdp_status_class(status, cls):
    assert gdp_status_class(status) == cls


def test_counts_of_the_checked_registry():
    """The 2026-11-30 check (../shared/reference/SOURCES.md): GDP-100 89 confirmed + 龙岩 near-confirmed,
    9 corrected, 保定 unverified; the capitals outside the top 100 were not checked."""
    counts = gdp_status_counts((t.group, t.get("gdp_status")) for t in load_registry().targets)
    assert dict(counts["gdp100"]) == {"confirmed": 90, "corrected": 9, "unverified": 1}
    assert dict(counts["capital"]) == {"confirmed": 27, "corrected": 1, "unverified": 4}
    assert dict(counts["province"]) == {"high": 31, "medium": 1}  # a confidence level, not a check


def test_gdp_status_reaches_the_store_and_the_report(tmp_path):
    with Store(tmp_path / "w.db") as st:
        st.open_campaign("2023", load_registry())
        status = dict(st.conn.execute("select target_id, gdp_status from targets where campaign = '2023'"))
        assert status["gdp100-371700"].startswith("corrected")  # 菏泽
        rows = dict(_gdp_status_rows(st, "2023", {"gdp100": "GDP百强城市"}))
    assert rows["GDP figures (GDP百强城市)"].startswith("100: 90 confirmed, 9 corrected, 1 unverified")
    assert rows["GDP figures (province)"] == "32: no check recorded; status of no class: 31 'high', 1 'medium'"


def test_older_store_gets_the_column_and_the_report_reads_the_campaign_registry(tmp_path):
    db = tmp_path / "old.db"
    with Store(db) as st:
        st.open_campaign("2023", load_registry())
    conn = sqlite3.connect(db)  # as a store written before targets.gdp_status
    conn.execute("alter table targets drop column gdp_status")
    conn.commit()
    conn.close()
    with Store(db) as st:
        cols = {r[1] for r in st.conn.execute("pragma table_info(targets)")}
        assert "gdp_status" in cols
        assert st.conn.execute("select count(*) from targets where gdp_status is not null").fetchone()[0] == 0
        rows = dict(_gdp_status_rows(st, "2023", {}))
    assert rows["GDP figures (gdp100)"].startswith("100: 90 confirmed, 9 corrected, 1 unverified")
