"""The auditors' web application: review every piece of evidence behind every leaf of every target.

``create_app(store_path, ...)`` builds the Flask application over one store and one campaign;
``serve(store_path, host, port, ...)`` runs it with waitress. Pages are server-rendered
(Jinja2, autoescaped); the pages' own JavaScript (``static/audit.js``, keyboard review) uses the
same small JSON API as tools and tests (docs/audit.md has the contract and the security model).

Decisions go through ``audit.ledger.record_decision`` (append-only: no route updates or deletes
one; an undo is a new decision). Every request but the sign-in needs a signed-in, active auditor;
every write also needs the CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``).
Archived pages are replayed from the WARC inside ``<iframe sandbox>`` with a sandboxing
Content-Security-Policy and every link rewritten to the replay route (``audit.replay``).
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException
from werkzeug.utils import secure_filename

from audit import accounts
from audit import ledger as L
from audit.replay import REPLAY_HEADERS, rewrite_html
from evidence.registry import GROUP_NAMES_ZH
from evidence.store import Store, StoreError
from evidence.warc import read_record

DEFAULT_PORT = 8700
_ROOT = Path(__file__).resolve().parent.parent
MAX_UPLOAD = 32 * 1024 * 1024
FILTER_KEYS = ("status", "leaf", "target", "group", "overridden")
STATUSES = ("unreviewed", "confirmed", "rejected", "reviewed", "all")
LOGIN_WINDOW = 600  # seconds
LOGIN_MAX_FAILURES = 10  # per name and per client address within the window
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")
# Chinese labels of the values the rules record (extractors/document.py, promulgation.py)
VALUE_LABELS = {"doc_number": "文号", "issuer": "发文机关", "title": "标题", "date": "日期",
                "written_date": "成文日期", "published_date": "发布日期", "effective_date": "施行日期",
                "expiry_date": "失效日期", "validity": "有效性", "is_draft": "草案/征求意见稿",
                "index_no": "索引号", "category": "分类", "keywords": "主题词", "source": "来源",
                "decree_note": "令号说明", "check_notes": "检查说明", "note": "说明", "file": "文件",
                "added_by": "添加人"}


class AuditError(StoreError):
    """The application cannot start (port in use, no campaign...); printed as one line."""


# --- state shared by the requests of one application ------------------------------------------
class _State:
    def __init__(self, store_path: Path, campaign: str, ruleset: Any, proxy: str | None,
                 rules_dir: Path | None = None):
        self.store_path = store_path
        self.campaign = campaign
        self.rules_dir = rules_dir
        self._ruleset = ruleset
        self._rules_sig = self._rules_signature()
        self.rules_error: str | None = None
        self.proxy = proxy
        self.local = threading.local()
        self.lock = threading.Lock()
        self.generation = 0
        self.cached: tuple[tuple, Any, dict[str, list]] | None = None
        self.failures: dict[str, list[float]] = defaultdict(list)

    def _rules_signature(self) -> tuple:
        if self.rules_dir is None:
            return ()
        try:
            return tuple(sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                                for p in self.rules_dir.rglob("*") if p.is_file()))
        except OSError:
            return ()

    def refresh_rules(self) -> None:
        """Load the rules again when a file of the rules folder changed (checked once per request): an
        edit shows up on the next page, and the evidence page then says which findings were made by an
        older version of their rule. A rules folder that no longer loads keeps the last good rules,
        and every page says so."""
        sig = self._rules_signature()
        if sig == self._rules_sig or self.rules_dir is None:
            return
        from extractors.rules import RuleError, load_rules
        with self.lock:
            try:
                self._ruleset = load_rules(self.rules_dir)
                self.rules_error = None
            except RuleError as e:
                self.rules_error = (f"{self.rules_dir}: the rules do not load ({str(e).splitlines()[0]}); "
                                    "showing the rules as they were")
            self._rules_sig = sig

    @property
    def ruleset(self) -> Any:
        return self._ruleset

    @property
    def tree(self) -> Any:
        return self.ruleset.tree

    @property
    def leaf_order(self) -> dict[str, int]:
        rs = self.ruleset
        cached = getattr(self, "_leaf_order", None)
        if cached is None or cached[0] is not rs:
            cached = self._leaf_order = (rs, {leaf.id: i for i, leaf in enumerate(rs.tree.leaves)})
        return cached[1]

    def store(self) -> Store:
        st = getattr(self.local, "store", None)
        if st is None:
            st = self.local.store = Store(self.store_path, create=False)
        return st

    def fingerprint(self) -> tuple:
        out: list = [self.generation]
        for p in (self.store_path, Path(str(self.store_path) + "-wal")):
            try:
                s = p.stat()
                out += [s.st_mtime_ns, s.st_size]
            except OSError:
                out += [None, None]
        return tuple(out)

    def ledger(self) -> Any:
        """The campaign's ledger, loaded again only when the store changed (its files' mtime and size,
        or a write through this application)."""
        key = self.fingerprint()
        with self.lock:
            if self.cached and self.cached[0] == key:
                return self.cached[1]
        led = L.load_ledger(self.store(), self.campaign)
        by_site: dict[str, list] = defaultdict(list)
        for item in led.items.values():
            by_site[item.site_id].append(item)
        with self.lock:
            self.cached = (key, led, dict(by_site))
        return led

    def site_items(self, led: Any, site_id: str) -> list:
        with self.lock:
            cached = self.cached
        if cached and cached[1] is led:
            return cached[2].get(site_id, [])
        return led.items_of_site(site_id)

    def changed(self) -> None:
        with self.lock:
            self.generation += 1
            self.cached = None

    # sign-in throttling (in memory: a restart forgets it)
    def throttled(self, *keys: str) -> bool:
        now = time.monotonic()
        with self.lock:
            for k in keys:
                self.failures[k] = [t for t in self.failures[k] if now - t < LOGIN_WINDOW]
                if len(self.failures[k]) >= LOGIN_MAX_FAILURES:
                    return True
        return False

    def failed(self, *keys: str) -> None:
        with self.lock:
            for k in keys:
                self.failures[k].append(time.monotonic())


def _state() -> _State:
    from flask import current_app
    return current_app.extensions["windvane_audit"]


# --- helpers over the ledger and the store ----------------------------------------------------
def _targets() -> list[dict]:
    st = _state()
    return list(st.store().db.query("select * from targets where campaign = ? order by rowid", [st.campaign]))


def _target(target_id: str) -> dict:
    for t in _targets():
        if t["target_id"] == target_id:
            return t
    abort(404, f"no target {target_id!r} in campaign {_state().campaign}")


def _applies(leaf_id: str, group: str) -> bool:
    node = _state().tree.nodes.get(leaf_id)
    return bool(node and node.level == "leaf" and node.applies_to(group))


def _target_items(led: Any, t: dict) -> list:
    return [i for i in _state().site_items(led, t["site_id"]) if _applies(i.leaf_id, t["grp"])]


def _sort_key(item: Any, site_order: dict[str, int]) -> tuple:
    st = _state()
    return (site_order.get(item.site_id, 1 << 30), st.leaf_order.get(item.leaf_id, 1 << 30),
            item.rule_id or "", item.url or "", item.start if isinstance(item.start, int) else -1, item.id)


def _latest_run() -> dict | None:
    st = _state()
    try:
        return st.store().run(campaign=st.campaign)
    except StoreError:
        return None


def _run_scores(run: dict | None, target_id: str) -> dict[str, dict]:
    if not run:
        return {}
    return {r["node_id"]: r for r in _state().store().db.query(
        "select node_id, level, points, max_points, rate, rank from scores where run_id = ? and target_id = ?",
        [run["run_id"], target_id])}


def _filters(args: Any) -> dict[str, str]:
    out = {k: (args.get(k) or "").strip() for k in FILTER_KEYS}
    return {k: v for k, v in out.items() if v}


def _queue_items(led: Any, f: dict[str, str]) -> list:
    """The ledger's items that pass the queue filters, in review order (registry, tree, rule, URL)."""
    st = _state()
    targets = _targets()
    site_order: dict[str, int] = {}
    for t in targets:
        site_order.setdefault(t["site_id"], len(site_order))
    if f.get("target"):
        chosen = [t for t in targets if t["target_id"] == f["target"]]
    elif f.get("group"):
        chosen = [t for t in targets if t["grp"] == f["group"]]
    else:
        chosen = None
    if chosen is None:
        items = list(led.items.values())
    else:
        seen: dict[str, Any] = {}
        for t in chosen:
            for i in _target_items(led, t):
                seen.setdefault(i.id, i)
        items = list(seen.values())
    if f.get("leaf"):
        node = st.tree.nodes.get(f["leaf"])
        wanted = {n.id for n in st.tree.leaves_under(node.id)} if node else {f["leaf"]}
        items = [i for i in items if i.leaf_id in wanted]
    status = f.get("status", "unreviewed")
    if status in ("unreviewed", "confirmed", "rejected"):
        items = [i for i in items if i.status == status]
    elif status == "reviewed":
        items = [i for i in items if i.status != "unreviewed"]
    if f.get("overridden"):
        by_site = defaultdict(set)
        for t in targets:
            by_site[t["site_id"]].add(t["target_id"])
        items = [i for i in items if any((tid, i.leaf_id) in led.overrides for tid in by_site[i.site_id])]
    return sorted(items, key=lambda i: _sort_key(i, site_order))


