"""Policy documents as the real web shows them (issue 7, part 3, the document classes).

Each test runs the real extractor (``extractors.inspect.inspect_inputs``, what ``windvane inspect``
runs) over a hand-written page whose wording and markup differ from the rules' examples and
from the simulated web's templates: regulations printed as body text with only an adoption or
promulgation note, decree and announcement numbers as 文号, dates in Chinese numerals, undated
documents, and working days on the Chinese holiday calendar. Every class has negative cases.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from extractors.inspect import inspect_inputs
from extractors.rules import load_rules

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(rs, registry, tmp_path):
    """inspect one page (HTML text) for a target; returns the findings and the document record."""
    counter = iter(range(1000))

    def _run(html: str, target: str | None = None, as_of: str | None = None,
             url: str = "https://www.example.gov.cn/art/2023/1/1/art_1_1.html") -> tuple[list[dict], dict | None]:
        p = tmp_path / f"page{next(counter)}.html"
        p.write_text(f'<!-- saved from url=(0060){url} -->\n{html}', encoding="utf-8")
        out = inspect_inputs([str(p)], rs, target=target, as_of=as_of, registry=registry if target else None)
        docs = [f for f in out if f["kind"] == "document"]
        return [f for f in out if f["kind"] == "finding"], (docs[0] if docs else None)

    return _run


def leaves(findings: list[dict]) -> set[str]:
    return {f["indicator_id"] for f in findings}


# --- 1. regulations shown as body text: title, then an adoption or promulgation note --------------
SHANGHAI_REG = """<html><head><meta charset="utf-8"><title>上海市数据条例-上海人大</title></head><body>
<div class="top">上海人大　首页 | 法规库 | 代表工作</div>
<div class="wz_box"><div class="wz_tit">上海市数据条例</div>
<div class="wz_con">
<p style="text-align:center">（2021年11月25日上海市第十五届人民代表大会常务委员会第三十七次会议通过）</p>
<p>第一章　总　　则</p>
<p>第一条　为了保护自然人、法人和非法人组织与数据有关的权益，规范数据处理活动，促进数据依法有序自由流动，
根据有关法律、行政法规，结合本市实际，制定本条例。</p>
<p>第九十一条　本条例自2022年1月1日起施行。</p></div></div></body></html>"""


def test_congress_regulation_body_text_is_the_targets_own(run) -> None:
    found, doc = run(SHANGHAI_REG, target="province-310000")
    assert doc is not None
    v = doc["values"]
    assert v["title"] == "上海市数据条例"
    assert v["issuer"] == "上海市人民代表大会常务委员会"
    assert v["date"] == "2021-11-25"
    assert doc["checks"]["issued_by_target"] is True and doc["checks"]["before_cutoff"] is True
    assert {"data_legislation", "data_security_regulation"} <= leaves(found)


def test_the_same_regulation_on_another_provinces_site_is_not_its_own(run) -> None:
    found, doc = run(SHANGHAI_REG, target="province-320000")  # 江苏省 reposts Shanghai's regulation
    assert doc is not None and doc["values"]["issuer"] == "上海市人民代表大会常务委员会"
    assert doc["checks"]["issued_by_target"] is False
    assert not {"data_legislation", "data_security_regulation"} & leaves(found)


def test_provincial_regulation_published_by_a_city_department_is_the_provinces(run) -> None:
    html = """<html><head><title>江苏省数字经济促进条例_南京市人民政府</title></head><body>
<table class="xxgk"><tr><td>索引号：</td><td>11320100MB1234567X/2022-01234</td><td>发布机构：</td><td>南京市司法局</td></tr>
<tr><td>发布日期：</td><td>2022-06-01</td><td>文号：</td><td></td></tr></table>
<h2>江苏省数字经济促进条例</h2><p>（2022年5月31日江苏省第十三届人民代表大会常务委员会第三十次会议通过）</p>
<p>第一条　为了……</p></body></html>"""
    found, doc = run(html, target="capital-320100")
    assert doc["values"]["issuer"] == "江苏省人民代表大会常务委员会"
    assert doc["checks"]["issued_by_target"] is False
    assert not {"data_legislation", "data_security_regulation"} & leaves(found)


def test_regulation_made_by_a_city_congress_and_approved_by_the_province(run) -> None:
    html = """<html><head><title>无锡市数据条例</title></head><body><h1>无锡市数据条例</h1>
