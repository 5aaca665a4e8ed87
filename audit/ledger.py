"""Stable evidence identity and the auditors' append-only decision ledger.

**Identity.** A piece of evidence is identified by what it is, not by a row counter:
``evidence_key(campaign, rule_id, url, page_sha256, anchor)`` hashes the campaign, the rule's id,
the page's URL and the SHA-256 of the archived body, and the match's start offset in the page's
text (or, for findings without an offset, the normalised snippet). Re-extracting after a rule
edit therefore gives every finding that is still found the same key (``evidence.eid``); a
finding on a page whose content changed, or that the edited rule no longer finds, is a different
or a missing key, never silently another finding.

**Decisions** (table ``decisions``) are append-only: SQLite triggers refuse UPDATE and DELETE,
and this module only INSERTs. Each row records who, when, why, and a snapshot of the evidence it
was made on (rule id, URL, page hash, offsets, snippet), so a decision whose evidence is gone is
shown as *orphaned* with what it was about. Kinds:

* ``confirm`` / ``reject`` (with a reason code) an evidence key;
* ``override`` a target's leaf points (points + reason);
* ``add`` evidence found by hand (target + leaf + URL, note, optional file; the page is archived
  on the spot when it can be fetched, through the configured proxy);
* ``undo`` a named earlier decision (a new row; the undone row stays).

Roles: ``review`` (the first auditor), ``qc`` (a second auditor, blind, on a configurable share of
items), ``resolve`` (settles a review/QC disagreement). The effective human state of an item is the
latest not-undone ``review``/``resolve`` decision; QC decisions feed agreement (Cohen's κ) and
the disagreement queue, not scores. Scoring (``scoring/run.py``) reads ``load_ledger``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sqlite3
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from evidence.identity import ensure_identity
from evidence.store import Store, now_iso

DECISION_KINDS = ("confirm", "reject", "override", "add", "undo")
ROLES = ("review", "qc", "resolve")
REASON_CODES: dict[str, str] = {
    "wrong_page": "错误页面 · wrong page",
    "wrong_target": "非本地区 · wrong target",
    "outdated": "已过时 · outdated",
    "draft": "草稿/征求意见稿 · draft",
    "not_asked": "不符合指标要求 · not what the leaf asks",
    "blocked_page": "拦截页面 · blocked page",
    "other": "其他 · other",
}
DEFAULT_QC_SHARE = 0.1
QC_META_KEY = "audit.qc_share"
MANUAL_PREFIX = "man_"
CARRIED_NOTE = "carried over from decision #"  # the note of a decision carried over from an orphan


class DecisionError(ValueError):
    """A decision that cannot be recorded; ``status`` is the HTTP status an API answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# --- the ledger -------------------------------------------------------------------------------
@dataclass
class Item:
    """One piece of evidence (machine-found or added by hand) with its human state."""

    id: str
    manual: bool
    site_id: str
    leaf_id: str
    rule_id: str | None
    rule_version: str | None
    page_id: int | None
    url: str | None
    snippet: str | None
    start: int | None
    end: int | None
    values: dict
    points: float | None
    extracted_at: str | None
    page_sha256: str | None
    row_id: int | None = None  # evidence.id (changes with nothing but a new finding; not an identity)
    status: str = "unreviewed"  # unreviewed | confirmed | rejected
    decision: dict | None = None  # the effective review/resolve decision
    history: list[dict] = field(default_factory=list)
    qc_selected: bool = False
    qc_decision: dict | None = None
    disagreement: bool = False

    @property
    def machine_verdict(self) -> str:
        return "added by hand" if self.manual else "found"

    def as_json(self) -> dict:
        d = {k: getattr(self, k) for k in (
            "id", "manual", "site_id", "leaf_id", "rule_id", "rule_version", "page_id", "url", "snippet", "start",
            "end", "values", "points", "extracted_at", "page_sha256", "status", "qc_selected", "disagreement")}
        d["machine_verdict"] = self.machine_verdict
        d["decision"] = self.decision
        return d


