"""Stored JSON API responses and numbers: the ``json`` matcher, and points graded by tiers.

Platforms render their dataset, API and service lists from JSON APIs that the page's scripts
fetch; the crawl archives those responses like pages (content type ``application/json``, or
kind ``json``) and ``extractors.engine.parse_json`` reads them into ``PageDoc.data``.

A **path** selects values in the parsed response: keys separated by dots, ``[*]`` every element
of a list, ``[2]`` one element, ``*`` every value of an object (or element of a list), ``**``
any depth, ``a|b`` either key (keys compare case-insensitively). A key applied to a list applies
to each element, so ``data.list.format`` and ``data.list[*].format`` select the same. A path
option may be a list of paths: the first that selects anything is used (APIs differ:
``data.total``, ``total``, ``result.count``).

``json`` options (``extractors/matchers_json.py``):

``path``          the values (from the response's root, or from each item when ``items`` is given);
``items``         the units counted: each selected item is one (e.g. ``data.list[*]``), and an item
                  passes when any of its ``path`` values passes the tests;
``pattern`` / ``not``  a regex a (string form of the) value must / must not match;
``min`` / ``max`` a number the value must be at least / at most (``1,234``, ``1.2万`` are numbers);
``within_days``   the value is a date (``2023-09-12 10:00``, ``2023年9月12日``, epoch seconds or
                  milliseconds) on or before the as-of date and at most so many days before it;
``aggregate``     ``any`` (default: one hit per passing unit), ``count`` (the number of passing
                  units), ``share`` (passing / all units), ``max`` / ``min`` / ``sum`` (over the
                  numbers of the passing units);
``min_items``     an aggregate needs at least so many units (default 1), else no hit;
``at_least``      an aggregate's number must be at least this, else no hit.

An aggregate's hit carries ``number`` (what tiers grade), ``total`` and ``matched`` (the units
and those passing, which the ``share`` site aggregate pools over pages) and a few sample values.

**Tiers** (a rule's ``tiers:``): the points of each finding read from a number it carries,
``{value: number, points: [{min: 1, points: 0.5}, {min: 100, points: 1}, {min: 1000, points: 2}]}``:
the highest step whose ``min`` the number reaches, 0 points below the first (a counter saying 0 is
recorded, and scores nothing). The thresholds live in the rule files, never in code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from extractors.engine import Context, PageDoc, parse_date
from extractors.matchers import KINDS, LEAF_KINDS, Hit, Matcher, MatchError, compile_regex

_FULLWIDTH = str.maketrans("０１２３４５６７８９．，", "0123456789.,")
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(万|亿)?")
_SCALE = {"万": 1e4, "亿": 1e8, None: 1.0}


def to_number(value: object) -> float | None:
    """A number from a JSON number or a printed one (``1,234``, ``１２３４``, ``1.2万``); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    s = value.translate(_FULLWIDTH).replace(",", "").replace(" ", "").replace("\u00a0", "")
    m = _NUMBER.match(s)
    if not m:
        return None
    return float(m.group(1)) * _SCALE[m.group(2)]


