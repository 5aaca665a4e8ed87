"""Recognising pages that are a refusal, not content: WAF block pages, CAPTCHA walls, login walls.

``block_reason(status, body, ...)`` -> ``(kind, reason)`` or None, judged by what the page *is*,
not by its status alone (portal-anatomy §8: WAFs answer 403, 405, 418, 468, 200 ...):

* a page is only ever a refusal when it is small: little visible text and few links. A real
  portal page has navigation, columns and footers (dozens of links, hundreds of characters);
  a block page has a sentence, an event id and maybe a logo. That sentinel keeps news that
  *mentions* 拦截 or 验证码 from ever counting as a block.
* ``captcha``: a CAPTCHA widget (slider / puzzle / image code: GeeTest, TCaptcha, NetEase
  yidun, Aliyun nc, reCAPTCHA, hCaptcha, Turnstile, or an ``<img>``/input named like a code)
  with the words that ask for it (验证码, 安全验证, 人机验证, 拖动滑块 ...); a form that asks for more
  than the code (a ``<textarea>``, or three fields or more: a 12345 诉求 / 留言 form with its 验证码
  field) is content, not a wall.
* ``login``: a password field and login words (登录, 统一身份认证, 用户名 ...). The spider decides
  whether it is a *wall*: the portal itself, or a page the crawl was redirected to.
* ``block``: refusal words (拦截, 阻断, 拒绝访问, 访问受限, 访问过于频繁, Access Denied, 403
  Forbidden ...) or a WAF vendor's name (雷池, 云盾, 创宇盾, 安全狗, 网神 ...).
* ``refusal``: a small page answered with 401, 403, 407 or 451 whatever it says.
* ``rate_limit``: 429.

A JavaScript *challenge* (a page whose script sets a cookie and reloads) is not a block: the
browser path passes it (``crawlers.detect.challenge_reason``); only when it cannot does the
site count as blocked (the spider reads the browser's failure).
"""

from __future__ import annotations

import re
from itertools import islice

REFUSAL_STATUSES = {401, 403, 407, 451}
_MAX_TEXT = 900  # visible characters above which a page is content, whatever it says
_MAX_LINKS = 12  # same for links
_SCRIPT = re.compile(rb"<(script|style)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(rb"<[^>]*>")
_LINK = re.compile(rb"<a\b[^>]*\bhref\s*=\s*[\"']?(?!javascript:|#)[^\"'\s>]", re.I)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_PASSWORD = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password", re.I)
_FIELD = re.compile(rb"<(?:textarea|select)\b|<input\b(?![^>]*\btype\s*=\s*[\"']?(?:hidden|submit|button|image)\b)", re.I)
_CAPTCHA_WIDGET = re.compile(
    rb"geetest|initGeetest|gt4?\.js|TCaptcha|tencentcaptcha|turing\.captcha|yidun|NECaptcha|\bnc\.js|aliyunCaptcha"
    rb"|AWSC|recaptcha|hcaptcha|turnstile|captcha|checkcode|verifycode|yzm|vcode|slider", re.I)
_CAPTCHA_WORDS = re.compile(r"验证码|安全验证|人机验证|访问验证|滑块|拖动|拼图|请完成.{0,6}验证|点击按钮进行验证|captcha"
                            r"|verify you are (?:a )?human|are you a robot", re.I)
_LOGIN_WORDS = re.compile(r"登\s*录|统一身份认证|单点登录|用户名|账\s*号|sign in|log ?in", re.I)
_BLOCK_WORDS = re.compile(
    r"拦截|阻断|拒绝访问|访问被拒|被拒绝|禁止访问|无权访问|没有权限|权限不足|访问受限|限制访问|暂时限制|无法访问本网站"
    r"|安全威胁|攻击行为|不合法参数|非法请求|防火墙|访问过于频繁|请求过于频繁|访问频率|访问异常|访问存在异常"
    r"|所在的?地区.{0,8}(?:无法|不能|限制)|IP.{0,12}(?:不在|禁止|限制|封禁)|事件\s*ID|请求\s*ID"
    r"|access denied|forbidden|request (?:blocked|rejected)|blocked|too many requests|rate limit|web application firewall"
    r"|雷池|云盾|创宇盾|安全狗|网神|云防护|云锁|护卫神|D盾|WAF", re.I)


def _text(body: bytes) -> str:
    """Visible text of an HTML body, cheaply (no parser: block pages are small)."""
    raw = _TAG.sub(b" ", _SCRIPT.sub(b" ", body[:200_000]))
    for enc in ("utf-8", "gb18030"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = raw.decode("utf-8", "replace")
    return " ".join(text.split())


def _title(body: bytes) -> str:
    m = _TITLE.search(body[:20_000])
    if not m:
        return ""
    t = m.group(1)
    try:
        s = t.decode("utf-8")
    except UnicodeDecodeError:
        s = t.decode("gb18030", "replace")
    return " ".join(s.split())[:60]


def _is_form(body: bytes) -> bool:
    """A form asking for more than a code: a ``<textarea>`` or three fields or more (not a CAPTCHA wall)."""
    head = body[:200_000]
    return re.search(rb"<textarea\b", head, re.I) is not None or \
        sum(1 for _ in islice(_FIELD.finditer(head), 3)) >= 3


def block_reason(status: int, body: bytes, content_type: str | None = None) -> tuple[str, str] | None:
    """``(kind, reason)`` if this response is a refusal rather than content, else None."""
    if status == 429:
        return "rate_limit", "HTTP 429 Too Many Requests (rate limited)"
    ctype = (content_type or "").lower()
    if ctype and "html" not in ctype and "text/plain" not in ctype:
        return None
    # content: real pages carry navigation and text. Links first: one regex pass settles most pages,
    # before the costlier text stripping (this runs on every response of the crawl)
    if sum(1 for _ in islice(_LINK.finditer(body, 0, 200_000), _MAX_LINKS + 1)) > _MAX_LINKS:
        return None
    text = _text(body)
    visible = len(text.replace(" ", ""))
    if visible > _MAX_TEXT:
        return None
    title = _title(body)
    said = f"{title}: " if title else ""
    words = title + " " + text
    widget = _CAPTCHA_WIDGET.search(body[:200_000])
    if widget and _CAPTCHA_WORDS.search(words) and not _is_form(body):
        return "captcha", f"CAPTCHA page ({said}{_CAPTCHA_WORDS.search(words).group(0)}, {widget.group(0).decode()})"
    if _PASSWORD.search(body) and _LOGIN_WORDS.search(words):
        return "login", f"login page ({said}{_LOGIN_WORDS.search(words).group(0).strip()})"
    m = _BLOCK_WORDS.search(words)
    if m and (status >= 400 or visible < 400):
        return "block", f"block page, HTTP {status} ({said}{m.group(0)})"
    if status in REFUSAL_STATUSES:
        return "refusal", f"HTTP {status} refusal page" + (f" ({title})" if title else "")
    return None