<p>（2023年6月29日无锡市第十七届人民代表大会常务委员会第十一次会议制定　2023年7月27日江苏省第十四届人民代表大会常务委员会第四次会议批准）</p>
<p>第一条　……</p></body></html>"""
    found, doc = run(html, target="gdp100-320200")
    assert doc["values"]["issuer"] == "无锡市人民代表大会常务委员会" and doc["values"]["date"] == "2023-07-27"
    assert "data_legislation" in leaves(found)


def test_note_only_further_down_the_body_after_a_table_of_contents(run) -> None:
    html = """<html><head><title>重庆市数据条例_重庆人大</title></head><body>
<h3 class="detail-title">重庆市数据条例</h3>
<div class="detail-info">来源：市人大常委会办公厅　浏览次数：1024</div>
<div class="detail-body"><p>目　录</p><p>第一章　总则</p><p>第二章　数据资源</p><p>第三章　数据安全</p>
<p>第四章　附则</p><p><br></p>
<p>第一章　总则</p><p>第一条　为了规范数据处理活动，保障数据安全……制定本条例。</p>
<p>第五十二条　本条例自2022年7月1日起施行。</p>
<p align="right">（2022年3月30日重庆市第五届人民代表大会常务委员会第三十三次会议通过）</p></div></body></html>"""
    found, doc = run(html, target="province-500000")
    assert doc is not None and doc["values"]["issuer"] == "重庆市人民代表大会常务委员会"
    assert doc["values"]["date"] == "2022-03-30"
    assert doc["values"]["fields"]["effective_date"] == "2022-07-01"
    assert "data_legislation" in leaves(found)


def test_announcement_heading_page_takes_the_named_regulation_and_its_signature_date(run) -> None:
    html = """<html><head><title>广东省第十三届人民代表大会常务委员会公告（第87号）</title></head><body>
<div class="article"><h1>广东省第十三届人民代表大会常务委员会公告（第87号）</h1>
<div class="content"><p>　　《广东省数字经济促进条例》已由广东省第十三届人民代表大会常务委员会第三十三次会议于2021年7月30日通过，
现予公布，自2021年9月1日起施行。</p>
<p align="right">广东省第十三届人民代表大会常务委员会</p><p align="right">2021年7月30日</p>
<p align="center">广东省数字经济促进条例</p><p>第一章　总　则</p><p>第一条　为了促进数字经济发展……</p>
</div></div></body></html>"""
    found, doc = run(html, target="province-440000")
    assert doc is not None
    v = doc["values"]
    assert v["title"] == "广东省数字经济促进条例"
    assert v["doc_number"] == "广东省第十三届人民代表大会常务委员会公告第87号"
    assert v["issuer"] == "广东省人民代表大会常务委员会"
    assert v["date"] == "2021-07-30"
    assert "data_legislation" in leaves(found)


SUZHOU_REG = """<html><head><title>苏州市数据条例</title></head><body><div class="main">
<h2>苏州市数据条例</h2>
<p class="tizhu">(2022年12月28日苏州市第十七届人民代表大会常务委员会第六次会议通过 2023年3月30日江苏省第十四届人民代表大会常务委员会第二次会议批准)</p>
<p>第一条 为了规范数据处理活动，促进数据依法有序流动……</p></div></body></html>"""


def test_city_regulation_approved_by_the_province_is_the_citys(run) -> None:
    found, doc = run(SUZHOU_REG, target="gdp100-320500")
    assert doc is not None and doc["values"]["issuer"] == "苏州市人民代表大会常务委员会"
    assert doc["values"]["date"] == "2023-03-30"  # in force once approved
    assert "data_legislation" in leaves(found)


def test_city_regulation_approved_by_the_province_is_not_the_provinces(run) -> None:
    found, doc = run(SUZHOU_REG, target="province-320000")
    assert doc is not None and doc["checks"]["issued_by_target"] is False
    assert "data_legislation" not in leaves(found)


def test_relative_congress_name_and_chinese_numeral_note_with_an_amendment(run) -> None:
    html = """<html><head><title>浙江省数字经济促进条例_浙江省人民政府</title></head><body>
