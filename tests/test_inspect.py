"""`windvane inspect` over saved government pages (tests/fixtures/pages) and via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extractors.inspect import InspectError, inspect_inputs

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"


def _run(rs, name, **kw):
    return inspect_inputs([str(PAGES / name)], rs, **kw)


def _leaves(findings):
    return {f["indicator_id"] for f in findings if f["kind"] == "finding"}


def _doc(findings):
    docs = [f for f in findings if f["kind"] == "document"]
    assert len(docs) == 1
    return docs[0]


def test_trs_policy_document(rs):
    out = _run(rs, "trs_policy_chengdu.html")
    doc = _doc(out)
    assert doc["values"]["title"] == "成都市公共数据管理应用规定"
    assert doc["values"]["doc_number"] == "成府发〔2021〕32号"
    assert doc["values"]["issuer"] == "成都市人民政府办公厅"
    assert doc["values"]["written_date"] == "2021年12月24日"
    assert doc["values"]["published_date"] == "2021年12月30日"
    assert doc["values"]["validity"] == "有效" and doc["values"]["is_draft"] is False
    reg = [f for f in out if f["indicator_id"] == "data_security_regulation"]
    assert reg and reg[0]["checks"]["issued_by_target"] == "not_evaluated"
    assert reg[0]["checks"]["in_force"] is True and reg[0]["checks"]["before_cutoff"] is True
    assert "policy_interpretation" in _leaves(out)


def test_hanweb_policy_document_with_target(rs, registry):
    out = _run(rs, "hanweb_policy_hangzhou.html", target="capital-330100", registry=registry)
    doc = _doc(out)
    assert doc["values"]["doc_number"] == "杭政〔2022〕39号"
    assert doc["values"]["issuer"] == "杭州市人民政府"
    assert doc["values"]["validity"] == "现行有效"
    plan = [f for f in out if f["indicator_id"] == "digital_gov_plan"]
    assert plan and plan[0]["checks"]["issued_by_target"] is True
    assert plan[0]["snippet"] == "杭州市人民政府关于深化数字政府建设的实施意见"
    interp = [f for f in out if f["indicator_id"] == "policy_interpretation"]
    assert len(interp) == 1 and "文字解读" in interp[0]["snippet"]  # the nav's 政策解读 column is not one


def test_home_page_links_and_hotline(rs):
    out = _run(rs, "home_hangzhou.html")
    assert {"hotline_12345", "service_portal_link", "open_data_link"} <= _leaves(out)
    hot = [f for f in out if f["rule_id"] == "hotline_12345.link_text"]
    assert hot and hot[0]["values"]["href"] == "http://12345.hangzhou.gov.cn/"
    # the 政务服务 column on the portal's own host and news articles are not service-portal links
    hrefs = {f["values"]["href"] for f in out if f["indicator_id"] == "service_portal_link"}
    assert hrefs == {"http://hz.zjzwfw.gov.cn/", "https://www.zjzwfw.gov.cn/"}
    # text findings point into the page's visible text
    from extractors.engine import decode_body, parse_html
    page = parse_html(decode_body((PAGES / "home_hangzhou.html").read_bytes())[0])
    for f in out:
        if f["rule_id"] == "hotline_12345.text":
            assert page.text[f["start"]:f["end"]] == f["snippet"]
            assert "12345" in f["snippet"]
    assert not any("三季度" in f["snippet"] for f in out)


def test_phone_number_containing_12345_is_no_hotline(rs):
    out = _run(rs, "phone_only_12345.html")
    assert "hotline_12345" not in _leaves(out)


def test_gbk_pages_with_and_without_declaration(rs):
    declared = _run(rs, "gbk_declared_shijiazhuang.html")
    assert "hotline_12345" in _leaves(declared) and "service_portal_link" in _leaves(declared)
    undeclared = _run(rs, "gbk_undeclared.html")
    hot = [f for f in undeclared if f["indicator_id"] == "hotline_12345"]
    assert hot and "热线" in hot[0]["snippet"]
    from extractors.engine import decode_body
    text, enc = decode_body((PAGES / "gbk_declared_shijiazhuang.html").read_bytes())
    assert enc == "gb18030" and "赵喆" in text  # declared gb2312, holds a GBK-only character
    text, enc = decode_body((PAGES / "gbk_undeclared.html").read_bytes())
    assert enc == "gb18030" and "镕基喆" in text


def test_draft_for_comment_is_no_regulation(rs, registry):
    out = _run(rs, "draft_consultation_guangzhou.html", target="capital-440100", registry=registry)
    assert "data_security_regulation" not in _leaves(out)
    doc = _doc(out)
    assert doc["values"]["is_draft"] is True and doc["checks"]["not_draft"] is False
    assert doc["values"]["issuer"] == "广州市政务服务数据管理局"


def test_abolished_document_is_not_in_force(rs, registry):
    out = _run(rs, "abolished_policy_wuhan.html", target="capital-420100", registry=registry)
    assert "data_security_regulation" not in _leaves(out)
    doc = _doc(out)
    assert doc["checks"]["in_force"] is False and doc["values"]["validity"] == "失效"
    assert doc["values"]["doc_number"] == "武政办〔2018〕86号"


def test_reposted_provincial_regulation_on_city_site(rs, registry):
    name = "reposted_provincial_on_hangzhou.html"
    unknown = [f for f in _run(rs, name) if f["indicator_id"] == "data_security_regulation"]
    assert unknown and unknown[0]["checks"]["issued_by_target"] == "not_evaluated"
    city = _run(rs, name, target="capital-330100", registry=registry)
    assert "data_security_regulation" not in _leaves(city)
    assert _doc(city)["checks"]["issued_by_target"] is False
    province = _run(rs, name, target="province-330000", registry=registry)
    found = [f for f in province if f["indicator_id"] == "data_security_regulation"]
    assert found and found[0]["checks"]["issued_by_target"] is True


def test_as_of_moves_the_cutoff(rs):
    out = _run(rs, "hanweb_policy_hangzhou.html", as_of="2022-06-30")
    assert "digital_gov_plan" not in _leaves(out)
    assert _doc(out)["checks"]["before_cutoff"] is False


def test_text_file_input(rs):
    out = _run(rs, "hotline_notice.txt")
    assert "hotline_12345" in _leaves(out)
    assert not any("88812345" in f["snippet"] for f in out)


def test_missing_input_and_unknown_target(rs, registry):
    with pytest.raises(InspectError):
        inspect_inputs([str(PAGES / "nope.html")], rs)
    with pytest.raises(InspectError):
        _run(rs, "home_hangzhou.html", target="no-such-target", registry=registry)


def test_cli_inspect_json(cli):
    proc = cli("inspect", str(PAGES / "trs_policy_chengdu.html"), str(PAGES / "phone_only_12345.html"), "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    doc = next(f for f in data if f["kind"] == "document")
    assert doc["values"]["doc_number"] == "成府发〔2021〕32号"
    assert all({"input", "indicator_id", "rule_id", "rule_version", "snippet", "start", "end", "values",
                "checks"} <= f.keys() for f in data)
    assert not [f for f in data if f["input"].endswith("phone_only_12345.html")]


def test_cli_inspect_with_target(cli):
    proc = cli("inspect", str(PAGES / "reposted_provincial_on_hangzhou.html"), "--target", "capital-330100",
               "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert not [f for f in data if f["indicator_id"] == "data_security_regulation"]
    proc = cli("inspect", str(PAGES / "nope.html"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
