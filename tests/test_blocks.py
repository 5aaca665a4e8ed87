"""Blocked is never absent: refusal pages recognised by what they are, Retry-After read as servers
send it, and one crawl per campaign.

The pages below are written by hand after real WAF, CAPTCHA and login pages (not the simulated
web's templates): other vendors, other words, other markup. The full campaign
(tests/test_full_campaign.py) checks the site statuses and the politeness end to end.
"""

from __future__ import annotations

import csv
import io
import signal
import subprocess
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from crawlers.blocks import block_reason
from crawlers.politeness import retry_after_seconds
from tests.conftest import ROOT, WINDVANE

NAV = "".join(f'<li><a href="/col/{i}/index.html">栏目{i}</a></li>' for i in range(30))

BLOCKS = {
    # 360 网站卫士 / 奇安信 style, served with 200
    "360_200": (200, '<html><head><meta charset="utf-8"><title>访问拦截</title></head><body><div class="err">'
                     '<h2>您的访问请求可能对网站造成安全威胁，请求已被网站卫士拦截。</h2><p>拦截编号：5f3c2a</p>'
                     '</div></body></html>', "block"),
    # Cloudflare, English, 403
    "cloudflare": (403, '<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>'
                        '<h1>Sorry, you have been blocked</h1><h2>You are unable to access gov.example</h2>'
                        '<p>Cloudflare Ray ID: 7d2f</p></body></html>', "block"),
    # IIS, GB2312-encoded
    "iis_gbk": (403, '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
                     '<title>403 - 禁止访问: 访问被拒绝。</title></head><body><div id="content"><h2>403 - 禁止访问: '
                     '访问被拒绝。</h2><h3>您无权使用所提供的凭据查看此目录或页面。</h3></div></body></html>', "block"),
    # a bare 451 with almost nothing to say
    "bare_451": (451, "<html><body><p>Unavailable</p></body></html>", "refusal"),
    # Tencent captcha wall
    "tcaptcha": (200, '<html><head><meta charset="utf-8"><title>安全检查</title><script src="https://ssl.captcha.qq.com/'
                      'TCaptcha.js"></script></head><body><p>当前访问环境存在风险，请点击按钮进行验证</p>'
                      '<button id="TencentCaptcha" data-appid="2046626881">验证</button></body></html>', "captcha"),
    # NetEase yidun slider, in a 403
    "yidun": (403, '<html><head><meta charset="utf-8"><title>请验证</title></head><body><div id="yidun-box"></div>'
                   '<p>请向右拖动滑块填充拼图</p><script src="//cstaticdun.126.net/load.min.js"></script>'
                   '<script>initNECaptcha({captchaId:"x",element:"#yidun-box"})</script></body></html>', "captcha"),
    # an image-code wall: one code field and a button
    "image_code_wall": (200, '<html><head><meta charset="utf-8"><title>访问验证</title></head><body><p>请输入验证码后继续访问'
                             '</p><form><img src="/verifycode.jpg"><input name="vcode"><input type="submit" value="确定">'
                             '</form></body></html>', "captcha"),
    # a provincial 政务服务网 login wall
    "sso": (200, '<html><head><meta charset="utf-8"><title>个人用户登录 - 政务服务网</title></head><body>'
                 '<div class="tab">个人登录 | 法人登录</div><form action="/sso/login" method="post">'
                 '<input name="loginname" placeholder="请输入用户名/手机号"><input type="password" name="pwd">'
                 '<input type="submit" value="登录"></form><a href="/reg">注册</a></body></html>', "login"),
}

