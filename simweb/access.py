"""How a portal lets a crawler in — or does not: the access faults of the simulated web.

Real government portals sit behind WAFs (长亭雷池, 阿里云盾, 创宇盾, 安全狗, 网神), geo-blocks
for foreign addresses, CAPTCHA walls, single-sign-on login walls, JavaScript challenges that
headless browsers do not always pass, rate limiters answering 429 or 503 with
``Retry-After``, robots.txt files with ``Crawl-delay`` or behind the challenge itself, and
they go down (DNS, TLS, 5xx). Each site gets at most one access fault, its *kind*:

====================  ===========  ============================================================
kind                  expected     what the site does
====================  ===========  ============================================================
``waf_403``           blocked      every path answers a WAF block page (403/405, vendor varies)
``waf_200``           blocked      every path answers 200 with a text block page
``captcha``           blocked      every path answers 200 with a CAPTCHA shell (slider / image)
``login_wall``        blocked      every path 302s to a unified-login page
``challenge_fail``    blocked      a JavaScript cookie challenge that never accepts its cookie
``rate_limit_all``    blocked      429 with ``Retry-After`` on every request
``dns_fail``          unreachable  the proxy cannot resolve the host (CONNECT answered 502)
``tls_reset``         unreachable  the tunnel opens, then the connection drops at the handshake
``portal_5xx``        unreachable  every path answers 502 from an upstream gateway
``robots_5xx``        unreachable  robots.txt answers 503: RFC 9309 says assume complete disallow
``partial_waf``       partial      a WAF path rule refuses most article pages (403), not the rest
``rate_limit``        done         a token bucket: too fast gets 429 ``Retry-After: 2`` (seconds)
``retry_after_date``  done         a token bucket answering 503 with ``Retry-After`` as HTTP date
``crawl_delay``       done         robots.txt asks ``Crawl-delay: 0.5``
``robots_challenge``  done         a JavaScript challenge in front of robots.txt too, which
                                   disallows the site's calendar (a linked path)
====================  ===========  ============================================================

With ``faults="full"`` and a registry of at least ``MIN_SITES`` sites, one site per kind is
picked deterministically from the seed (``plan``); any registry can name its own with
``--access SITE=KIND`` (tests on a few sites do). The truth table records the kind and the
expected site status; the leaves' truth of a ``blocked``/``unreachable`` site is what the
site has, which a crawler cannot see (such sites are not assessed).
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from email.utils import formatdate
from html import escape
from typing import Any

EXPECTED = {
    "waf_403": "blocked", "waf_200": "blocked", "captcha": "blocked", "login_wall": "blocked",
    "challenge_fail": "blocked", "rate_limit_all": "blocked",
    "dns_fail": "unreachable", "tls_reset": "unreachable", "portal_5xx": "unreachable", "robots_5xx": "unreachable",
    "partial_waf": "partial",
    "rate_limit": "done", "retry_after_date": "done", "crawl_delay": "done", "robots_challenge": "done",
}
KINDS = tuple(EXPECTED)
MIN_SITES = 40  # smaller registries (tests) get access faults only when they ask for them
RATE_BUCKET = 8  # requests a rate-limited host takes at once ...
RATE_PER_S = 5.0  # ... refilled at this rate
RETRY_AFTER_S = 2
CRAWL_DELAY_S = 0.5


def plan(site_ids: list[str], seed: int) -> dict[str, str]:
    """site_id -> kind: one site per kind, chosen by a seeded hash (deterministic, registry order free)."""
    if len(site_ids) < MIN_SITES:
        return {}
    out: dict[str, str] = {}
    for kind in KINDS:
        ranked = sorted(site_ids, key=lambda s: hashlib.sha1(f"{seed}:{kind}:{s}".encode()).hexdigest())
        out[next(s for s in ranked if s not in out)] = kind
    return out


def parse_overrides(specs: list[str] | None) -> dict[str, str]:
    """``["SITE=KIND", ...]`` as a dict; ValueError naming a bad item."""
    out: dict[str, str] = {}
    for spec in specs or []:
        site, sep, kind = spec.partition("=")
        if not sep or kind not in EXPECTED:
            raise ValueError(f"--access {spec!r}: expected SITE=KIND with KIND one of {', '.join(KINDS)}")
        out[site.strip()] = kind
    return out


# --- pages ------------------------------------------------------------------------------------
def _event_id(host: str, path: str) -> str:
    return hashlib.md5(f"{host}{path}{int(time.time() // 60)}".encode()).hexdigest()[:24]


def _rng(host: str) -> random.Random:
    return random.Random(hashlib.sha1(host.encode()).hexdigest())


def waf_page(host: str, path: str) -> tuple[int, str, str]:
    """(status, reason, html) of a WAF block page; the vendor (and its status) follows the host."""
    eid = _event_id(host, path)
    kind = _rng(host).choice(["safeline", "aliyun", "yunaq", "safedog", "geo", "nginx"])
    if kind == "safeline":
        return 403, "Forbidden", (
            '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8"><title>请求已被拦截</title>'
            '<style>body{font-family:sans-serif;background:#f5f6fa}.box{margin:12% auto;width:480px}</style></head>'
            '<body><div class="box"><h1>您的请求疑似存在攻击行为</h1>'
            f'<p>如果您是网站管理员，请登录雷池控制台查看事件详情。</p><p>事件 ID：{eid}</p></div></body></html>')
    if kind == "aliyun":
        return 405, "Not Allowed", (
            '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"><title>405</title></head>'
            '<body><div id="block"><h2>很抱歉，由于您访问的URL有可能对网站造成安全威胁，您的访问被阻断。</h2>'
            f'<p>您的请求ID是：<b>{eid}</b></p></div></body></html>')
    if kind == "yunaq":
        return 403, "Forbidden", (
            '<!doctype html><html><head><meta charset="utf-8"><title>访问被拦截</title></head><body>'
            '<div class="wrap"><div class="tit">当前访问疑似黑客攻击，已被网站防护拦截</div>'
            f'<table><tr><td>拦截时间</td><td>{time.strftime("%Y-%m-%d %H:%M:%S")}</td></tr>'
            f'<tr><td>请求ID</td><td>{eid}</td></tr></table>'
            '<p>如果您是网站管理员，请联系服务商处理</p></div></body></html>')
    if kind == "safedog":
        return 403, "Forbidden", (
            '<html><head><meta charset="gb2312"><title>网站防火墙</title></head><body>'
            '<div><img src="/safedog_logo.png" alt=""><h3>您的请求带有不合法参数，已被网站管理员设置拦截！</h3>'
            '<p>可能原因：您提交的内容包含危险的攻击请求</p><p>如何解决：检查提交内容；如网站托管，请联系空间提供商</p>'
            '</div></body></html>')
    if kind == "geo":
        return 403, "Forbidden", (
            '<html><head><meta charset="utf-8"><title>访问受限</title></head><body><center>'
            '<h2>对不起，您所在的地区暂时无法访问本网站</h2><p>Access from your region is restricted.</p>'
            f'<p>{eid}</p></center></body></html>')
    return 403, "Forbidden", ("<html><head><title>403 Forbidden</title></head><body><center><h1>403 Forbidden"
                              "</h1></center><hr><center>nginx</center></body></html>")


def block_page_200(host: str) -> str:
    """A block page served with 200: rate or bot protection that answers in text, not status."""
    if _rng(host).random() < 0.5:
        return ('<html><head><meta charset="utf-8"><title>提示信息</title></head><body>'
                '<div class="tips"><p>您的访问过于频繁，已被系统暂时限制访问，请稍后再试。</p>'
                '<p>如有疑问请联系网站管理员。</p></div></body></html>')
    return ('<html><head><meta charset="utf-8"><title>安全提示</title></head><body>'
            '<div class="main"><h2>系统检测到您的访问存在异常</h2><p>为保障网站安全，您的访问已被拒绝。'
            '</p><p>Your access has been denied by the website security system.</p></div></body></html>')


def captcha_page(host: str, path: str) -> str:
    """A CAPTCHA shell (slider or image code) in front of every page."""
    if _rng(host).random() < 0.5:
        return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>安全验证</title>'
                '<script src="/static/js/gt4.js"></script></head><body><div class="verify">'
                '<p>请完成下方验证后继续访问</p><div id="captcha-box"></div>'
                '<p class="hint">拖动滑块完成拼图</p></div><script>initGeetest4({captchaId:"'
                + hashlib.md5(host.encode()).hexdigest() + '",product:"float"},function(c){c.appendTo("#captcha-box");'
                'c.onSuccess(function(){document.forms[0]&&document.forms[0].submit();});});</script>'
                f'<form method="post" action="/verify"><input type="hidden" name="back" value="{escape(path)}"></form>'
                '</body></html>')
    return ('<html><head><meta charset="utf-8"><title>访问验证</title></head><body><form method="post" action="/waf/verify">'
            '<p>为确认本次访问为正常用户行为，请输入验证码：</p><img src="/waf/captcha.jpg?r=' + str(int(time.time()))
            + '" alt="验证码"><input type="text" name="code" maxlength="4"><button type="submit">提交</button>'
            '</form></body></html>')


def login_page(host: str, service: str) -> str:
    return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>统一身份认证平台</title></head><body>'
            '<div class="login-panel"><h3>用户登录</h3><form method="post" action="/cas/login">'
            f'<input type="hidden" name="service" value="{escape(service)}">'
            '<label>账号</label><input type="text" name="username" placeholder="手机号/身份证号">'
            '<label>密码</label><input type="password" name="password">'
            '<button type="submit">登 录</button></form><p><a href="/cas/forget">忘记密码</a></p>'
            '</div></body></html>')


# --- the per-host state of rate limiters -------------------------------------------------------
class Bucket:
    """A token bucket per host (the rate-limited kinds); ``take()`` -> seconds to wait or 0."""

    def __init__(self, size: int = RATE_BUCKET, per_s: float = RATE_PER_S) -> None:
        self.size, self.per_s = size, per_s
        self.tokens = float(size)
        self.at = time.monotonic()
        self.penalty_until = 0.0

    def take(self) -> float:
        now = time.monotonic()
        if now < self.penalty_until:  # asked again before Retry-After allowed
            return self.penalty_until - now
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.per_s)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        self.penalty_until = now + RETRY_AFTER_S
        return float(RETRY_AFTER_S)


def retry_after_value(kind: str, wait: float) -> str:
    """The Retry-After header: delta-seconds, or an HTTP date for ``retry_after_date``."""
    secs = max(1, math.ceil(wait))
    if kind == "retry_after_date":
        return formatdate(time.time() + secs + 1, usegmt=True)  # +1: the date has whole seconds
    return str(secs)


def robots_txt(kind: str, calendar_path: str) -> str:
    base = "User-agent: *\nDisallow: /search/\nDisallow: /was5/\nDisallow: /jsearchfront/\n"
    if kind == "crawl_delay":
        return base + f"Crawl-delay: {CRAWL_DELAY_S}\n"
    if kind == "robots_challenge":
        return base + f"Disallow: {calendar_path.partition('?')[0]}\n"
    return base


def expected(kind: str) -> str:
    return EXPECTED.get(kind, "done")


def describe(kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind, "expect_status": expected(kind)}
    if kind == "crawl_delay":
        out["crawl_delay"] = CRAWL_DELAY_S
    if kind in ("rate_limit", "retry_after_date", "rate_limit_all"):
        out["retry_after"] = RETRY_AFTER_S
    return out