<div class="con"><div class="title">浙江省数字经济促进条例</div>
<p>（二〇二〇年十二月二十四日省十三届人大常委会第二十六次会议通过　根据2023年12月1日省十四届人大常委会第六次会议《关于修改部分地方性法规的决定》修正）</p>
<p>第一章　总则</p><p>第一条　为了促进数字经济发展……</p></div></body></html>"""
    found, doc = run(html, target="province-330000")
    assert doc is not None and doc["values"]["date"] == "2020-12-24"  # enactment, not the later amendment
    assert doc["checks"]["issued_by_target"] is True
    assert "data_legislation" in leaves(found)
    found, doc = run(html, target="capital-330100")  # the province's regulation on 杭州's site
    assert doc["checks"]["issued_by_target"] is False and "data_legislation" not in leaves(found)


def test_national_law_on_a_provincial_site_is_not_the_provinces(run) -> None:
    html = """<html><head><title>中华人民共和国数据安全法</title></head><body><h1>中华人民共和国数据安全法</h1>
<p>（2021年6月10日第十三届全国人民代表大会常务委员会第二十九次会议通过）</p><p>第一章　总则</p></body></html>"""
    found, doc = run(html, target="province-330000")
    assert doc is not None and doc["values"]["issuer"] == "全国人民代表大会常务委员会"
    assert not {"data_legislation", "data_security_regulation"} & leaves(found)


def test_news_about_an_adoption_is_not_a_regulation(run) -> None:
    html = """<html><head><title>我省首部数据领域基础性法规出台_浙江省人民政府</title></head><body>
<h1>我省首部数据领域基础性法规出台</h1><div class="info">发布时间：2022-01-22　来源：浙江日报</div>
<div class="TRS_Editor"><p>1月21日，浙江省第十三届人民代表大会常务委员会第三十三次会议表决通过《浙江省公共数据条例》，
自2022年3月1日起施行。条例共九章五十二条……</p></div></body></html>"""
    found, doc = run(html, target="province-330000")
    assert doc is None
    assert not {"data_legislation", "data_security_regulation"} & leaves(found)


def test_government_rules_promulgation_note_under_the_title(run) -> None:
    html = """<html><head><title>广州市公共数据安全管理规定</title></head><body>
<div class="zw-title">广州市公共数据安全管理规定</div>
<div class="zw-text"><p>（2023年5月8日广州市人民政府令第198号公布　自2023年7月1日起施行）</p>
<p>第一条　为了加强公共数据安全管理……</p></div></body></html>"""
    found, doc = run(html, target="capital-440100")
    assert doc is not None
    assert doc["values"]["doc_number"] == "广州市人民政府令第198号"
    assert doc["values"]["issuer"] == "广州市人民政府" and doc["values"]["date"] == "2023-05-08"
    assert "data_security_regulation" in leaves(found)


def test_special_zone_regulation_note_with_its_announcement_number(run) -> None:
    html = """<html><head><title>深圳经济特区数据条例 - 深圳人大网</title></head><body>
<div class="tit">深圳经济特区数据条例</div>
<div class="txt"><p>( 2021年6月29日深圳市第七届人民代表大会常务委员会第二次会议通过　2021年7月6日深圳市第七届人民代表大会常务委员会公告第十号公布　自2022年1月1日起施行 )</p>
<p>第一章　总　　则</p><p>第一条　为了规范数据处理活动……</p></div></body></html>"""
    found, doc = run(html, target="capital-440300")
    assert doc is not None
    v = doc["values"]
    assert v["title"] == "深圳经济特区数据条例" and v["issuer"] == "深圳市人民代表大会常务委员会"
    assert v["doc_number"] == "深圳市第七届人民代表大会常务委员会公告第十号"
    assert v["date"] == "2021-06-29"
    assert "data_legislation" in leaves(found)
    found, _doc = run(html, target="province-440000")  # on 广东省's site: the city's regulation
    assert "data_legislation" not in leaves(found)


@pytest.mark.parametrize("note,issuer,number,when", [
    ("（2023年2月8日河北省人民政府令〔2023〕第1号公布　自2023年4月1日起施行）", "河北省人民政府",
     "河北省人民政府令〔2023〕第1号", "2023-02-08"),
    ("(2022年9月30日省人民政府令第295号发布 自2022年12月1日起施行)", "省人民政府", "省人民政府令第295号", "2022-09-30"),
])
def test_promulgation_note_variants(run, note: str, issuer: str, number: str, when: str) -> None:
    html = f"""<html><head><title>河北省公共数据安全管理办法</title></head><body><div class="xl-title">河北省公共数据安全管理办法</div>