def _next_after(items: list, after: str | None) -> Any | None:
    """The first unreviewed item after ``after`` (wrapping round), never ``after`` itself."""
    pending = [i for i in items if i.status == "unreviewed"]
    if not pending:
        return None
    ids = [i.id for i in items]
    if after in ids:
        pos = ids.index(after)
        for i in items[pos + 1:] + items[:pos]:
            if i.status == "unreviewed":
                return i
        return None
    return next((i for i in pending if i.id != after), None)


def _item_targets(item: Any) -> list[dict]:
    return [t for t in _targets() if t["site_id"] == item.site_id and _applies(item.leaf_id, t["grp"])]


def _item_json(item: Any) -> dict:
    """An item for the API: the ledger's fields, ``machine_verdict`` ("found" / "added by hand"),
    ``status`` (the human state) and ``decision`` (the effective human decision, or null)."""
    d = item.as_json()
    d.pop("values", None)
    return d


def highlight(text: str | None, start: Any, end: Any, snippet: str | None) -> Markup | None:
    """The page text, escaped, with the snippet inside ``<mark id="snippet-mark">``.

    Escaping comes first, piece by piece: nothing of the page's text is ever markup. The
    offsets are used when they hold the snippet (or no snippet is known); otherwise the
    snippet's first occurrence; with neither, the text is shown unmarked."""
    if text is None:
        return None
    s = e = None
    if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text):
        if not snippet or text[start:end].strip() == snippet.strip() or snippet.strip() in text[start:end]:
            s, e = start, end
    if s is None and snippet and snippet.strip():
        pos = text.find(snippet.strip())
        if pos >= 0:
            s, e = pos, pos + len(snippet.strip())
    if s is None:
        return escape(text)
    return (escape(text[:s]) + Markup('<mark id="snippet-mark">') + escape(text[s:e]) + Markup("</mark>")
            + escape(text[e:]))


