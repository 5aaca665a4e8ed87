"""Politeness limits a user sets: attachments per site (the request-level politeness — Retry-After,
Crawl-delay, robots.txt per RFC 9309 — is checked on the simulated web's own request log in
tests/test_full_campaign.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.test_blocks import _one_site_registry


def test_attachments_beyond_the_sites_cap_are_not_fetched_and_say_why(tmp_path: Path) -> None:
    from simweb.server import SimWebProcess

    reg = _one_site_registry(tmp_path, "520300")  # a site whose policy documents link attachments
    store = tmp_path / "s.db"
    with SimWebProcess(str(reg), faults="full") as web:
        for campaign, cap in (("free", "300"), ("capped", "0")):
            run_cli("crawl", "--registry", str(reg), "--proxy", web.proxy_url, "--store", str(store),
                    "--campaign", campaign, "--delay", "0", "--quiet", "--max-attachments", cap, check=True)
    db = sqlite3.connect(store)
    free = db.execute("select count(*) from pages where campaign='free' and kind='attachment'").fetchone()[0]
    capped = db.execute("select count(*) from pages where campaign='capped' and kind='attachment'").fetchone()[0]
    refused = db.execute("select url, reason from failures where campaign='capped' "
                         "and reason like 'attachment not fetched: the site''s cap of 0 attachments%'").fetchall()
    assert free >= 1 and capped == 0
    assert len(refused) >= free
    assert all(url in reason for url, reason in refused)