<div class="xl-text"><p>{note}</p><p>第一条　……</p></div></body></html>"""
    found, doc = run(html, target="province-130000")
    assert (doc["values"]["issuer"], doc["values"]["doc_number"], doc["values"]["date"]) == (issuer, number, when)
    assert doc["checks"]["issued_by_target"] is True  # 省人民政府 on the province's own site
    assert "data_security_regulation" in leaves(found)
    found, doc = run(html, target="capital-130100")  # the same page on 石家庄's site
    assert "data_security_regulation" not in leaves(found)


def test_law_database_labels_and_a_note_line_without_parentheses(run) -> None:
    html = """<html><head><title>福建省大数据发展条例-法规数据库</title></head><body>
<div class="fields"><ul><li>【发布部门】 福建省人大(含常委会)</li>
<li>【发文字号】 福建省人民代表大会常务委员会公告〔十三届〕第七十八号</li>
<li>【发布日期】 2021.12.15</li><li>【实施日期】 2022.02.01</li><li>【时效性】 现行有效</li>
<li>【效力级别】 省级地方性法规</li></ul></div>
<div class="fulltext"><p>福建省大数据发展条例</p>
<p>2021年12月15日福建省第十三届人民代表大会常务委员会第三十次会议通过</p><p>第一条　为了……</p></div></body></html>"""
    found, doc = run(html, target="province-350000")
    v = doc["values"]
    assert (v["title"], v["doc_number"], v["date"], v["validity"]) == (
        "福建省大数据发展条例", "福建省人民代表大会常务委员会公告〔十三届〕第七十八号", "2021-12-15", "现行有效")
    assert doc["checks"]["issued_by_target"] is True
    assert "data_legislation" in leaves(found)


def test_announcement_heading_with_a_term_number_and_no_metadata(run) -> None:
    html = """<html><head><title>福建省人民代表大会常务委员会公告</title></head><body><div class="main">
<p align="center">福建省人民代表大会常务委员会公告</p><p align="center">〔十三届〕第七十八号</p>
<p>《福建省大数据发展条例》已于2021年12月15日经福建省第十三届人民代表大会常务委员会第三十次会议通过，现予公布，自2022年2月1日起施行。</p>
<p align="right">福建省人民代表大会常务委员会</p><p align="right">二〇二一年十二月十五日</p></div></body></html>"""
    found, doc = run(html, target="province-350000")
    v = doc["values"]
    assert (v["title"], v["doc_number"], v["issuer"], v["date"]) == (
        "福建省大数据发展条例", "福建省人民代表大会常务委员会公告〔十三届〕第七十八号", "福建省人民代表大会常务委员会",
        "2021-12-15")
    assert "data_legislation" in leaves(found)


# --- 2. decree and announcement numbers as 文号 ----------------------------------------------------
def test_state_council_decree_page(run) -> None:
    html = """<html><head><title>关键信息基础设施安全保护条例_国务院文件_中国政府网</title></head><body>
<div class="article oneColumn pub_border"><h1>关键信息基础设施安全保护条例</h1>
<div class="pages-date">2021-08-17 17:00</div>
<div class="pages_content" id="UCAP-CONTENT"><p style="text-align:center">中华人民共和国国务院令</p>
<p style="text-align:center">第745号</p>
<p>　　《关键信息基础设施安全保护条例》已经2021年4月27日国务院第133次常务会议通过，现予公布，自2021年9月1日起施行。</p>
<p style="text-align:right">总理　　李克强</p><p style="text-align:right">2021年7月30日</p>
<p style="text-align:center">关键信息基础设施安全保护条例</p><p>第一章　总　　则</p></div></div></body></html>"""
    _found, doc = run(html, target="province-330000")
    assert doc is not None
    assert doc["values"]["doc_number"] == "国务院令第745号"
    assert doc["values"]["issuer"] == "国务院"
    assert doc["values"]["written_date"] == "2021-07-30"
    assert doc["checks"]["issued_by_target"] is False


def test_municipal_decree_with_a_chinese_numeral_signature_date(run) -> None:
    html = """<html><head><title>宁波市公共数据管理办法</title></head><body><div id="zoom">