def _value_rows(values: dict, as_of: str | None) -> tuple[list[dict], list[dict]]:
    """(values, checks) as rows for the evidence page; dates are compared with the cut-off."""
    rows, checks = [], []
    for k, v in (values or {}).items():
        if v in (None, "", [], {}):
            continue  # nothing recorded (e.g. no file uploaded with hand-added evidence)
        if k == "check_notes" and isinstance(v, dict):  # one row per check, as the checks are shown
            for ck, cv in v.items():
                rows.append({"name": f"{k}.{ck}", "label": f"{VALUE_LABELS[k]} · {ck}", "value": str(cv),
                             "date": None})
            continue
        if k == "checks":
            for ck, cv in (v.items() if isinstance(v, dict) else [("checks", v)]):
                checks.append({"name": ck, "value": cv if isinstance(cv, str | int | float | bool) or cv is None
                               else json.dumps(cv, ensure_ascii=False), "ok": cv if isinstance(cv, bool) else None})
            continue
        shown = "" if v is None else v if isinstance(v, str | int | float) else json.dumps(v, ensure_ascii=False)
        date_state = None
        if as_of and isinstance(v, str) and _DATE_RE.match(v):
            date_state = "before" if v[:10] <= as_of[:10] else "after"
        rows.append({"name": k, "label": VALUE_LABELS.get(k, ""), "value": shown, "date": date_state})
    return rows, checks


def _safe_next(value: str | None, default: str) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value \
            and not any(ord(c) < 32 for c in value):
        return value
    return default


def _user() -> str:
    return session.get("user", "")


def _last_own_decision(led: Any, user: str) -> dict | None:
    undone = {d.get("undoes") for d in led.decisions if d.get("decision") == "undo"}
    for d in reversed(led.decisions):
        if d.get("who") == user and d.get("decision") != "undo" and not d.get("undone") \
                and d.get("id") not in undone:
            return d
    return None


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _record(payload: dict) -> dict:
    st = _state()
    try:  # the cached ledger is the store's current state (see _State.ledger): no second load
        row = L.record_decision(st.store(), st.campaign, _user(), payload, proxy=st.proxy, ledger=st.ledger())
    finally:
        st.changed()
    return row


def _page_row(page_id: Any) -> dict | None:
    if page_id is None:
        return None
    st = _state()
    rows = list(st.store().db.query("select * from pages where id = ? and campaign = ?", [page_id, st.campaign]))
    return rows[0] if rows else None


def _evidence_text(item: Any, page: dict) -> str | None:
    """The text the item's offsets refer to (the rules' parse of the archived page); the stored
    page text when the archive cannot be read."""
    st = _state()
    try:
        text = L.evidence_text(st.store(), st.campaign, item)
    except Exception:  # noqa: BLE001 - an unreadable archive shows the stored text instead
        text = None
    return text if text is not None else page.get("text")


def _qs(f: dict[str, str], **extra: str) -> str:
    d = {**f, **{k: v for k, v in extra.items() if v}}
    return ("?" + urlencode(d)) if d else ""