def _decision_dict(row: sqlite3.Row | dict) -> dict:
    d = dict(row)
    if not d.get("evidence_key") and d.get("evidence_id") is not None:
        d["legacy_evidence_id"] = d["evidence_id"]  # a row id, from before stable keys
    d["evidence_id"] = d.get("evidence_key")  # the API's evidence_id is the stable key
    return d


def _qc_pick(key: str, share: float) -> bool:
    if share <= 0:
        return False
    h = int(hashlib.sha256(("qc|" + key).encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def qc_share(store: Store) -> float:
    row = store.conn.execute("SELECT value FROM meta WHERE key = ?", [QC_META_KEY]).fetchone()
    try:
        return float(row[0]) if row else DEFAULT_QC_SHARE
    except (TypeError, ValueError):
        return DEFAULT_QC_SHARE


def set_qc_share(store: Store, share: float) -> None:
    """The share (0–1) of reviewed items sent blind to a second auditor; kept in the store."""
    if not 0 <= float(share) <= 1:
        raise DecisionError(f"QC share must be between 0 and 1, not {share}")
    with store.conn:
        store.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [QC_META_KEY, str(float(share))])


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's κ of two raters over ``pairs``; None when undefined (no pairs, or chance agreement 1)."""
    n = len(pairs)
    if not n:
        return None
    cats = sorted({c for p in pairs for c in p})
    po = sum(1 for a, b in pairs if a == b) / n
    pe = sum((sum(1 for a, _ in pairs if a == c) / n) * (sum(1 for _, b in pairs if b == c) / n) for c in cats)
    if pe >= 1:
        return None
    return (po - pe) / (1 - pe)


class Ledger:
    """Every decision of a campaign applied to its current evidence (read-only view)."""

    def __init__(self, campaign: str, items: dict[str, Item], decisions: list[dict],
                 overrides: dict[tuple[str, str], dict], orphans: list[dict], share: float,
                 targets: dict[str, dict]):
        self.campaign = campaign
        self.items = items
        self.decisions = decisions
        self.overrides = overrides
        self.orphans = orphans
        self.qc_share = share
        self.targets = targets

    def items_of_site(self, site_id: str) -> list[Item]:
        return [i for i in self.items.values() if i.site_id == site_id]

    @staticmethod
    def progress(items: Iterable[Item]) -> dict:
        out = {"total": 0, "reviewed": 0, "confirmed": 0, "rejected": 0, "unreviewed": 0}
        for i in items:
            out["total"] += 1
            out[i.status] += 1
            if i.status != "unreviewed":
                out["reviewed"] += 1
        return out

    def qc_queue(self, user: str) -> list[Item]:
        """Items picked for QC that someone else reviewed and nobody has QC'd yet (blind for ``user``)."""
        return [i for i in self.items.values()
                if i.qc_selected and i.decision and i.decision.get("who") != user and i.qc_decision is None]

    def disagreements(self) -> list[Item]:
        return [i for i in self.items.values() if i.disagreement]

    def kappa_by_leaf(self) -> dict[str, dict]:
        """Agreement of the first review with the QC review, per leaf and over ``"all"``."""
        pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for i in self.items.values():
            first = _first_review(i.history)
            if first and i.qc_decision:
                pair = (first["decision"], i.qc_decision["decision"])
                pairs[i.leaf_id].append(pair)
                pairs["all"].append(pair)
        return {leaf: {"n": len(p), "agreements": sum(1 for a, b in p if a == b), "kappa": cohen_kappa(p)}
                for leaf, p in sorted(pairs.items())}

    def used_decisions(self) -> list[dict]:
        """Decisions that change scores now: effective review/resolve verdicts on current evidence,
        effective overrides and additions."""
        out = [i.decision for i in self.items.values() if i.decision]
        out += [d for d in self.decisions if d["decision"] == "add" and not d.get("undone")]
        out += list(self.overrides.values())
        return sorted(out, key=lambda d: d["id"])


def _first_review(history: list[dict]) -> dict | None:
    """The latest not-undone review-role verdict (what the QC auditor is compared with)."""
    reviews = [d for d in history if d["role"] == "review" and d["decision"] in ("confirm", "reject")
               and not d.get("undone")]
    return reviews[-1] if reviews else None


def _legacy_key(d: dict, by_row: dict[int, dict]) -> str | None:
    """A decision from before stable keys names an evidence row id. It is mapped to that row's key
    only if the row was extracted no later than the decision (then it is the row the auditor saw)."""
    ev = by_row.get(int(d["evidence_id"]))
    if ev is None:
        return None
    seen_since = ev.get("first_seen") or ev.get("extracted_at") or ""
    return ev["eid"] if seen_since and d.get("at") and seen_since <= d["at"] else None


def load_ledger(store: Store, campaign: str, light: bool = False) -> Ledger:
    """The campaign's evidence with every decision applied (see the module docstring).
    ``light`` (what scoring needs): every item's extracted ``values`` left empty and no item
    marked for quality control (``qc_selected``), which scoring never reads."""
    conn = store.conn
    if conn.execute("SELECT 1 FROM evidence WHERE campaign = ? AND eid IS NULL LIMIT 1", [campaign]).fetchone():
        with conn:  # rows written around the store (older tools, direct SQL) get their keys now
            ensure_identity(conn)
    prev, conn.row_factory = conn.row_factory, sqlite3.Row
    try:
        cols = ("id, eid, site_id, leaf_id, rule_id, rule_version, page_id, url, snippet, start, \"end\", points, "
                "extracted_at, first_seen, page_sha256") if light else "*"
        ev_rows = [dict(r) for r in conn.execute(f"SELECT {cols} FROM evidence WHERE campaign = ? ORDER BY id",
                                                 [campaign])]
        dec_rows = [_decision_dict(r) for r in conn.execute(
            "SELECT * FROM decisions WHERE campaign = ? ORDER BY id", [campaign])]
        targets = {r["target_id"]: dict(r) for r in conn.execute(
            "SELECT target_id, grp, site_id, name_zh FROM targets WHERE campaign = ?", [campaign])}
    finally:
        conn.row_factory = prev
    share = qc_share(store)
    items: dict[str, Item] = {}
    by_row: dict[int, dict] = {}
    for e in ev_rows:
        by_row[int(e["id"])] = e
        try:
            vals = {} if light else json.loads(e.get("values") or "{}")
        except json.JSONDecodeError:
            vals = {}
        items[e["eid"]] = Item(
            id=e["eid"], manual=False, site_id=e["site_id"], leaf_id=e["leaf_id"], rule_id=e["rule_id"],
            rule_version=e.get("rule_version"), page_id=e.get("page_id"), url=e.get("url"), snippet=e.get("snippet"),
            start=e.get("start"), end=e.get("end"), values=vals, points=e.get("points"),
            extracted_at=e.get("extracted_at"), page_sha256=e.get("page_sha256"), row_id=int(e["id"]),
            qc_selected=not light and _qc_pick(e["eid"], share))
    # undo: a row names the decision it undoes; undoing an undo is refused when recorded
    undone = {int(d["undoes"]) for d in dec_rows if d["decision"] == "undo" and d.get("undoes") is not None}
    for d in dec_rows:
        d["undone"] = d["id"] in undone
        d["role"] = d.get("role") or "review"
    overrides: dict[tuple[str, str], dict] = {}
    orphans: list[dict] = []
    for d in dec_rows:
        kind = (d.get("decision") or "").lower()
        d["decision"] = kind
        if kind == "add":
            key = d.get("evidence_key") or f"{MANUAL_PREFIX}{d['id']}"
            if d["undone"] or not d.get("site_id") or not d.get("leaf_id"):
                continue
            items[key] = Item(
                id=key, manual=True, site_id=d["site_id"], leaf_id=d["leaf_id"], rule_id=None, rule_version=None,
                page_id=d.get("page_id"), url=d.get("url"), snippet=d.get("snippet") or d.get("note"), start=None,
                end=None, values={"note": d.get("note"), "file": d.get("file"), "added_by": d.get("who")},
                points=None, extracted_at=d.get("at"), page_sha256=d.get("page_sha256"),
                qc_selected=_qc_pick(key, share))
    for d in dec_rows:
        kind = d["decision"]
        if kind == "override":
            if not d["undone"] and d.get("target_id") and d.get("leaf_id"):
                overrides[(d["target_id"], d["leaf_id"])] = d
            continue
        if kind not in ("confirm", "reject"):
            continue
        key = d.get("evidence_key")
        if not key and d.get("legacy_evidence_id") is not None:
            key = _legacy_key({**d, "evidence_id": d["legacy_evidence_id"]}, by_row)
            d["evidence_key"] = d["evidence_id"] = key
        item = items.get(key) if key else None
        if item is None:
            if not d["undone"]:
                orphans.append(d)
            continue
        item.history.append(d)
        if d["undone"]:
            continue
        if d["role"] == "qc":
            item.qc_decision = d
        else:
            item.decision = d
            item.status = "confirmed" if kind == "confirm" else "rejected"
    _attach_candidates(orphans, items)
    for d in dec_rows:  # an added item's history starts with its 'add'
        if d["decision"] == "add":
            added = items.get(d.get("evidence_key") or f"{MANUAL_PREFIX}{d['id']}")
            if added is not None:
                added.history.insert(0, d)
    for item in items.values():
        if item.qc_decision and item.decision:
            resolved = item.decision["role"] == "resolve" and item.decision["id"] > item.qc_decision["id"]
            first = _first_review(item.history)
            item.disagreement = bool(first and first["decision"] != item.qc_decision["decision"] and not resolved)
    return Ledger(campaign, items, dec_rows, overrides, orphans, share, targets)


def _norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def _attach_candidates(orphans: list[dict], items: dict[str, Item]) -> None:
    """Give each orphaned decision ``candidates``: current findings of the same rule on the same URL
    whose span overlaps the one decided on, or whose snippet is the same. They are shown to the
    auditor, who may carry the decision over (a new decision); nothing is applied by itself."""
    if not orphans:
        return
    by_rule_url: dict[tuple, list[Item]] = defaultdict(list)
    for i in items.values():
        if not i.manual:
            by_rule_url[(i.rule_id, i.url)].append(i)
    for d in orphans:
        found = []
        for i in by_rule_url.get((d.get("rule_id"), d.get("url")), []):
            overlap = (d.get("start") is not None and d.get("end") is not None and i.start is not None
                       and i.end is not None and i.start < d["end"] and d["start"] < i.end)
            if overlap or (d.get("snippet") and _norm(i.snippet) == _norm(d["snippet"])):
                found.append(i.id)
        d["candidates"] = found
        mark = f"{CARRIED_NOTE}{d['id']}"
        d["carried_over_to"] = [c for c in found if items[c].decision
                                and (items[c].decision.get("note") or "").startswith(mark)]


# --- recording --------------------------------------------------------------------------------
_COLS = ("campaign", "evidence_key", "site_id", "target_id", "leaf_id", "decision", "role", "reason", "note",
         "points", "undoes", "who", "at", "why", "url", "snippet", "rule_id", "page_sha256", "start", "end",
         "page_id", "file")


def _insert(store: Store, row: dict) -> dict:
    cols = [c for c in _COLS if c in row]
    conn = store.conn
    in_tx = conn.in_transaction
    if not in_tx:
        conn.execute("BEGIN IMMEDIATE")  # the checks below and the insert see one state of the ledger
    try:
        if row.get("undoes") is not None and conn.execute(
                "SELECT 1 FROM decisions WHERE undoes = ? AND campaign = ?", [row["undoes"], row["campaign"]]).fetchone():
            raise DecisionError(f"decision {row['undoes']} is already undone", 409)
        cur = conn.execute(
            f"INSERT INTO decisions ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])
    except BaseException:
        if not in_tx:
            conn.rollback()
        raise
    if not in_tx:
        conn.commit()
    out = _decision_dict({**{c: None for c in _COLS}, **row, "id": cur.lastrowid})
    return out


def _text(payload: dict, key: str, limit: int = 4000) -> str | None:
    v = payload.get(key)
    if v is None:
        return None
    if not isinstance(v, str | int | float):
        raise DecisionError(f"{key} must be text")
    v = str(v).strip()
    return v[:limit] or None


def record_decision(store: Store, campaign: str, who: str, payload: dict, *, proxy: str | None = None,
                    ledger: Ledger | None = None) -> dict:
    """Validate and append one decision; return the stored row (``evidence_id`` = the stable key).

    Raises ``DecisionError`` (with an HTTP status) for anything that cannot be recorded.
    """
    if not who:
        raise DecisionError("a decision needs a signed-in auditor", 401)
    if not isinstance(payload, dict):
        raise DecisionError("the decision must be a JSON object")
    kind = (_text(payload, "decision") or "").lower()
    if kind not in DECISION_KINDS:
        raise DecisionError(f"decision must be one of {', '.join(DECISION_KINDS)}")
    role = (_text(payload, "role") or "review").lower()
    if role not in ROLES:
        raise DecisionError(f"role must be one of {', '.join(ROLES)}")
    led = ledger or load_ledger(store, campaign)
    reason = _text(payload, "reason", 200)
    note = _text(payload, "note")
    row: dict[str, Any] = {"campaign": campaign, "decision": kind, "role": role, "who": who, "at": now_iso(),
                           "reason": reason, "note": note}
    if kind in ("confirm", "reject"):
        key = _text(payload, "evidence_id", 200)
        item = led.items.get(key or "")
        if item is None:
            raise DecisionError(f"no evidence {key!r} in campaign {campaign!r} (re-extracted or never found)", 404)
        if kind == "reject" and reason not in REASON_CODES:
            raise DecisionError(f"a rejection needs a reason code: one of {', '.join(REASON_CODES)}")
        if kind == "confirm" and reason is not None and reason not in REASON_CODES:
            row["reason"] = None
            row["note"] = "; ".join(x for x in (reason, note) if x)
        if role == "qc":
            if not item.qc_selected:
                raise DecisionError(f"{key} is not among the items sent to quality control", 409)
            if item.decision is None:
                raise DecisionError(f"{key} has no first review yet", 409)
            first = _first_review(item.history)
            if first and first["who"] == who:
                raise DecisionError("quality control needs a second auditor, not the first reviewer", 409)
        if role == "resolve" and not item.disagreement:
            raise DecisionError(f"{key} has no review/QC disagreement to resolve", 409)
        row.update({"evidence_key": item.id, "site_id": item.site_id, "leaf_id": item.leaf_id, "url": item.url,
                    "snippet": item.snippet, "rule_id": item.rule_id, "page_sha256": item.page_sha256,
                    "start": item.start, "end": item.end, "page_id": item.page_id})
        row["why"] = REASON_CODES.get(row["reason"] or "", "") + (f": {note}" if note else "") or None
        return _insert(store, row)
    if kind == "undo":
        try:
            target_id = int(payload.get("undoes"))
        except (TypeError, ValueError):
            raise DecisionError("an undo names the decision it undoes: undoes = decision id") from None
        old = next((d for d in led.decisions if d["id"] == target_id), None)
        if old is None:
            raise DecisionError(f"no decision {target_id} in campaign {campaign!r}", 404)
        if old["decision"] == "undo":
            raise DecisionError("an undo cannot be undone; record the decision again instead", 409)
        if old["undone"]:
            raise DecisionError(f"decision {target_id} is already undone", 409)
        row.update({"undoes": target_id, "evidence_key": old.get("evidence_key"), "site_id": old.get("site_id"),
                    "target_id": old.get("target_id"), "leaf_id": old.get("leaf_id"), "url": old.get("url"),
                    "why": f"undo of decision {target_id}" + (f": {note}" if note else "")})
        return _insert(store, row)
    target_id = _text(payload, "target_id", 100)
    target = led.targets.get(target_id or "")
    if target is None:
        raise DecisionError(f"no target {target_id!r} in campaign {campaign!r}", 404)
    leaf_id = _text(payload, "leaf_id", 100)
    if not leaf_id:
        raise DecisionError(f"{kind} needs the leaf_id")
    row.update({"target_id": target_id, "site_id": target["site_id"], "leaf_id": leaf_id})
    if kind == "override":
        try:
            points = float(payload.get("points"))
        except (TypeError, ValueError):
            raise DecisionError("an override needs points (a number)") from None
        if points < 0 or points != points:
            raise DecisionError("override points must be 0 or more")
        if not reason:
            raise DecisionError("an override needs a reason")
        row.update({"points": points, "why": f"override to {points:g}: {reason}" + (f" ({note})" if note else "")})
        return _insert(store, row)
    # add: evidence found by hand
    url = _text(payload, "url", 2000)
    if not url or not re.match(r"^https?://[^\s/]+", url):
        raise DecisionError("added evidence needs an http(s) URL")
    row.update({"url": url, "snippet": _text(payload, "snippet", 2000) or note,
                "why": "added by hand" + (f": {note}" if note else "")})
    file_bytes = payload.get("file_bytes")
    if file_bytes:
        row["file"] = _save_file(store, campaign, _text(payload, "file_name", 200) or "file", file_bytes)
    archived = archive_url(store, campaign, target["site_id"], url, proxy=proxy)
    row.update({"page_id": archived.get("page_id"), "page_sha256": archived.get("sha256")})
    out = _insert(store, row)
    out["evidence_id"] = out["evidence_key"] = f"{MANUAL_PREFIX}{out['id']}"
    out["archived"] = archived.get("page_id")
    out["archive_error"] = archived.get("error")
    return out


def _save_file(store: Store, campaign: str, name: str, data: bytes) -> str:
    """Keep an auditor's uploaded file under the campaign folder; returns its path relative to it."""
    from werkzeug.utils import secure_filename

    safe = secure_filename(name) or "file"
    digest = hashlib.sha256(data).hexdigest()
    folder = store.campaign_dir(campaign) / "manual"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{digest[:16]}-{safe}"
    path.write_bytes(data)
    return str(path.relative_to(store.campaign_dir(campaign)))


MAX_ARCHIVE_BYTES = 20 << 20


def archive_url(store: Store, campaign: str, site_id: str, url: str, *, proxy: str | None = None,
                timeout: float = 20.0) -> dict:
    """Fetch ``url`` (through ``proxy`` when given) and archive it as a page of the campaign: a WARC
    response record and a ``pages`` row (kind ``manual``, via ``audit``). Returns ``{page_id, sha256}``
    or ``{error}``; a page already stored for the URL is reused, not fetched again."""
    from crawlers.pipeline import page_text
    from evidence.decode import decode_html
    from evidence.warc import WarcArchive

    have = store.page_by_url(url, campaign)
    if have and have.get("warc_file"):
        return {"page_id": have["id"], "sha256": have.get("sha256")}
    handlers: list[Any] = [urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {})]
    if proxy:
        import ssl

        ctx = ssl.create_default_context()
        ctx.check_hostname = False  # a content fetch, as the crawler's (see docs/store.md, TLS)
        ctx.verify_mode = ssl.CERT_NONE
        handlers.append(urllib.request.HTTPSHandler(context=ctx))
    opener = urllib.request.build_opener(*handlers)
    req = urllib.request.Request(url, headers={"User-Agent": "windvane-audit/0.1 (evidence archiving)"})
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, reason = resp.status, resp.reason
            headers = list(resp.headers.items())
            body = resp.read(MAX_ARCHIVE_BYTES + 1)
            final = resp.geturl()
    except urllib.error.HTTPError as e:
        return {"error": f"{url}: answered {e.code} {e.reason}"}
    except (urllib.error.URLError, OSError, ValueError) as e:
        return {"error": f"{url}: not reachable ({getattr(e, 'reason', e)})"}
    if len(body) > MAX_ARCHIVE_BYTES:
        return {"error": f"{url}: larger than {MAX_ARCHIVE_BYTES >> 20} MB, not archived"}
    at = now_iso()
    warc = WarcArchive(store.campaign_dir(campaign) / "warc", campaign, writer_id="audit")
    try:
        ref = warc.write_response(url, status, reason, headers, body, at)
    finally:
        warc.close()
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    title, text, enc = None, None, None
    if "html" in ctype.lower() or not ctype:
        import lxml.html

        decoded, enc = decode_html(body, ctype)
        try:
            title, text = page_text(lxml.html.document_fromstring(decoded))
        except (ValueError, lxml.etree.ParserError):
            title, text = None, None
    store.add_pages([{"campaign": campaign, "site_id": site_id, "url": url, "final_url": final, "status": status,
                      "headers": json.dumps(dict(headers), ensure_ascii=False), "fetched_at": at,
                      "sha256": ref.sha256, "content_type": ctype, "encoding": enc, "title": title, "text": text,
                      "size": len(body), "depth": None, "kind": "manual", "via": "audit", "warc_file": ref.file,
                      "warc_offset": ref.offset, "warc_length": ref.length}])
    page = store.page_by_url(url, campaign)
    return {"page_id": page["id"] if page else None, "sha256": ref.sha256}


# --- exports ----------------------------------------------------------------------------------
def _cell(v: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab/CR) gets a leading '."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


DECISION_EXPORT_COLS = ("id", "at", "who", "role", "decision", "evidence_id", "target_id", "site_id", "leaf_id",
                        "reason", "note", "points", "undoes", "undone", "orphaned", "rule_id", "url", "snippet",
                        "page_sha256", "file")


def decisions_csv(store: Store, campaign: str, out: TextIO) -> int:
    """Every decision of the campaign, oldest first, with whether it is undone or orphaned."""
    led = load_ledger(store, campaign)
    orphan_ids = {d["id"] for d in led.orphans}
    w = csv.writer(out)
    w.writerow(DECISION_EXPORT_COLS)
    for d in led.decisions:
        d = {**d, "orphaned": int(d["id"] in orphan_ids), "undone": int(bool(d.get("undone")))}
        w.writerow([_cell(d.get(c)) for c in DECISION_EXPORT_COLS])
    return len(led.decisions)


APPROVED_COLS = ("target_id", "name_zh", "group", "leaf_id", "leaf_points", "evidence_id", "manual", "rule_id",
                 "rule_version", "url", "page_sha256", "snippet", "confirmed_by", "confirmed_at", "decision_id")


def approved_evidence_csv(store: Store, campaign: str, run_id: str | None, out: TextIO) -> int:
    """The evidence a published score rests on, approved only: for every target × leaf of the run
    with points, each piece of its evidence whose effective decision is ``confirm``."""
    run = store.run(run_id, campaign=campaign)
    led = load_ledger(store, campaign)
    w = csv.writer(out)
    w.writerow(APPROVED_COLS)
    n = 0
    rows = store.conn.execute(
        "SELECT s.target_id, t.name_zh, t.grp, s.node_id, s.points, s.evidence_ids FROM scores s "
        "JOIN targets t ON t.target_id = s.target_id AND t.campaign = ? "
        "WHERE s.run_id = ? AND s.level = 'leaf' AND s.points > 0 ORDER BY t.rowid, s.node_id",
        [campaign, run["run_id"]]).fetchall()
    for tid, name, grp, leaf, pts, ids in rows:
        for key in json.loads(ids or "[]"):
            item = led.items.get(str(key))
            if item is None or item.status != "confirmed" or not item.decision:
                continue
            w.writerow([_cell(v) for v in (
                tid, name, grp, leaf, pts, item.id, int(item.manual), item.rule_id, item.rule_version, item.url,
                item.page_sha256, item.snippet, item.decision["who"], item.decision["at"], item.decision["id"])])
            n += 1
    return n


def evidence_text(store: Store, campaign: str, item: Item) -> str | None:
    """The page text the item's ``start``/``end`` offsets refer to (the rules' parse of the archived
    page, which may differ from ``pages.text``); None when the page cannot be read."""
    from extractors.run import page_doc_from_row

    if item.page_id is None:
        return None
    try:
        row = store.page(int(item.page_id))
    except Exception:  # noqa: BLE001 - a missing page row reads as no text
        return None
    doc = page_doc_from_row(store, campaign, row)
    return doc.text if doc else row.get("text")


def uploaded_file(store: Store, campaign: str, rel: str) -> Path | None:
    """The absolute path of an uploaded file named in a decision, only if it lies in the campaign folder."""
    base = store.campaign_dir(campaign).resolve()
    p = (base / rel).resolve()
    return p if p.is_relative_to(base) and p.is_file() else None