<p align="center"><b>宁波市人民政府令</b></p><p align="center">第２６９号</p>
<p>《宁波市公共数据管理办法》已经2023年4月20日市人民政府第21次常务会议审议通过，现予发布，自2023年7月1日起施行。</p>
<p align="right">市　长　汤飞帆</p><p align="right">二〇二三年五月十日</p>
<p align="center">宁波市公共数据管理办法</p><p>第一条　为了……</p></div></body></html>"""
    found, doc = run(html, target="capital-330200")
    assert doc is not None
    assert doc["values"]["doc_number"] == "宁波市人民政府令第269号"
    assert doc["values"]["issuer"] == "宁波市人民政府"
    assert doc["values"]["date"] == "2023-05-10"
    assert "data_security_regulation" in leaves(found)


def test_announcement_number_split_over_two_lines_of_a_metadata_cell(run) -> None:
    html = """<html><head><title>江苏省数据条例</title></head><body>
<table class="xxgk"><tr><td>发布单位：</td><td>江苏省人民代表大会常务委员会</td></tr>
<tr><td>文件编号：</td><td>江苏省人民代表大会常务委员会公告<br>第３０号</td></tr>
<tr><td>发布日期：</td><td>2023-11-28</td></tr></table>
<h2>江苏省数据条例</h2><p>第一条　……</p></body></html>"""
    found, doc = run(html, target="province-320000")
    assert doc is not None
    assert doc["values"]["doc_number"] == "江苏省人民代表大会常务委员会公告第30号"
    assert doc["checks"]["before_cutoff"] is False  # published after the 2023-10-31 cut-off
    assert "data_legislation" not in leaves(found)


@pytest.mark.parametrize("number", ["杭市监罚决字〔2023〕8号", "苏政办发[2022]15号", "粤府函【2023】12号",
                                    "京政发(2021)9号", "浙政发〔２０２３〕１２号", "财政部 税务总局公告2023年第10号",
                                    "主席令第八十四号", "深府办规〔2023〕第3号"])
def test_document_numbers_on_a_line_of_their_own(run, number: str) -> None:
    html = f"""<html><head><title>关于进一步优化营商环境的若干措施的通知</title></head><body>
<h1>关于进一步优化营商环境的若干措施的通知</h1><p style="text-align:center">{number}</p>
<p>各区人民政府，市政府各部门：</p><p>现将有关事项通知如下。</p></body></html>"""
    _found, doc = run(html)
    assert doc is not None
    want = number.replace(" ", "").translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    assert doc["values"]["doc_number"] == want


def test_document_number_in_parentheses_after_the_title_but_not_a_cited_one(run) -> None:
    html = """<html><head><title>关于印发湖州市数字政府建设实施方案的通知（湖政办发〔2022〕31号）</title></head><body>
<table><tr><td>发布机构</td><td>湖州市人民政府办公室</td></tr><tr><td>成文日期</td><td>2022-09-02</td></tr></table>
<h1>关于印发湖州市数字政府建设实施方案的通知（湖政办发〔2022〕31号）</h1>
<p>为贯彻落实《浙江省人民政府关于深化数字政府建设的实施意见》（浙政发〔2022〕23号），现将方案印发给你们。</p></body></html>"""
    _found, doc = run(html)
    assert doc["values"]["doc_number"] == "湖政办发〔2022〕31号"
    cited = html.replace("（湖政办发〔2022〕31号）", "")
    _found, doc = run(cited)
    assert doc["values"]["doc_number"] == ""  # the number cited in the first sentence is another document's


def test_penalty_decision_number(run) -> None:
    html = """<html><head><title>行政处罚决定书</title></head><body><h2>杭州市市场监督管理局行政处罚决定书</h2>
<p>杭市监罚决字〔2023〕8号</p><p>当事人：某某科技有限公司</p></body></html>"""
    _found, doc = run(html)
    assert doc is not None and doc["values"]["doc_number"] == "杭市监罚决字〔2023〕8号"


def test_a_decree_number_cited_in_a_sentence_is_not_a_promulgation(run) -> None:
    html = """<html><head><title>市数据局召开数据安全工作会议</title></head><body><h1>市数据局召开数据安全工作会议</h1>
<p>会议传达学习了国务院令第745号《关键信息基础设施安全保护条例》，要求各单位认真落实。</p></body></html>"""
    found, doc = run(html, target="capital-330100")
    assert doc is None and not leaves(found) & {"data_security_regulation", "data_legislation"}


def test_decree_numbered_draft_for_comment_is_a_draft(run) -> None:
    html = """<html><head><title>杭州市公共数据授权运营管理办法</title></head><body>