# --- the application --------------------------------------------------------------------------
def create_app(store_path: str | Path, *, rules_path: str | Path = "rules", campaign: str | None = None,
               proxy: str | None = None, secret_key: str | None = None, qc_share: float | None = None) -> Flask:
    """The Flask application over the store at ``store_path`` (which must exist) for ``campaign``
    (default: the most recently updated one)."""
    from extractors.rules import load_rules

    store_path = Path(store_path)
    with Store(store_path, create=False) as store:
        row = store.campaign(campaign)
        accounts.ensure_table(store.conn)
        key = secret_key or accounts.secret_key(store)
        if qc_share is not None:
            if not 0.0 <= qc_share <= 1.0:
                raise AuditError(f"--qc-share {qc_share}: a share between 0 and 1")
            L.set_qc_share(store, qc_share)
    rules_dir = Path(rules_path)
    if not rules_dir.is_absolute() and not rules_dir.exists() and (_ROOT / rules_dir).exists():
        rules_dir = _ROOT / rules_dir  # "rules" means the project's rules wherever the server starts
    ruleset = load_rules(rules_dir)

    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(
        SECRET_KEY=key, SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="windvane_audit", PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_HEADERS=["X-CSRF-Token"], WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_UPLOAD, JSON_AS_ASCII=False, TEMPLATES_AUTO_RELOAD=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.jinja_env.autoescape = True
    app.jinja_env.tests["http_url"] = _http_url
    app.extensions["windvane_audit"] = st = _State(store_path, row["campaign"], ruleset, proxy, rules_dir)
    csrf = CSRFProtect(app)

    public = {"login", "api_login", "static", "replay_missing"}
    replay_endpoints = {"replay_page", "replay_rendered"}

    @app.before_request
    def _guard() -> Any:
        if request.endpoint not in ("static", "replay_page", "replay_rendered", "replay_missing"):
            st.refresh_rules()
        if request.routing_exception is not None:
            return None  # 404 / 405 answer as such, whoever asks
        if request.endpoint in public and request.endpoint != "login":
            return None  # static files, the not-archived notice, and /api/login (no CSRF: no session yet)
        signed_in = bool(session.get("user")) and accounts.is_active(st.store(), session["user"])
        if request.endpoint in replay_endpoints and not signed_in and request.method in ("GET", "HEAD"):
            # the sandboxed replay has an opaque origin: its own requests carry no session cookie,
            # so pages signed-in users were shown carry a signed, expiring key for one archived page
            if replay_key_ok(request.args.get("k", ""), (request.view_args or {}).get("page_id")):
                return None
        if request.endpoint not in public and not signed_in:
            if session.get("user"):
                session.clear()  # a disabled account's session ends here
            if _is_api() or request.method not in ("GET", "HEAD"):
                return _error(401, "sign in first (POST /api/login, or the sign-in page)")
            return redirect(url_for("login", next=request.full_path if request.query_string else request.path))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if request.endpoint != "static":
            resp.headers.setdefault("Cache-Control", "private, no-store")
        return resp

    @app.errorhandler(CSRFError)
    def _csrf_error(e: CSRFError) -> Any:
        return _error(403, f"CSRF token missing or wrong ({e.description}); reload the page, or send "
                           "the token of POST /api/login in the X-CSRF-Token header")

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        body, status = _error(e.code or 500, e.description or e.name)
        resp = app.make_response((body, status))
        allow = [v for k, v in e.get_headers() if k.lower() == "allow"]
        if allow:
            resp.headers["Allow"] = allow[0]
        return resp

    @app.errorhandler(L.DecisionError)
    def _decision_error(e: Any) -> Any:
        return _error(int(getattr(e, "status", 400) or 400), str(e))

    @app.context_processor
    def _globals() -> dict:
        user = session.get("user")
        ctx: dict[str, Any] = {"campaign": st.campaign, "user": user, "groups_zh": GROUP_NAMES_ZH,
                               "reasons": L.REASON_CODES, "tree": st.tree, "replay_url": replay_url,
                               "rules_error": st.rules_error}
        if user:
            ctx["csrf_token_value"] = generate_csrf()
        return ctx

    _routes(app, st)
    return app


REPLAY_KEY_AGE = 12 * 3600  # seconds a replay key stays valid (the session's lifetime)


def _replay_signer() -> Any:
    from flask import current_app
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="windvane-audit-replay")


def replay_url(page_id: int, rendered: bool = False) -> str:
    """The replay route of one archived page with its signed key (usable without the session cookie,
    which the sandboxed frame does not send, for REPLAY_KEY_AGE seconds)."""
    key = _replay_signer().dumps(int(page_id))
    return url_for("replay_rendered" if rendered else "replay_page", page_id=page_id, k=key)


def replay_key_ok(key: str, page_id: Any) -> bool:
    from itsdangerous import BadData

    if not key or page_id is None:
        return False
    try:
        return _replay_signer().loads(key, max_age=REPLAY_KEY_AGE) == int(page_id)
    except (BadData, ValueError, TypeError):
        return False


def _error(status: int, message: str) -> Any:
    if _is_api() or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", status=status, message=message), status


