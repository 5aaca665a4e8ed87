"""`windvane merge`: shards (one per machine) folded into one campaign store, WARC pointers valid."""

from __future__ import annotations

import hashlib

from test_extract import _add_page, _registry_subset

from evidence.merge import merge
from evidence.store import Store
from evidence.warc import WarcArchive, read_record

C = "m2023"
REG = ("330100", "330200", "330000")


def _shard(path, pages: list[tuple[str, str, bytes]]) -> None:
    with Store(path) as st:
        st.open_campaign(C, _registry_subset(*REG), as_of="2023-10-31")
        archive = WarcArchive(st.campaign_dir(C) / "warc", C)
        for site, url, body in pages:
            _add_page(st, archive, C, site, url, body, encoding="utf-8")
        archive.close()
        for site in {p[0] for p in pages}:
            st.conn.execute("update sites set status = 'done', pages = ? where campaign = ? and site_id = ?",
                            [sum(1 for p in pages if p[0] == site), C, site])
        home = st.conn.execute("select id from pages where url like '%/'").fetchone()[0]
        st.conn.execute("update pages set parent_id = ? where id != ?", [home, home])
        st.conn.commit()


def _pages(path) -> dict[str, tuple[str, bytes]]:
    """url -> (row sha256, the WARC payload the row points at)."""
    with Store(path) as st:
        folder = st.campaign_dir(C) / "warc"
        return {r["url"]: (r["sha256"], read_record(folder, r["warc_file"], int(r["warc_offset"]))[2])
                for r in st.iter_pages(C)}


HZ, NB = "https://www.hangzhou.gov.cn", "https://www.ningbo.gov.cn"


def test_shards_merge_into_one_store_with_valid_warc_pointers_and_again_adds_nothing(tmp_path, cli):
    a_pages = [("330100", HZ + "/", "<title>杭州</title>首页".encode()),
               ("330100", HZ + "/a.html", "<title>A</title>政务公开".encode())]
    b_pages = [("330200", NB + "/", "<title>宁波</title>首页".encode()),
               ("330200", NB + "/b.html", "<title>B</title>政策文件".encode()),
               ("330100", HZ + "/a.html", b"<title>A</title>another body")]  # fetched by both
    _shard(tmp_path / "a.db", a_pages)
    _shard(tmp_path / "b.db", b_pages)
    target = tmp_path / "all.db"
    first = merge(target, [tmp_path / "a.db", tmp_path / "b.db"])
    assert [r.pages for r in first] == [2, 2] and first[1].pages_present == 1
    assert first[1].conflicts == [HZ + "/a.html"]  # the same URL with another body: the first shard's kept
    # both shards named their WARC file alike: the second is copied under another name
    assert first[0].warc_files == 1 and first[1].warc_files == 1
    merged = _pages(target)
    assert set(merged) == {HZ + "/", HZ + "/a.html", NB + "/", NB + "/b.html"}
    for url, (sha, payload) in merged.items():
        assert hashlib.sha256(payload).hexdigest() == sha, url
    assert merged[HZ + "/a.html"][1].endswith("政务公开".encode())
    with Store(target) as st:
        parents = {r["url"]: r["parent_id"] for r in st.iter_pages(C)}
        ids = {r["url"]: r["id"] for r in st.iter_pages(C)}
        statuses = dict(st.conn.execute("select site_id, status from sites where campaign = ?", [C]))
    assert parents[NB + "/b.html"] == ids[NB + "/"] and parents[HZ + "/a.html"] == ids[HZ + "/"]
    assert statuses == {"330100": "done", "330200": "done", "330000": None}

    again = merge(target, [tmp_path / "a.db", tmp_path / "b.db"])  # idempotent
    assert [(r.pages, r.warc_files) for r in again] == [(0, 0), (0, 0)]
    assert _pages(target) == merged

    # the command line, then extraction on the merged store
    out = cli("merge", str(tmp_path / "a.db"), str(tmp_path / "b.db"), "--store", str(tmp_path / "cli.db"), check=True)
    assert "pages added 2" in out.stdout and "Traceback" not in out.stderr
    assert cli("extract", "--store", str(tmp_path / "cli.db"), check=True).returncode == 0
    bad = cli("merge", str(tmp_path / "missing.db"), "--store", str(tmp_path / "cli.db"))
    assert bad.returncode != 0 and "missing.db" in bad.stderr and "Traceback" not in bad.stderr