CONTENT = {
    # news about intercepting fraud calls: small, but a portal page with navigation
    "news_intercept": (200, f'<html><head><meta charset="utf-8"><title>我市反诈中心拦截诈骗电话1.2万个</title></head>'
                            f'<body><ul class="nav">{NAV}</ul><div class="article"><h1>我市反诈中心拦截诈骗电话1.2万个</h1>'
                            '<p>今年以来，市反诈中心累计拦截诈骗电话1.2万个，止付涉案资金300余万元。</p></div></body></html>'),
    # a letter-to-the-mayor form with an image code: a form page, not a wall
    "mayor_mailbox": (200, f'<html><head><meta charset="utf-8"><title>市长信箱</title></head><body><ul>{NAV}</ul>'
                           '<form action="/hdjl/submit"><textarea name="content"></textarea><img src="/code.jsp" alt="验证码">'
                           '<input name="checkcode"><input type="submit" value="提交"></form></body></html>'),
    # a 12345 message form standing alone (no navigation), with an image code among its fields
    "hotline_form": (200, '<html><head><meta charset="utf-8"><title>我要留言</title></head><body><form method="post" '
                          'action="/api/appeal"><select name="type"><option>咨询</option><option>投诉</option></select>'
                          '<input name="title" placeholder="标题"><input name="tel" placeholder="联系电话">'
                          '<input name="code" placeholder="验证码"><img src="/captcha.jpg" class="yzm">'
                          '<button type="submit">提交</button></form></body></html>'),
    # a JavaScript cookie challenge is for the browser, not a block
    "challenge": (521, '<html><body><script>document.cookie="__jsl_clearance=1;path=/";location.href=location.pathname'
                       '</script></body></html>'),
    # a plain 404
    "not_found": (404, '<html><head><title>404 Not Found</title></head><body><h1>页面不存在</h1>'
                       '<a href="/">返回首页</a></body></html>'),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_refusal_pages_are_recognised_by_what_they_are(name: str) -> None:
    status, html, kind = BLOCKS[name]
    enc = "gb18030" if "gb2312" in html else "utf-8"
    found = block_reason(status, html.encode(enc), "text/html")
    assert found is not None, name
    assert found[0] == kind, found


@pytest.mark.parametrize("name", sorted(CONTENT))
def test_content_that_mentions_the_words_is_not_a_block(name: str) -> None:
    status, html = CONTENT[name]
    assert block_reason(status, html.encode("utf-8"), "text/html") is None


def test_429_is_a_rate_limit_never_content() -> None:
    assert block_reason(429, b"", None) == ("rate_limit", "HTTP 429 Too Many Requests (rate limited)")


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert retry_after_seconds(b"3") == 3.0
    now = time.time()
    wait = retry_after_seconds(formatdate(now + 10, usegmt=True), now=now)
    assert wait is not None and 9.0 <= wait <= 10.0
    assert retry_after_seconds(formatdate(now - 60, usegmt=True), now=now) == 0.0  # in the past: go now
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(b"86400") == 600.0  # capped: a day-long hold would stall the crawl


def _one_site_registry(tmp: Path, site_id: str) -> Path:
    text = (ROOT / "data" / "registry.csv").read_text(encoding="utf-8-sig")
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["site_id"] == site_id]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    path = tmp / "reg.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_a_second_crawl_of_a_running_campaign_is_refused_and_harms_nothing(tmp_path: Path) -> None:
    from simweb.server import SimWebProcess

    reg = _one_site_registry(tmp_path, "330400")
    store = tmp_path / "s.db"
    # Crawl-delay 1: a crawl that takes minutes, so the second one surely meets the first running
    with SimWebProcess(str(reg), faults="basic", access={"330400": "crawl_delay"}) as web:
        cmd = [WINDVANE, "crawl", "--registry", str(reg), "--proxy", web.proxy_url, "--store", str(store),
               "--campaign", "c", "--delay", "0", "--quiet"]
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            lock = store.with_suffix(".files") / "c" / "crawl.lock"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not (lock.exists() and lock.read_text().startswith("pid")):
                time.sleep(0.2)
            time.sleep(3)  # the first crawl has its JOBDIR and pages by now
            jobdir = store.with_suffix(".files") / "c" / "jobdir"
            assert jobdir.is_dir()
            second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert second.returncode == 2, second.stderr
            assert "being crawled right now" in second.stderr and f"pid {first.pid}" in second.stderr
            assert "Traceback" not in second.stderr
            assert jobdir.is_dir() and first.poll() is None  # the first crawl's state is untouched
        finally:
            first.send_signal(signal.SIGINT)  # a clean stop: its queue is kept for a resume
            first.wait(timeout=120)
    # the lock went with the first process: the campaign can be crawled (resumed) again
    again = subprocess.run([*cmd[:4], "http://127.0.0.1:9", *cmd[5:]], capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
    assert "being crawled" not in again.stderr