def to_date(value: object) -> date | None:
    """A date from a printed date or an epoch timestamp (seconds or milliseconds)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()
                                           and len(value.strip()) in (10, 13)):
        n = float(value)
        if n > 1e11:
            n /= 1000.0
        if 1e8 < n < 5e9:
            return datetime.fromtimestamp(n, tz=UTC).date()
        return None
    return parse_date(str(value)) if isinstance(value, str) else None


# --- paths -------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\[(\*|\d+)\]|([^.\[\]]+)")


def compile_path(path: object, where: tuple) -> list[tuple[str, Any]]:
    """A path string -> tokens ("key", {names}), ("any", None), ("deep", None), ("each", None), ("index", n)."""
    if not isinstance(path, str) or not path.strip():
        raise MatchError(where, "a JSON path is a non-empty string such as data.list[*].format")
    tokens: list[tuple[str, Any]] = []
    pos = 0
    s = path.strip()
    while pos < len(s):
        if s[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(s, pos)
        if not m:
            raise MatchError(where, f"cannot read the JSON path {path!r} at {s[pos:]!r}")
        if m.group(1) is not None:
            tokens.append(("each", None) if m.group(1) == "*" else ("index", int(m.group(1))))
        else:
            key = m.group(2).strip()
            if key == "*":
                tokens.append(("any", None))
            elif key == "**":
                tokens.append(("deep", None))
            else:
                tokens.append(("key", frozenset(k.strip().lower() for k in key.split("|") if k.strip())))
        pos = m.end()
    return tokens


def select(value: Any, tokens: list[tuple[str, Any]]) -> list[Any]:
    """Every value the path selects (in document order)."""
    return [v for v, _where in located(value, tokens)]


def located(value: Any, tokens: list[tuple[str, Any]], at: str = "") -> list[tuple[Any, str]]:
    """Every value the path selects with where it is (``data.list[3].format``), in document order."""
    cur = [(value, at)]
    for i, (op, arg) in enumerate(tokens):
        nxt: list[tuple[Any, str]] = []
        for v, where in cur:
            if op == "key":
                _by_key(v, arg, where, nxt)
            elif op in ("each", "any"):
                if isinstance(v, list):
                    nxt.extend((x, f"{where}[{n}]") for n, x in enumerate(v))
                elif isinstance(v, dict) and op == "any":
                    nxt.extend((x, _join(where, k)) for k, x in v.items())
            elif op == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append((v[arg], f"{where}[{arg % len(v)}]"))
            elif op == "deep":  # zero or more levels: the rest of the path from every node below
                rest = tokens[i + 1:]
                out: list[tuple[Any, str]] = []
                seen: set[int] = set()
                for node, node_at in _walk(v, where):
                    if isinstance(node, list) and rest and rest[0][0] == "key":
                        continue  # its elements are walked themselves
                    for x, x_at in located(node, rest, node_at):
                        if id(x) not in seen or not isinstance(x, (dict, list)):
                            seen.add(id(x))
                            out.append((x, x_at))
                return out
        cur = nxt
    return cur


def _join(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _by_key(v: Any, names: frozenset[str], where: str, out: list[tuple[Any, str]]) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            if str(k).lower() in names:
                out.append((x, _join(where, k)))
    elif isinstance(v, list):  # a key applied to a list applies to its elements
        for n, x in enumerate(v):
            if isinstance(x, (dict, list)):
                _by_key(x, names, f"{where}[{n}]", out)


def _walk(v: Any, where: str):
    yield v, where
    if isinstance(v, dict):
        for k, x in v.items():
            yield from _walk(x, _join(where, k))
    elif isinstance(v, list):
        for n, x in enumerate(v):
            yield from _walk(x, f"{where}[{n}]")


def _scalars(values: list[Any]) -> list[Any]:
    """Selected values with lists of scalars spread out (formats: ["CSV", "PDF"] -> "CSV", "PDF")."""
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.extend(x for x in v if not isinstance(x, (dict, list)))
        else:
            out.append(v)
    return out


def _paths(spec: object, where: tuple) -> list[tuple[str, list]]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise MatchError(where, "an empty list of JSON paths")
    return [(p, compile_path(p, where + (i,) if isinstance(spec, list) else where)) for i, p in enumerate(items)]


def _first(value: Any, paths: list[tuple[str, list]]) -> tuple[str, list[Any]]:
    """The values of the first path that selects any, and where the first of them is (data.total)."""
    for _text, toks in paths:
        got = located(value, toks)
        if got:
            return got[0][1], [v for v, _where in got]
    return (paths[0][0] if paths else ""), []


# --- the matcher -------------------------------------------------------------------------------
AGGREGATES = ("any", "count", "share", "max", "min", "sum")
MAX_ANY_HITS = 20


class JsonMatcher(Matcher):
    FIELDS = {"path", "items", "pattern", "not", "min", "max", "within_days", "aggregate", "min_items", "at_least"}

    def __init__(self, spec: dict, path: tuple):
        self.paths = _paths(spec.get("path"), path + ("path",))
        self.items = _paths(spec.get("items"), path + ("items",))
        if not self.paths and not self.items:
            raise MatchError(path, "a json matcher needs a path (or items)")
        self.pattern = compile_regex(spec.get("pattern"), path + ("pattern",))
        self.neg = compile_regex(spec.get("not"), path + ("not",))
        for k in ("min", "max", "at_least"):
            if spec.get(k) is not None and to_number(spec.get(k)) is None:
                raise MatchError(path + (k,), f"'{k}' must be a number")
        self.min = to_number(spec.get("min"))
        self.max = to_number(spec.get("max"))
        self.at_least = to_number(spec.get("at_least"))
        self.within_days = spec.get("within_days")
        if self.within_days is not None and (not isinstance(self.within_days, int) or self.within_days < 0):
            raise MatchError(path + ("within_days",), "'within_days' must be a whole number of days")
        self.aggregate = spec.get("aggregate", "any")
        if self.aggregate not in AGGREGATES:
            raise MatchError(path + ("aggregate",), f"aggregate must be one of {', '.join(AGGREGATES)}")
        self.min_items = int(spec.get("min_items", 1))
        if self.at_least is not None and self.aggregate == "any":
            raise MatchError(path + ("at_least",), "'at_least' applies to an aggregate (count, share, max, min, sum)")

    def passes(self, v: Any, ctx: Context) -> bool:
        if v is None or isinstance(v, (dict, list)):
            return False
        s = v if isinstance(v, str) else str(v)
        if not s.strip():
            return False
        if self.pattern is not None and not self.pattern.search(s):
            return False
        if self.neg is not None and self.neg.search(s):
            return False
        if self.min is not None or self.max is not None:
            n = to_number(v)
            if n is None or (self.min is not None and n < self.min) or (self.max is not None and n > self.max):
                return False
        if self.within_days is not None:
            d = to_date(v)
            if d is None or d > ctx.as_of or (ctx.as_of - d).days > self.within_days:
                return False
        return True

    def units(self, data: Any, ctx: Context) -> tuple[str, list[tuple[Any, list[Any]]]]:
        """(the path used, [(unit, its passing values)]): items, or the selected values themselves."""
        if self.items:
            where, got = _first(data, self.items)
            items = [x for it in got for x in (it if isinstance(it, list) else [it])]  # a list is its items
            out = []
            for it in items:
                if not self.paths:  # items alone: every item counts
                    out.append((it, [it]))
                    continue
                _p, vals = _first(it, self.paths)
                out.append((it, [v for v in _scalars(vals) if self.passes(v, ctx)]))
            return where, out
        where, vals = _first(data, self.paths)
        return where, [(v, [v] if self.passes(v, ctx) else []) for v in _scalars(vals)]

    def evaluate(self, page: PageDoc, ctx: Context) -> list[Hit]:
        if page.kind != "json" or page.data is None:
            return []
        where, units = self.units(page.data, ctx)
        passing = [(u, vals) for u, vals in units if vals]
        if self.aggregate == "any":
            out, pos = [], 0
            for _u, vals in passing[:MAX_ANY_HITS]:
                shown = str(vals[0])
                at = page.text.find(shown, pos)
                at = at if at >= 0 else page.text.find(shown)
                if at >= 0:
                    pos = at + len(shown)
                out.append(Hit(shown[:300], max(at, 0), max(at, 0) + len(shown) if at >= 0 else 0,
                               {"path": where, "value": vals[0] if not isinstance(vals[0], str) else shown[:300]}))
            return out
        if len(units) < self.min_items:
            return []
        if self.aggregate == "count":
            number: float | None = float(len(passing))
        elif self.aggregate == "share":
            number = round(len(passing) / len(units), 4) if units else None
        else:
            nums = [n for _u, vals in passing for n in (to_number(v) for v in vals) if n is not None]
            number = (max(nums) if self.aggregate == "max" else min(nums) if self.aggregate == "min"
                      else sum(nums)) if nums else None
        if number is None or (self.at_least is not None and number < self.at_least):
            return []
        sample = [vals[0] for _u, vals in passing[:5] if not isinstance(vals[0], (dict, list))]
        snippet = f"{self.aggregate} {number:g} of {where}" + (f" ({len(passing)}/{len(units)})"
                                                              if self.aggregate in ("share", "count") else "")
        return [Hit(snippet, 0, 0, {"number": number, "total": len(units), "matched": len(passing),
                                    "aggregate": self.aggregate, "path": where, "sample": sample})]


# --- tiers -------------------------------------------------------------------------------------
@dataclass
class Tiers:
    """Points read from a number a finding carries (``value``): the highest step reached."""

    value: str
    steps: list[tuple[float, float]]  # (min, points), ascending min

    @classmethod
    def build(cls, spec: object, path: tuple, max_points: float) -> Tiers:
        if not isinstance(spec, dict) or not isinstance(spec.get("points"), list) or not spec["points"]:
            raise MatchError(path, "tiers: {value: number, points: [{min: 1, points: 0.5}, …]}")
        steps = []
        for i, st in enumerate(spec["points"]):
            here = path + ("points", i)
            if not isinstance(st, dict) or to_number(st.get("min")) is None or to_number(st.get("points")) is None:
                raise MatchError(here, "a tier is {min: <number>, points: <number>}")
            lo, pts = float(to_number(st["min"])), float(to_number(st["points"]))  # type: ignore[arg-type]
            if pts > max_points:
                raise MatchError(here + ("points",), f"tier points {pts:g} exceed the rule's points {max_points:g}")
            if steps and lo <= steps[-1][0]:
                raise MatchError(here + ("min",), "tiers must be in increasing order of min")
            steps.append((lo, pts))
        return cls(str(spec.get("value", "number")), steps)

    def grade(self, values: dict) -> tuple[float, dict]:
        """(points, what decided them) for a finding's values."""
        n = to_number(values.get(self.value))
        if n is None:
            return 0.0, {"value": None, "points": 0.0, "why": f"no number in {self.value!r}"}
        got = 0.0
        reached = None
        for lo, pts in self.steps:
            if n >= lo:
                got, reached = pts, lo
        return got, {"value": n, "min": reached, "points": got}


def register() -> None:
    LEAF_KINDS["json"] = JsonMatcher
    KINDS.add("json")


register()
