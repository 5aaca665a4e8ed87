"""`windvane inspect`: run the rules over given files or stored URLs and report every finding.

Inputs are HTML or text files (any encoding: declared, or detected; GBK without a
declaration works) or URLs already in the store (read back from the WARC record). Each
finding says which indicator and rule fired, the snippet and its offsets in the page's
visible text, the values it extracted and the checks it made. A policy-document page is
also reported once with its metadata (``kind: "document"``, ``indicator_id: "document"``) and
every check, whether or not a rule matched, so a rule author sees why a document was
rejected. Without a target, "issued by this target" is ``"not_evaluated"``, never guessed.
For a stored URL whose site's site-level rules `windvane extract` did not evaluate (no 2xx
portal home page, too few pages), one record per such leaf says why (``kind: "not_evaluated"``).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from evidence.coverage import not_evaluated
from evidence.store import StoreError
from extractors.document import TargetNames
from extractors.engine import (
    Context,
    PageDoc,
    decode_body,
    looks_like_html,
    looks_like_json,
    parse_html,
    parse_json,
    parse_text,
    run_rules,
)
from extractors.matchers import document_checks
from extractors.rules import RuleSet
from extractors.run import as_of_date, page_doc_from_row

_HTML_EXT = {".html", ".htm", ".shtml", ".xhtml", ".jsp", ".asp", ".aspx", ".php", ".xml"}
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)\s*(\S+?)\s*-->", re.I)
_CANONICAL = re.compile(r"""<link[^>]+rel=["']?canonical["']?[^>]*href=["']([^"']+)["']""", re.I)
_OG_URL = re.compile(r"""<meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)["']""", re.I)


class InspectError(StoreError):
    """An input that cannot be inspected (missing file, URL not in the store, unknown target)."""


def page_url_of(html: str) -> str | None:
    """The URL a saved page came from, if the page says so (saved-from mark, canonical, og:url)."""
    head = html[:20000]
    for rx in (_SAVED_FROM, _CANONICAL, _OG_URL):
        m = rx.search(head)
        if m and m.group(1).lower().startswith(("http://", "https://")):
            return m.group(1)
    return None


def _resolve_target(target: str | None, registry) -> tuple[TargetNames, object] | None:
    if not target:
        return None
    if registry is None:
        raise InspectError(f"--target {target}: no registry to look the target up in")
    for t in registry.targets:
        if target in (t.target_id, t.site_id, t.name_zh):
            return TargetNames.from_target(t, registry), t
    raise InspectError(f"--target {target}: no such target_id in {registry.path}")


def _load_file(path: Path, default_url: str | None) -> PageDoc:
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        raise InspectError(f"{path}: no such file (and not a stored URL)") from None
    except OSError as e:
        raise InspectError(f"{path}: cannot read ({e.strerror})") from None
    text, _enc = decode_body(body)
    if path.suffix.lower() == ".json" or (path.suffix.lower() not in _HTML_EXT and looks_like_json(text)
                                          and parse_json(text).data is not None):
        return parse_json(text, default_url or path.resolve().as_uri())  # a saved API response
    if path.suffix.lower() in _HTML_EXT or (path.suffix.lower() != ".txt" and looks_like_html(text)):
        url = page_url_of(text) or default_url or path.resolve().as_uri()
        return parse_html(text, url)
    return parse_text(text, default_url or path.resolve().as_uri())


def inspect_inputs(inputs: list[str], ruleset: RuleSet, target: str | None = None, as_of: object = None,
                   store=None, registry=None) -> list[dict]:
    """Every finding (and every policy document's metadata) for each input, as plain dicts."""
    resolved = _resolve_target(target, registry)
    names, target_row = resolved if resolved else (None, None)
    ctx = Context(as_of_date(as_of), names)
    out: list[dict] = []
    for inp in inputs:
        gaps: dict[str, str] = {}
        if "://" in inp and not inp.startswith("file://"):
            if store is None:
                raise InspectError(f"{inp}: a URL is read from the store, but no store was given")
            row = store.page_by_url(inp)
            if row is None:
                raise InspectError(f"{inp}: not in the store {store.path} (inspect reads stored pages only)")
            page = page_doc_from_row(store, row["campaign"], row)
            if page is None:
                raise InspectError(f"{inp}: the stored page has no readable body or text")
            # what `windvane extract` could not judge for the page's site (its site-level rules)
            gaps = not_evaluated(store.conn, row["campaign"]).get(row.get("site_id") or "", {})
        else:
            path = Path(inp[7:] if inp.startswith("file://") else inp)
            page = _load_file(path, target_row.portal_url if target_row else None)
        for f in run_rules(page, ruleset, ctx):
            out.append({"input": inp, "kind": "finding", "indicator_id": f.leaf_id, "rule_id": f.rule_id,
                        "rule_version": f.rule_version, "points": f.points, "url": page.url,
                        "snippet": f.snippet, "start": f.start, "end": f.end,
                        "values": f.values, "checks": f.checks})
        doc = page.document
        if doc is not None:
            checks, notes = document_checks(doc, ctx)
            values = doc.values()
            values["check_notes"] = notes
            values["fields"] = doc.fields
            out.append({"input": inp, "kind": "document", "indicator_id": "document",
                        "rule_id": "document.metadata", "rule_version": None, "points": None,
                        "url": page.url, "snippet": doc.title, "start": doc.title_start, "end": doc.title_end,
                        "values": values, "checks": checks,
                        "host": urlsplit(page.url).hostname or ""})
        for leaf_id, reason in gaps.items():
            out.append({"input": inp, "kind": "not_evaluated", "indicator_id": leaf_id,
                        "rule_id": f"{leaf_id}.not_evaluated", "rule_version": None, "points": None,
                        "url": page.url, "snippet": reason, "start": 0, "end": 0, "values": {"reason": reason},
                        "checks": {}})
    return out