<h1>杭州市公共数据授权运营管理办法</h1><p style="text-align:center">（征求意见稿）</p>
<p style="text-align:center">杭州市人民政府令</p><p style="text-align:center">第　　号</p>
<p>《杭州市公共数据授权运营管理办法》已经2023年　月　日市人民政府第　次常务会议审议通过，现予公布，自　年　月　日起施行。</p>
<p>第一条　……</p></body></html>"""
    found, doc = run(html, target="capital-330100")
    assert doc is None or doc["values"]["is_draft"] is True
    assert not {"data_security_regulation", "data_authorised_operation"} & leaves(found)


# --- 3. dates in Chinese numerals; undated documents ------------------------------------------------
def test_chinese_numeral_written_date_in_a_metadata_table(run) -> None:
    html = """<html><head><title>温州市公共数据管理办法</title></head><body>
<div class="xxgk"><dl><dt>发文机关</dt><dd>温州市人民政府</dd><dt>发文字号</dt><dd>温政发〔2022〕11号</dd>
<dt>成文日期</dt><dd>二〇二二年六月十五日</dd></dl></div><h1>温州市公共数据管理办法</h1></body></html>"""
    found, doc = run(html, target="gdp100-330300")
    assert doc is not None and doc["values"]["date"] == "2022-06-15"
    assert doc["checks"]["before_cutoff"] is True
    assert "data_security_regulation" in leaves(found)


@pytest.mark.parametrize("written,iso,ok", [("二○二二年十二月三十一日", "2022-12-31", True),
                                             ("二零二三年十一月二十日", "2023-11-20", False),
                                             ("２０２３年１２月１日", "2023-12-01", False)])
def test_chinese_and_full_width_dates_decide_the_cutoff(run, written: str, iso: str, ok: bool) -> None:
    html = f"""<html><head><title>嘉兴市数据安全管理办法</title></head><body>
<table><tr><th>发布机构</th><td>嘉兴市人民政府办公室</td><th>文号</th><td>嘉政办发〔2022〕40号</td></tr>
<tr><th>成文日期</th><td>{written}</td></tr></table><h1>嘉兴市数据安全管理办法</h1></body></html>"""
    found, doc = run(html, target="gdp100-330400")
    assert doc["values"]["date"] == iso
    assert doc["checks"]["before_cutoff"] is ok
    assert ("data_security_regulation" in leaves(found)) is ok


def test_undated_document_is_date_unknown_not_before_the_cutoff(run) -> None:
    html = """<html><head><title>绍兴市公共数据管理办法</title></head><body>
<table class="meta"><tr><td>发布机构：</td><td>绍兴市人民政府</td></tr><tr><td>文号：</td><td>绍政发〔2023〕7号</td></tr>
<tr><td>成文日期：</td><td></td></tr></table><h1>绍兴市公共数据管理办法</h1><p>第一条……</p></body></html>"""
    found, doc = run(html, target="gdp100-330600")
    assert doc is not None
    assert doc["values"]["date"] == "unknown"
    assert doc["checks"]["before_cutoff"] == "unknown"
    assert "date unknown" in doc["values"]["check_notes"]["before_cutoff"]
    assert "data_security_regulation" not in leaves(found)


def test_undated_body_text_regulation_is_not_evidence(run) -> None:
    html = """<html><head><title>湖州市数据条例</title></head><body><h1>湖州市数据条例</h1>