def _routes(app: Flask, st: _State) -> None:  # noqa: C901 - one place for every route
    # --- sign-in ---------------------------------------------------------------------------
    def _login(name: str, password: str) -> bool:
        addr = request.remote_addr or "?"
        if st.throttled(f"name:{name}", f"addr:{addr}"):
            abort(429, "too many failed sign-ins; wait ten minutes")
        if not accounts.check(st.store(), name, password):
            st.failed(f"name:{name}", f"addr:{addr}")
            return False
        session.clear()
        session.permanent = True
        session["user"] = name.strip()
        return True

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        nxt = _safe_next(request.values.get("next"), url_for("campaign_page"))
        if request.method == "POST":
            if _login(request.form.get("username", ""), request.form.get("password", "")):
                return redirect(nxt, 303)
            flash("用户名或密码错误 / wrong user name or password", "error")
            return render_template("login.html", next=nxt), 401
        return render_template("login.html", next=nxt, csrf_token_value=generate_csrf())

    @app.post("/logout")
    def logout() -> Any:
        session.clear()
        return redirect(url_for("login"), 303)

    @app.post("/api/login")
    def api_login() -> Any:
        data = request.get_json(silent=True) if request.is_json else None
        if not isinstance(data, dict):
            return _error(400, 'send JSON {"username": ..., "password": ...} with Content-Type application/json')
        if not _login(str(data.get("username") or ""), str(data.get("password") or "")):
            return _error(401, "wrong user name or password")
        return jsonify({"user": session["user"], "csrf_token": generate_csrf()})

    @app.post("/api/logout")
    def api_logout() -> Any:
        session.clear()
        return jsonify({"ok": True})

    @app.get("/api/me")
    def api_me() -> Any:
        return jsonify({"user": _user(), "campaign": st.campaign, "csrf_token": generate_csrf()})

    # --- navigation ------------------------------------------------------------------------
    @app.get("/")
    def campaign_page() -> Any:
        led = st.ledger()
        targets = _targets()
        groups = []
        for grp in dict.fromkeys(t["grp"] for t in targets):
            members = [t for t in targets if t["grp"] == grp]
            seen: dict[str, Any] = {}
            for t in members:
                for i in _target_items(led, t):
                    seen.setdefault(i.id, i)
            groups.append({"id": grp, "name_zh": GROUP_NAMES_ZH.get(grp, grp), "targets": len(members),
                           "progress": led.progress(list(seen.values()))})
        return render_template("campaign.html", groups=groups, prog=led.progress(list(led.items.values())),
                               run=_latest_run(), orphans=len(led.orphans), overrides=len(led.overrides),
                               campaign_row=st.store().campaign(st.campaign))

    @app.get("/group/<grp>")
    def group_page(grp: str) -> Any:
        led = st.ledger()
        run = _latest_run()
        rows = []
        totals = {}
        if run:
            totals = {r["target_id"]: r for r in st.store().db.query(
                "select target_id, points, max_points, rank from scores where run_id = ? and node_id = 'total'",
                [run["run_id"]])}
        for t in _targets():
            if t["grp"] != grp:
                continue
            items = _target_items(led, t)
            rows.append({"t": t, "progress": led.progress(items), "total": totals.get(t["target_id"]),
                         "overrides": sum(1 for (tid, _leaf) in led.overrides if tid == t["target_id"])})
        if not rows:
            abort(404, f"no group {grp!r}")
        return render_template("group.html", grp=grp, rows=rows, run=run)

    @app.get("/target/<target_id>")
    def target_page(target_id: str) -> Any:
        led = st.ledger()
        t = _target(target_id)
        items = _target_items(led, t)
        run = _latest_run()
        scores = _run_scores(run, target_id)
        indices = []
        for node in st.tree.indices:
            leaves = {leaf.id for leaf in st.tree.leaves_under(node.id) if leaf.applies_to(t["grp"])}
            indices.append({"node": node, "progress": led.progress([i for i in items if i.leaf_id in leaves]),
                            "score": scores.get(node.id), "max": st.tree.max_points(node.id, t["grp"])})
        overrides = [{"leaf": st.tree.nodes.get(leaf), "leaf_id": leaf, **d}
                     for (tid, leaf), d in led.overrides.items() if tid == target_id]
        orphans = [o for o in led.orphans if o.get("site_id") == t["site_id"] or o.get("target_id") == target_id]
        return render_template("target.html", t=t, indices=indices, prog=led.progress(items),
                               total=scores.get("total"), run=run, overrides=overrides, orphans=orphans)

    @app.get("/target/<target_id>/node/<node_id>")
    def node_page(target_id: str, node_id: str) -> Any:
        node = st.tree.nodes.get(node_id)
        if node is None:
            abort(404, f"no indicator {node_id!r}")
        if node.level == "leaf":
            return redirect(url_for("leaf_page", target_id=target_id, leaf_id=node_id))
        led = st.ledger()
        t = _target(target_id)
        items = _target_items(led, t)
        scores = _run_scores(_latest_run(), target_id)
        subs = [node] if node.level == "sub" else st.tree.children(node.id)
        blocks = []
        for sub in subs:
            leaves = []
            for leaf in st.tree.leaves_under(sub.id):
                if not leaf.applies_to(t["grp"]):
                    continue
                mine = [i for i in items if i.leaf_id == leaf.id]
                leaves.append({"node": leaf, "progress": led.progress(mine), "score": scores.get(leaf.id),
                               "override": led.overrides.get((target_id, leaf.id))})
            blocks.append({"node": sub, "leaves": leaves, "score": scores.get(sub.id),
                           "progress": led.progress([i for i in items
                                                     if i.leaf_id in {x["node"].id for x in leaves}])})
        index = st.tree.index_of(node.id)
        return render_template("node.html", t=t, node=node, index=index, blocks=blocks, score=scores.get(node.id))

    @app.get("/target/<target_id>/leaf/<leaf_id>")
    def leaf_page(target_id: str, leaf_id: str) -> Any:
        leaf = st.tree.nodes.get(leaf_id)
        if leaf is None or leaf.level != "leaf":
            abort(404, f"no leaf {leaf_id!r}")
        led = st.ledger()
        t = _target(target_id)
        items = sorted([i for i in _target_items(led, t) if i.leaf_id == leaf_id],
                       key=lambda i: (i.manual, i.rule_id or "", i.url or "", i.id))
        run = _latest_run()
        scores = _run_scores(run, target_id)
        return render_template("leaf.html", t=t, leaf=leaf, sub=st.tree.nodes.get(leaf.parent or ""),
                               index=st.tree.index_of(leaf_id), items=items, prog=led.progress(items),
                               score=scores.get(leaf_id), run=run, override=led.overrides.get((target_id, leaf_id)),
                               applies=leaf.applies_to(t["grp"]), rules=[r for r in st.ruleset.rules
                                                                          if r.leaf_id == leaf_id])

    # --- evidence --------------------------------------------------------------------------
    def _evidence_view(eid: str, mode: str) -> Any:
        led = st.ledger()
        item = led.items.get(eid)
        if item is None:
            abort(404, f"no evidence {eid!r} in campaign {st.campaign} (after a re-extraction it may be "
                       "orphaned: see the orphans page)")
        targets = _item_targets(item)
        chosen = request.args.get("target")
        t = next((x for x in targets if x["target_id"] == chosen), targets[0] if targets else None)
        page = _page_row(item.page_id)
        rule = None
        if item.rule_id:
            try:
                rule = st.ruleset.rule(item.rule_id)
            except KeyError:
                rule = None
        as_of = (st.store().campaign(st.campaign) or {}).get("as_of")
        values, checks = _value_rows(item.values or {}, as_of)
        f = _filters(request.args)
        if mode == "qc":
            next_url = url_for("qc_next", after=item.id)
        elif mode == "resolve":
            next_url = url_for("qc_page")
        else:
            next_url = url_for("next_unreviewed") + _qs(f, after=item.id)
        shot = bool(page and page.get("screenshot"))
        return render_template(
            "evidence.html", item=item, mode=mode, t=t, targets=targets, page=page, rule=rule,
            leaf=st.tree.nodes.get(item.leaf_id), values=values, checks=checks, as_of=as_of,
            text=highlight(_evidence_text(item, page), item.start, item.end, item.snippet) if page else None,
            next_url=next_url, filters=f, shot=shot, live_ok=_http_url(item.url),
            last=_last_own_decision(led, _user()), role={"qc": "qc", "resolve": "resolve"}.get(mode, "review"),
            override=led.overrides.get((t["target_id"], item.leaf_id)) if t else None,
            here=request.full_path if request.query_string else request.path)

    @app.get("/evidence/<path:eid>")
    def evidence_page(eid: str) -> Any:
        return _evidence_view(eid, "review")

    @app.get("/next")
    def next_unreviewed() -> Any:
        led = st.ledger()
        f = _filters(request.args)
        f.pop("status", None)
        items = _queue_items(led, {**f, "status": "all"})
        nxt = _next_after(items, request.args.get("after"))
        if nxt is None:
            flash("没有待审证据了 / nothing left to review with these filters", "info")
            return redirect(url_for("queue_page") + _qs(f, status="unreviewed"))
        return redirect(url_for("evidence_page", eid=nxt.id) + _qs(f))

    @app.get("/queue")
    def queue_page() -> Any:
        led = st.ledger()
        f = _filters(request.args)
        f.setdefault("status", "unreviewed")
        if f["status"] not in STATUSES:
            abort(400, f"status must be one of {', '.join(STATUSES)}")
        items = _queue_items(led, f)
        limit = 500
        targets = _targets()
        by_site = defaultdict(list)
        for t in targets:
            by_site[t["site_id"]].append(t)
        overrides = []
        if f.get("overridden"):
            names = {t["target_id"]: t for t in targets}
            overrides = [{"t": names.get(tid), "target_id": tid, "leaf_id": leaf, **d}
                         for (tid, leaf), d in led.overrides.items()
                         if (not f.get("target") or tid == f["target"])
                         and (not f.get("group") or (names.get(tid) or {}).get("grp") == f["group"])]
        return render_template("queue.html", items=items[:limit], count=len(items), limit=limit, filters=f,
                               by_site=by_site, targets=targets, overrides=overrides,
                               groups=list(dict.fromkeys(t["grp"] for t in targets)),
                               prog=led.progress(_queue_items(led, {**f, "status": "all"})),
                               last=_last_own_decision(led, _user()),
                               next_url=url_for("next_unreviewed") + _qs({k: v for k, v in f.items()
                                                                          if k != "status"}),
                               here=request.full_path if request.query_string else request.path)

    @app.get("/orphans")
    def orphans_page() -> Any:
        return render_template("orphans.html", orphans=st.ledger().orphans)

    # --- replay, screenshots, files --------------------------------------------------------
    def _replay(page: dict, rendered: bool) -> Response:
        folder = st.store().campaign_dir(st.campaign) / "warc"
        offset = page.get("rendered_warc_offset") if rendered else page.get("warc_offset")
        file = page.get("warc_file")
        if not file or offset is None or not _inside(folder / file, folder):
            return _replay_text("未存档 / not archived", 404)
        try:
            _uri, headers, body = read_record(folder, file, int(offset))
        except (OSError, ValueError) as e:
            return _replay_text(f"存档不可读 / archive unreadable: {e}", 404)
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "") or \
            (page.get("content_type") or "")
        major = ctype.split(";")[0].strip().lower()
        if "html" in major or (rendered and not major) or (not major and page.get("kind") == "html"):
            links = _site_links(page.get("site_id"))

            def link_for(url: str) -> str:
                base, _, frag = url.partition("#")
                pid = links.get(base) or links.get(base.rstrip("/")) or links.get(base + "/")
                target = replay_url(pid) if pid else url_for("replay_missing")
                return target + (f"#{frag}" if frag else "")

            html = rewrite_html(body, page.get("encoding") if not rendered else "utf-8",
                                page.get("final_url") or page.get("url") or "", link_for)
            return _with_replay_headers(Response(html, mimetype="text/html", content_type="text/html; charset=utf-8"))
        if major.startswith("image/") and major != "image/svg+xml":
            return _with_replay_headers(Response(body, mimetype=major))
        if major == "text/css":
            return _with_replay_headers(Response(body, mimetype="text/css"))
        return _replay_text(page.get("text") or f"({major or 'unknown type'}: {len(body)} bytes, no text)")

    def _site_links(site_id: str | None) -> dict[str, int]:
        out: dict[str, int] = {}
        for pid, url, final in st.store().conn.execute(
                "select id, url, final_url from pages where campaign = ? and site_id is ? and block is null "
                "order by id desc", [st.campaign, site_id]):
            for u in (final, url):
                if u:
                    out[u] = pid
        return out

    @app.get("/replay/<int:page_id>")
    def replay_page(page_id: int) -> Any:
        page = _page_row(page_id)
        if page is None:
            return _replay_text("未存档 / not archived", 404)
        return _replay(page, rendered=False)

    @app.get("/replay/<int:page_id>/rendered")
    def replay_rendered(page_id: int) -> Any:
        page = _page_row(page_id)
        if page is None or page.get("rendered_warc_offset") is None:
            return _replay_text("无渲染版本 / no rendered version", 404)
        return _replay(page, rendered=True)

    @app.get("/replay/missing")
    def replay_missing() -> Any:
        return _replay_text("此链接未存档（回放不访问线上网站）/ this link was not archived; "
                            "the replay never fetches from the live web", 404)

    @app.get("/shot/<int:page_id>")
    def screenshot(page_id: int) -> Any:
        page = _page_row(page_id)
        if not page or not page.get("screenshot"):
            abort(404, "no screenshot of this page")
        base = st.store().campaign_dir(st.campaign)
        path = base / page["screenshot"]
        if not _inside(path, base) or not path.is_file():
            abort(404, "screenshot file missing")
        return _with_replay_headers(Response(path.read_bytes(), mimetype="image/png"))

    @app.get("/upload/<path:rel>")
    def uploaded(rel: str) -> Any:
        path = L.uploaded_file(st.store(), st.campaign, rel)
        if path is None:
            abort(404, "no such uploaded file")
        resp = Response(path.read_bytes(), mimetype="application/octet-stream")
        resp.headers["Content-Disposition"] = f"attachment; filename=\"{secure_filename(path.name) or 'file'}\""
        return _with_replay_headers(resp)

    # --- decisions (forms) -----------------------------------------------------------------
    def _form_payload(keys: Iterable[str]) -> dict:
        out = {}
        for k in keys:
            v = request.form.get(k)
            if v is not None and v.strip() != "":
                out[k] = v.strip()
        return out

    def _done(row: dict, default: str) -> Any:
        flash(f"已记录 / recorded: {row.get('decision')} #{row.get('id')}", "ok")
        return redirect(_safe_next(request.form.get("next"), default), 303)

    @app.post("/decide")
    def decide() -> Any:
        p = _form_payload(("evidence_id", "decision", "reason", "note", "role", "undoes"))
        row = _record(p)  # the ledger reads undoes and points from text, and says what is wrong
        default = url_for("evidence_page", eid=p["evidence_id"]) if p.get("evidence_id") else url_for("queue_page")
        return _done(row, default)

    @app.post("/override")
    def override() -> Any:
        p = {**_form_payload(("target_id", "leaf_id", "reason", "note", "points")), "decision": "override"}
        row = _record(p)
        return _done(row, url_for("leaf_page", target_id=p.get("target_id", ""), leaf_id=p.get("leaf_id", "")))

    @app.post("/add")
    def add() -> Any:
        p = _form_payload(("target_id", "leaf_id", "url", "snippet", "note", "reason"))
        p["decision"] = "add"
        up = request.files.get("file")
        if up is not None and up.filename:
            p["file_name"] = secure_filename(up.filename) or "upload"
            p["file_bytes"] = up.read()
        row = _record(p)
        if row.get("archive_error"):
            flash(f"未能存档 / not archived: {row['archive_error']}", "error")
        default = url_for("leaf_page", target_id=p.get("target_id", ""), leaf_id=p.get("leaf_id", ""))
        return _done(row, default)

    @app.post("/bulk")
    def bulk() -> Any:
        ids = [i for i in request.form.getlist("evidence_id") if i]
        if not ids:
            abort(400, "select at least one piece of evidence")
        done, failed = 0, []
        for eid in ids:
            try:
                _record({"evidence_id": eid, "decision": "confirm", "note": request.form.get("note") or None})
                done += 1
            except L.DecisionError as e:
                failed.append(f"{eid}: {e}")
        flash(f"已确认 / confirmed {done}" + (f"; 失败 / failed: {'; '.join(failed[:5])}" if failed else ""),
              "ok" if not failed else "error")
        return redirect(_safe_next(request.form.get("next"), url_for("queue_page")), 303)

    # --- quality control -------------------------------------------------------------------
    @app.get("/qc")
    def qc_page() -> Any:
        led = st.ledger()
        kappa = led.kappa_by_leaf()
        rows = [{"leaf_id": k, "leaf": st.tree.nodes.get(k), **v} for k, v in kappa.items() if k != "all"]
        rows.sort(key=lambda r: st.leaf_order.get(r["leaf_id"], 1 << 30))
        return render_template("qc.html", queue=led.qc_queue(_user()), kappa=rows, overall=kappa.get("all"),
                               disagreements=led.disagreements(), share=led.qc_share)

    @app.get("/qc/review/<path:eid>")
    def qc_review(eid: str) -> Any:
        return _evidence_view(eid, "qc")

    @app.get("/qc/resolve/<path:eid>")
    def qc_resolve(eid: str) -> Any:
        return _evidence_view(eid, "resolve")

    @app.get("/qc/next")
    def qc_next() -> Any:
        queue = st.ledger().qc_queue(_user())
        after = request.args.get("after")
        nxt = next((i for i in queue if i.id != after), None)
        if nxt is None:
            flash("质检队列已空 / your QC queue is empty", "info")
            return redirect(url_for("qc_page"))
        return redirect(url_for("qc_review", eid=nxt.id))

    @app.post("/qc/share")
    def qc_share() -> Any:
        try:
            share = float(request.form.get("share", ""))
        except ValueError:
            abort(400, "share: a number between 0 and 1")
        if not 0.0 <= share <= 1.0:
            abort(400, "share: a number between 0 and 1")
        L.set_qc_share(st.store(), share)
        st.changed()
        flash(f"质检比例 / QC share: {share:.0%}", "ok")
        return redirect(url_for("qc_page"), 303)

    # --- exports ---------------------------------------------------------------------------
    def _csv(name: str, text: str) -> Response:
        resp = Response("\ufeff" + text, mimetype="text/csv", content_type="text/csv; charset=utf-8")
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return resp

    @app.get("/export/decisions.csv")
    def export_decisions() -> Any:
        out = io.StringIO()
        L.decisions_csv(st.store(), st.campaign, out)
        return _csv(f"decisions-{secure_filename(st.campaign)}.csv", out.getvalue())

    @app.get("/export/approved.csv")
    def export_approved() -> Any:
        run_id = request.args.get("run")
        try:
            run = st.store().run(run_id, campaign=None if run_id else st.campaign)
        except StoreError as e:
            abort(404, str(e))
        if run.get("campaign") != st.campaign:
            abort(404, f"run {run_id} is not of campaign {st.campaign}")
        out = io.StringIO()
        L.approved_evidence_csv(st.store(), st.campaign, run["run_id"], out)
        return _csv(f"approved-{secure_filename(run['run_id'])}.csv", out.getvalue())

    # --- JSON API --------------------------------------------------------------------------
    @app.get("/api/targets")
    def api_targets() -> Any:
        led = st.ledger()
        return jsonify([{"target_id": t["target_id"], "name_zh": t["name_zh"], "group": t["grp"],
                         "site_id": t["site_id"], "progress": led.progress(_target_items(led, t))}
                        for t in _targets()])

    @app.get("/api/evidence")
    def api_evidence() -> Any:
        led = st.ledger()
        tid = request.args.get("target")
        if tid:
            items = _target_items(led, _target(tid))
        else:
            items = list(led.items.values())
        if request.args.get("leaf"):
            items = [i for i in items if i.leaf_id == request.args["leaf"]]
        return jsonify([_item_json(i) for i in items])

    @app.get("/api/evidence/<path:eid>")
    def api_evidence_one(eid: str) -> Any:
        item = st.ledger().items.get(eid)
        if item is None:
            abort(404, f"no evidence {eid!r}")
        return jsonify({**_item_json(item), "history": item.history, "values": item.values})

    @app.get("/api/next")
    def api_next() -> Any:
        f = _filters(request.args)
        f.pop("status", None)
        nxt = _next_after(_queue_items(st.ledger(), {**f, "status": "all"}), request.args.get("after"))
        return jsonify({"evidence_id": nxt.id if nxt else None,
                        "url": url_for("evidence_page", eid=nxt.id) + _qs(f) if nxt else None})

    @app.get("/api/decisions")
    def api_decisions_list() -> Any:
        return jsonify(st.ledger().decisions)

    @app.post("/api/decisions")
    def api_decisions() -> Any:
        data = request.get_json(silent=True) if request.is_json else None
        if not isinstance(data, dict):
            return _error(400, "send one decision as a JSON object with Content-Type application/json")
        data.pop("who", None)
        data.pop("file_bytes", None)
        if data.get("file_name"):
            data.pop("file_name")  # files come through the form upload (POST /add), not JSON
        row = _record(data)
        return jsonify(row), 201


