"""Extraction: page parsing and decoding, issuer checks, and `extract` over a real store + WARC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidence.registry import load_registry, parse_registry
from evidence.store import Store, now_iso
from evidence.warc import WarcArchive
from extractors.document import TargetNames
from extractors.engine import Context, decode_body, parse_html, run_rules, visible_text
from extractors.run import extract

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"


# --- page model ----------------------------------------------------------------------------
def test_visible_text_drops_scripts_and_collapses_whitespace():
    html = ("<html><head><title>T</title><style>p{}</style></head><body><script>var a='12345热线';</script>"
            "<p>政务服务\n\n  便民热线</p><!-- 12345 --><div>第二段&nbsp;&nbsp;文字</div></body></html>")
    text = visible_text(html)
    assert "12345" not in text and "var" not in text
    assert text == "政务服务 便民热线\n第二段 文字"


def test_links_carry_alt_title_and_absolute_href():
    page = parse_html('<p>前文</p><a href="../rx/" title="热线"><img src="a.png" alt="12345"></a>'
                      '<a href="javascript:void(0)" onclick="window.open(\'https://data.x.gov.cn/\')">数据开放</a>'
                      '<select><option value="https://zwfw.x.gov.cn/">政务服务网</option></select>',
                      "https://www.x.gov.cn/a/b/index.html")
    labels = {lk.label: lk.href for lk in page.links}
    assert labels["12345 热线"] == "https://www.x.gov.cn/a/rx/"
    assert labels["数据开放"] == "https://data.x.gov.cn/"
    assert labels["政务服务网"] == "https://zwfw.x.gov.cn/"
    for lk in page.links:
        if lk.end > lk.start:
            assert page.text[lk.start:lk.end] == lk.label


def test_broken_html_still_parses(rs):
    page = parse_html("<div><p>政务服务便民热线：12345<table><tr><td>未闭合", "http://www.x.gov.cn/")
    found = run_rules(page, rs, Context())
    assert any(f.leaf_id == "hotline_12345" for f in found)
    assert parse_html("", "http://x/").text == ""


def test_decode_respects_http_charset_and_meta():
    body = "<html><body>杭州市数据资源管理局</body></html>".encode("gb18030")
    assert decode_body(body, "text/html; charset=GBK")[0].count("杭州市") == 1
    utf = '<html><head><meta charset="utf-8"></head><body>政务</body></html>'.encode()
    assert decode_body(utf)[1] == "utf-8"
    # a stored encoding wins over a wrong header
    assert "杭州" in decode_body(body, "text/html; charset=utf-8", declared="gbk")[0]


@pytest.mark.parametrize("target,level,issuer,expected", [
    ("杭州市", "city", "杭州市人民政府办公厅", True),
    ("杭州市", "city", "杭州市数据资源管理局", True),
    ("杭州市", "city", "中共杭州市委办公厅 杭州市人民政府办公厅", True),
    ("杭州市", "city", "浙江省人民政府", False),
    ("杭州市", "city", "杭州市余杭区人民政府", False),
    ("杭州市", "city", "市政府办公厅", True),
    ("广州市", "city", "广州市政务服务数据管理局", True),
    ("广州市", "city", "广东省政务服务数据管理局", False),
    ("吉林市", "city", "吉林省人民政府办公厅", False),
    ("吉林省", "province", "吉林市人民政府", False),
    ("吉林省", "province", "吉林省政务服务和数字化建设管理局", True),
    ("西安市", "city", "广西安全生产委员会办公室", False),
    ("西安市", "city", "西安市大数据资源管理局", True),
    ("新疆维吾尔自治区", "province", "新疆生产建设兵团办公厅", False),
    ("新疆维吾尔自治区", "province", "新疆维吾尔自治区人民政府办公厅", True),
    ("北京市", "province", "北京市经济和信息化局", True),
    ("北京市", "province", "北京市朝阳区人民政府", False),
    ("杭州市", "city", "", False),
])
def test_issued_by_target(target, level, issuer, expected):
    others = ("吉林省", "吉林市", "新疆生产建设兵团", "广西壮族自治区", "浙江省", "广东省")
    names = TargetNames(target, level, tuple(o for o in others if o != target))
    assert names.issued_by(issuer)[0] is expected, names.issued_by(issuer)


def test_target_names_from_registry():
    reg = load_registry()
    t = reg.target("capital-330100")
    names = TargetNames.from_target(t, reg)
    assert names.name_zh == "杭州市" and names.level == "city" and "浙江省" in names.others
    assert TargetNames.from_target(reg.target("province-330000"), reg).level == "province"


# --- extract over a real store -------------------------------------------------------------
def _registry_subset(*site_ids: str):
    reg = load_registry()
    lines = reg.text.splitlines()
    keep = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[2] in site_ids]
    return parse_registry("\n".join(keep) + "\n", "subset.csv")


def _add_page(store, archive, campaign, site_id, url, body: bytes, ctype="text/html", encoding=None, text=None):
    ref = archive.write_response(url, 200, "OK", [("Content-Type", ctype)], body, now_iso())
    store.add_pages([{"campaign": campaign, "site_id": site_id, "url": url, "final_url": url, "status": 200,
                      "content_type": ctype, "encoding": encoding, "text": text, "fetched_at": now_iso(),
                      "warc_file": ref.file, "warc_offset": ref.offset, "warc_length": ref.length,
                      "sha256": ref.sha256, "size": len(body)}])


def hangzhou_campaign(store, campaign: str) -> WarcArchive:
    """Open ``campaign`` for 杭州 alone (its crawl done) with two archived pages, the portal's home page
    and a Hanweb policy page; returns the open archive for further pages (the caller closes it)."""
    store.open_campaign(campaign, _registry_subset("330100"), as_of="2023-10-31")
    store.conn.execute("update sites set status = 'done' where campaign = ?", [campaign])
    store.conn.commit()
    archive = WarcArchive(store.campaign_dir(campaign) / "warc", campaign)
    hz = "https://www.hangzhou.gov.cn"
    _add_page(store, archive, campaign, "330100", hz + "/", (PAGES / "home_hangzhou.html").read_bytes(),
              "text/html; charset=utf-8", "utf-8")
    _add_page(store, archive, campaign, "330100", hz + "/art/2022/11/25/art_1229063382_1828371.html",
              (PAGES / "hanweb_policy_hangzhou.html").read_bytes(), encoding="utf-8")
    return archive


def test_extract_writes_evidence_idempotently(tmp_path, rs):
    reg = _registry_subset("330100", "330000")
    campaign = "t2023"
    with Store(tmp_path / "w.db") as store:
        store.open_campaign(campaign, reg, as_of="2023-10-31")
        archive = WarcArchive(store.campaign_dir(campaign) / "warc", campaign)
        hz = "https://www.hangzhou.gov.cn"
        _add_page(store, archive, campaign, "330100", hz + "/",
                  (PAGES / "home_hangzhou.html").read_bytes(), "text/html; charset=utf-8", "utf-8")
        _add_page(store, archive, campaign, "330100", hz + "/art/2022/11/25/art_1229063382_1828371.html",
                  (PAGES / "hanweb_policy_hangzhou.html").read_bytes(), encoding="utf-8")
        _add_page(store, archive, campaign, "330100", hz + "/art/2022/3/2/art_1229063383_1812345.html",
                  (PAGES / "reposted_provincial_on_hangzhou.html").read_bytes(), encoding="utf-8")
        _add_page(store, archive, campaign, "330000", "https://www.zj.gov.cn/art/2022/3/2/art_1_2.html",
                  (PAGES / "reposted_provincial_on_hangzhou.html").read_bytes(), encoding="utf-8")
        _add_page(store, archive, campaign, "330100", hz + "/gbk.html",
                  (PAGES / "gbk_undeclared.html").read_bytes(), "text/html", "gb18030")
        _add_page(store, archive, campaign, "330100", hz + "/phone.html",
                  (PAGES / "phone_only_12345.html").read_bytes(), encoding="utf-8")
        _add_page(store, archive, campaign, "330100", hz + "/files/a.pdf", b"%PDF-1.4 binary",
                  "application/pdf", None, text="附件说明\n政务服务便民热线12345，全天候服务。")
        archive.close()

        summary = extract(store, campaign, rs)
        assert summary["pages"] == 7 and summary["findings"] > 0 and summary["pages_per_s"] > 0
        rows = store.evidence(campaign)
        again = extract(store, campaign, rs, full=True)
        rows2 = store.evidence(campaign)
        assert again["findings"] == summary["findings"] == len(rows2) == len(rows)
        # nothing changed since: the evidence is reused and no page is even read
        reused = extract(store, campaign, rs)
        assert reused["mode"].startswith("reused") and reused["pages"] == 0
        assert store.evidence(campaign) == rows2
        strip = [{k: v for k, v in r.items() if k not in ("id", "extracted_at")} for r in rows]
        assert strip == [{k: v for k, v in r.items() if k not in ("id", "extracted_at")} for r in rows2]

    by = {}
    for r in rows:
        by.setdefault((r["site_id"], r["leaf_id"]), []).append(r)
    assert ("330100", "hotline_12345") in by
    assert ("330100", "service_portal_link") in by and ("330100", "open_data_link") in by
    assert ("330100", "digital_gov_plan") in by and ("330100", "policy_interpretation") in by
    # the provincial regulation reposted on the city's site counts for the province only
    assert ("330100", "data_security_regulation") not in by
    prov = by[("330000", "data_security_regulation")][0]
    values = json.loads(prov["values"])
    # the adoption note right under the title names the adopting body (the congress in plenary session),
    # which wins over the metadata table's publisher (its standing committee): both are the province's own
    assert values["issuer"] == "浙江省人民代表大会" and values["checks"]["issued_by_target"] is True
    # nothing from the phone-number page; the GBK page counts; an attachment's text is a document,
    # never page furniture, so the hotline named in it is no entry (extractors/body.py)
    urls = {r["url"] for r in by[("330100", "hotline_12345")]}
    assert not any(u.endswith("/phone.html") for u in urls)
    assert any(u.endswith("/gbk.html") for u in urls) and not any(u.endswith("/a.pdf") for u in urls)
    for r in rows:
        assert r["rule_version"] == rs.rule(r["rule_id"]).version and r["points"] > 0


def test_extract_uses_as_of(tmp_path, rs):
    reg = _registry_subset("330100")
    with Store(tmp_path / "w.db") as store:
        store.open_campaign("c", reg)
        archive = WarcArchive(store.campaign_dir("c") / "warc", "c")
        _add_page(store, archive, "c", "330100", "https://www.hangzhou.gov.cn/art/2022/11/25/art_1_2.html",
                  (PAGES / "hanweb_policy_hangzhou.html").read_bytes(), encoding="utf-8")
        archive.close()
        extract(store, "c", rs, as_of="2022-01-01")
        assert not [r for r in store.evidence("c") if r["leaf_id"] == "digital_gov_plan"]
        extract(store, "c", rs)
        assert [r for r in store.evidence("c") if r["leaf_id"] == "digital_gov_plan"]


def test_pages_nested_deeper_than_libxml2_allows(rs):
    deep = "<html><body><p>开头</p>" + "<div><font>" * 5000 + "政务服务便民热线12345" + "</body></html>"
    page = parse_html(deep, "http://www.x.gov.cn/")
    assert "政务服务便民热线12345" in page.text
    assert any(f.leaf_id == "hotline_12345" for f in run_rules(page, rs, Context()))


METADATA_LAYOUTS = {
    "gov.cn table with bold labels": (
        '<table class="bd1"><tbody><tr><td><b>索&nbsp;&nbsp;引&nbsp;&nbsp;号：</b></td><td>000014349/2022-00038</td>'
        '<td><b>主题分类：</b></td><td>科技、教育\\其他</td></tr><tr><td><b>发文机关：</b></td><td>国务院</td>'
        '<td><b>成文日期：</b></td><td>2022年06月06日</td></tr><tr><td><b>标　　题：</b></td>'
        '<td colspan="3">国务院关于加强数字政府建设的指导意见</td></tr><tr><td><b>发文字号：</b></td>'
        '<td>国发〔2022〕14号</td><td><b>发布日期：</b></td><td>2022年06月23日</td></tr></tbody></table>',
        {"title": "国务院关于加强数字政府建设的指导意见", "doc_number": "国发〔2022〕14号", "issuer": "国务院",
         "written_date": "2022年06月06日", "published_date": "2022年06月23日"}),
    "gkmlpt span pairs with an empty 文号": (
        '<div class="classify"><table><tr><td><span>索引号：</span><span>11440100MB2C92051E/2023-00123</span></td>'
        '<td><span>分类：</span><span>综合政务</span></td></tr><tr><td><span>发布机构：</span>'
        '<span>广州市人民政府办公厅</span></td><td><span>成文日期：</span><span>2023-03-01</span></td></tr>'
        '<tr><td><span>名称：</span><span>广州市数字政府改革建设“十四五”规划</span></td></tr>'
        '<tr><td><span>文号：</span><span></span></td><td><span>发布日期：</span><span>2023-03-05</span></td></tr>'
        '</table></div>',
        {"title": "广州市数字政府改革建设“十四五”规划", "doc_number": "", "issuer": "广州市人民政府办公厅",
         "written_date": "2023-03-01", "published_date": "2023-03-05"}),
    "bracketed labels": (
        '<ol><li><span>[标题]</span>北京市公共数据管理办法</li><li><span>[发文机构]</span>北京市人民政府</li>'
        '<li><span>[发文字号]</span>京政发〔2023〕5号</li><li><span>[成文日期]</span>2023年06月01日</li></ol>',
        {"title": "北京市公共数据管理办法", "doc_number": "京政发〔2023〕5号", "issuer": "北京市人民政府",
         "written_date": "2023年06月01日"}),
    "label and value in one cell": (
        '<table><tr><td>发布机构 杭州市人民政府办公厅</td></tr><tr><td>成文日期 2022-01-02</td></tr>'
        '<tr><td>有效性 有效</td></tr></table><h1>杭州市公共数据安全管理办法</h1>',
        {"title": "杭州市公共数据安全管理办法", "issuer": "杭州市人民政府办公厅", "written_date": "2022-01-02",
         "validity": "有效"}),
    "one line of label：value pairs": (
        '<h1>关于印发杭州市数字政府建设实施方案的通知</h1><p>发布机构：杭州市人民政府办公厅　　'
        '文号：杭政办函〔2023〕5号　　发布日期：2023-02-01</p>',
        {"doc_number": "杭政办函〔2023〕5号", "issuer": "杭州市人民政府办公厅", "published_date": "2023-02-01"}),
}


@pytest.mark.parametrize("layout", sorted(METADATA_LAYOUTS))
def test_metadata_layouts(layout):
    html, expected = METADATA_LAYOUTS[layout]
    doc = parse_html(html, "https://www.example.gov.cn/a.html").document
    assert doc is not None
    values = doc.values()
    for k, v in expected.items():
        assert values[k] == v, (k, values)


def test_news_page_is_not_a_document():
    html = ('<h1>我市召开数字政府建设推进会</h1><p class="info">信息来源：市政府办公厅　发布时间：2023-05-06</p>'
            '<p>会议强调，要深化数字政府建设。</p>')
    assert parse_html(html, "https://www.example.gov.cn/").document is None


def test_search_form_labels_are_not_metadata():
    html = ('<form><select name="field"><option>标题</option><option>文号</option><option>发文机关</option>'
            '<option>全文</option></select><input name="q"></form><h1>我市召开数字政府建设推进会</h1>'
            '<p>会议强调……</p>')
    assert parse_html(html, "https://www.example.gov.cn/").document is None