<p>（湖州市第九届人民代表大会常务委员会第十五次会议通过）</p><p>第一条　……</p></body></html>"""
    found, doc = run(html, target="gdp100-330500")
    assert doc is not None and doc["values"]["issuer"] == "湖州市人民代表大会常务委员会"
    assert doc["values"]["date"] == "unknown"
    assert "data_legislation" not in leaves(found)


# --- 4. working days on the Chinese holiday calendar (留言答复时效) --------------------------------
def _mailbox(rows: list[tuple[str, str]]) -> str:
    trs = "".join(f"<tr><td>市民来信{i}</td><td>{a}</td><td>{b}</td><td>已答复</td></tr>" for i, (a, b) in enumerate(rows))
    return ("<html><head><title>书记信箱选登</title></head><body><table class='xf'>"
            f"<tr><td>主题</td><td>写信日期</td><td>答复日期</td><td>办理状态</td></tr>{trs}</table></body></html>")


def _reply_rules(found: list[dict]) -> set[str]:
    return {f["rule_id"] for f in found if f["indicator_id"] == "message_reply_timeliness"}


def test_replies_across_the_national_day_holiday_are_fast_on_the_holiday_calendar(run) -> None:
    # 11-12 calendar days and 8-9 Mon-Fri days, but 3-4 working days: 2023-09-29..10-06 off, 10-07/08 worked
    rows = [("2023-09-27", "2023-10-09"), ("2023-09-28", "2023-10-09"), ("2023-09-28", "2023-10-10"),
            ("2023-09-27", "2023-10-08")]
    found, _doc = run(_mailbox(rows))
    rules = _reply_rules(found)
    assert "message_reply_timeliness.fast" in rules
    vals = next(f["values"] for f in found if f["rule_id"] == "message_reply_timeliness.fast")
    assert vals["median_workdays"] <= 5 and vals["median_days"] > 7
    assert vals["workday_calendar"].startswith("chinese-calendar")


def test_replies_across_a_makeup_working_weekend_are_not_fast(run) -> None:
    # 8 calendar days, 5 Mon-Fri days, but 6 working days (2023-05-06, a Saturday, was worked)
    rows = [("2023-05-05", "2023-05-13"), ("2023-04-21", "2023-04-29"), ("2023-04-14", "2023-04-23")]
    found, _doc = run(_mailbox(rows))
    rules = _reply_rules(found)
    assert "message_reply_timeliness.fast" not in rules
    assert "message_reply_timeliness.within_15_days" in rules


def test_years_the_calendar_does_not_cover_fall_back_to_monday_to_friday_and_say_so(run) -> None:
    rows = [("2031-03-03", "2031-03-06"), ("2031-03-10", "2031-03-12"), ("2031-04-01", "2031-04-04")]
    found, _doc = run(_mailbox(rows), as_of="2031-12-31")
    vals = next(f["values"] for f in found if f["rule_id"] == "message_reply_timeliness.fast")
    assert "Mon–Fri for 2031" in vals["workday_calendar"]


def test_workday_counts() -> None:
    from evidence.workdays import count_workdays

    assert count_workdays(date(2023, 9, 28), date(2023, 10, 9)).days == 3
    assert count_workdays(date(2023, 1, 20), date(2023, 1, 30)).days == 3  # 春节 off, 1-28/29 worked
    assert count_workdays(date(2023, 5, 5), date(2023, 5, 13)).days == 6
    assert count_workdays(date(2023, 3, 3), date(2023, 3, 10)).days == 5
    far = count_workdays(date(2031, 3, 7), date(2031, 3, 14))
    assert far.days == 5 and far.fallback_years == {2031}


# --- the simulated web's document forms: truth and extraction agree -----------------------------
DOC_LEAVES = ("data_legislation", "data_security_regulation", "data_authorised_operation", "policy_interpretation")


@pytest.fixture(scope="module")
def web(registry):
    from simweb.generate import SimWeb

    w = SimWeb(registry, 2023, "full")
    w.models()
    return w


@pytest.fixture(scope="module")
def document_forms(registry, web):
    """Every body-text document of the full-fault simulated web, rendered and extracted offline."""
    from extractors.engine import Context, parse_html, run_rule
    from extractors.run import site_targets
    from simweb.generate import site_truth

    ruleset = load_rules(ROOT / "rules")
    rules = [r for r in ruleset.rules if r.leaf_id in DOC_LEAVES]
    out = []
    for site in registry.sites:
        m = web.model(site.host)
        truth = site_truth(m)["leaves"]
        ctx = Context(date(2023, 10, 31), site_targets(registry, site.site_id))
        for it in m.items.values():
            if not (it.form or it.key.startswith("docform-")) or (
                    it.attachment is not None and it.attachment.kind == "evidence"):
                continue
            page = parse_html(m.family.render(m, m.pages[it.path]), m.base + it.path)
            found = {r.leaf_id for r in rules for _f in run_rule(r, page, ctx)}
            out.append({"site": site.site_id, "key": it.key, "form": it.form, "url": page.url, "found": found,
                        "truth": {leaf: page.url in truth[leaf]["urls"] for leaf in DOC_LEAVES},
                        "trap": {k for leaf in DOC_LEAVES for k, urls in
                                 ((d["kind"], d["urls"]) for d in truth[leaf]["trap_details"]) if page.url in urls},
                        "doc": page.document})
    return out


def test_simweb_prints_every_document_form_with_traps(document_forms) -> None:
    forms = {d["form"].split(":")[0] + ":" + ("own" if not d["key"].startswith("docform-") else d["key"])
             for d in document_forms}
    for want in ("congress_note:own", "decree:own", "congress_note:docform-repost", "congress_note:docform-approved",
                 "decree:docform-draft", "decree:docform-late", ":docform-dept-repost"):
        assert want in forms, want
    assert {d["trap"] and next(iter(d["trap"])) for d in document_forms if d["key"].startswith("docform-")} >= {
        "other_government", "draft", "undated", "after_cutoff"}
    subs = {d["form"] for d in document_forms}
    assert {"congress_note:after_title", "congress_note:announcement", "congress_note:in_body", "decree:heading",
            "decree:note", "undated:rules"} <= subs


def test_simweb_document_forms_are_found_exactly_where_the_truth_says(document_forms) -> None:
    wrong = [(d["site"], d["key"], d["form"], leaf) for d in document_forms for leaf in DOC_LEAVES
             if (leaf in d["found"]) != d["truth"][leaf]]
    assert not wrong, wrong[:10]
    # the own regulations really were re-printed without a metadata block, dated by their note
    own = [d for d in document_forms if not d["key"].startswith("docform-")]
    assert own and all(d["doc"] is not None and d["doc"].fields.get("promulgation") for d in own)
    undated = [d for d in document_forms if d["key"] == "docform-undated"]
    assert undated and all(d["doc"] is not None and d["doc"].date() is None for d in undated)


def test_simweb_document_numbers_are_recovered(registry, web) -> None:
    """The 文号 of the simulated documents (metadata tables in 〔〕, [], （）, 【】, ［］, full-width digits;
    decree headings; 公告 numbers) come out of the extractor as printed."""
    from extractors.document import normalize_number
    from extractors.engine import parse_html

    checked, wrong, dialects = 0, [], set()
    for site in registry.sites:
        m = web.model(site.host)
        for n, it in enumerate(m.items.values()):
            if it.kind != "doc" or (it.attachment is not None and it.attachment.kind == "evidence"):
                continue
            special = any(c in it.docno for c in "令公告【［０１２３４５６７８９[（") or it.key.startswith("docform-")
            if not special and n % 5:
                continue
            dialects |= {c for c in "令告【［[（０" if c in it.docno}
            doc = parse_html(m.family.render(m, m.pages[it.path]), m.base + it.path).document
            checked += 1
            if doc is None and not it.docno:
                continue  # a plain page without a number or a metadata block is no document
            if doc is None or doc.doc_number != normalize_number(it.docno):
                wrong.append((site.site_id, it.key, it.docno, doc and doc.doc_number))
    assert dialects >= set("令告【［[（０"), dialects
    assert checked > 1000 and not wrong, wrong[:10]


def test_windvane_inspect_reports_an_undated_document_as_date_unknown(tmp_path) -> None:
    from tests.conftest import run_cli

    page = tmp_path / "undated.html"
    page.write_text("""<html><head><meta charset="utf-8"><title>金华市政务数据共享管理办法</title></head><body>
<h1>金华市政务数据共享管理办法</h1><div class="info">来源：金华市人民政府办公室</div>
<p style="text-align:center">金政办发〔2023〕21号</p><p>第一条　为了推进政务数据共享……</p></body></html>""",
                    encoding="utf-8")
    proc = run_cli("inspect", str(page), "--target", "gdp100-330700", "--json", check=True)
    out = json.loads(proc.stdout)
    doc = next(f for f in out if f["kind"] == "document")
    assert doc["values"]["doc_number"] == "金政办发〔2023〕21号"
    assert doc["values"]["date"] == "unknown" and doc["checks"]["before_cutoff"] == "unknown"
    assert doc["checks"]["issued_by_target"] is True
    assert not any(f["indicator_id"] == "data_security_regulation" for f in out if f["kind"] == "finding")
    text = run_cli("inspect", str(page), "--target", "gdp100-330700", check=True).stdout
    assert "date unknown" in text and "before_cutoff: unknown" in text and "金政办发〔2023〕21号" in text