def _inside(path: Path, base: Path) -> bool:
    try:
        path.resolve().relative_to(base.resolve())
    except (ValueError, OSError):
        return False
    return True


def _http_url(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme.lower() in ("http", "https")


def _with_replay_headers(resp: Response) -> Response:
    for k, v in REPLAY_HEADERS.items():
        resp.headers[k] = v
    return resp


def _replay_text(text: str, status: int = 200) -> Response:
    return _with_replay_headers(Response(text, status=status, mimetype="text/plain",
                                         content_type="text/plain; charset=utf-8"))


# --- serving ----------------------------------------------------------------------------------
def make_server(store_path: str | Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kw: Any) -> Any:
    """A bound waitress server (call ``.run()``; ``.close()`` stops it). Port 0 picks a free port
    (``server.effective_port``). A port in use is an AuditError naming the fix."""
    from waitress.server import create_server

    app = create_app(store_path, **kw)
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="windvane-audit",
                               clear_untrusted_proxy_headers=True)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise AuditError(f"port {port} on {host} is in use (another `windvane audit serve`?); "
                             f"choose another with --port, e.g. --port {int(port) + 1}") from None
        if e.errno in (errno.EADDRNOTAVAIL, errno.EACCES):
            raise AuditError(f"cannot listen on {host}:{port} ({os.strerror(e.errno)}); "
                             "choose another --host or --port") from None
        raise
    server.flask_app = app
    return server


def serve(store_path: str | Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT, **kw: Any) -> None:
    """Serve the application with waitress until interrupted."""
    server = make_server(store_path, host=host, port=port, **kw)
    st = server.flask_app.extensions["windvane_audit"]
    print(f"windvane audit: campaign {st.campaign} at http://{host}:{server.effective_port}/ "
          "(Ctrl-C stops)", flush=True)
    try:
        server.run()
    finally:
        server.close()
