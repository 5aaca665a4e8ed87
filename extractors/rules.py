"""Loading rules/: the indicator tree, the leaf files and their compiled rules.

``load_rules(folder)`` reads ``tree.yaml`` (indices and second-level indicators) and every
``leaves/<leaf_id>.yaml``, validates them against ``schema.json`` and the cross-file
constraints (ids, parents, rule-id prefixes, regexes), compiles every matcher once, and
returns a :class:`RuleSet`. Every problem is reported as ``file:line: reason`` in a
:class:`RuleError` (all problems at once, one per line); the line is that of the offending
key, found through PyYAML's compose nodes.

A rule's ``version`` is the content hash of its canonical form (leaf, id, points, match),
so evidence rows say exactly which rule text produced them; ``RuleSet.version`` hashes
every file of the folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import jsonschema
import yaml

import extractors.matchers_dates  # noqa: F401  (registers the reply_times matcher)
import extractors.matchers_platform  # noqa: F401  (registers the elements, share and of_target matchers)
from extractors import site_rules  # noqa: F401  (registers css, page, http, doc_field and site matchers)
from extractors.matchers import Matcher, MatchError, build
from extractors.matchers_json import Tiers
from extractors.model import Node, Tree

ENGINE_VERSION = "3"  # bump when matcher semantics change, so rule versions change with them
_DEFAULT_SCHEMA = Path(__file__).resolve().parent.parent / "rules" / "schema.json"


class RuleError(Exception):
    """A rules folder that cannot be used; the message is ``file:line: reason`` (one per line)."""


@dataclass
class Example:
    expect: bool  # True: must match; False: must not match
    content: str
    is_html: bool
    url: str = "https://www.example.gov.cn/"
    target: str | None = None
    as_of: str | None = None
    source: str = ""  # file:line
    page: dict | None = None  # what the crawl would have stored: status, headers, depth, kind, requested_url
    is_json: bool = False  # a stored JSON API response (``json:`` in the rule file)
    points: float | None = None  # the points its best finding must be worth (graded rules)


@dataclass
class Rule:
    id: str
    leaf_id: str
    points: float
    description: str
    matcher: Matcher
    spec: dict
    version: str
    examples: list[Example] = field(default_factory=list)
    source: str = ""
    tiers: Tiers | None = None  # points graded by a number the finding carries (``tiers:``)


@dataclass
class RuleSet:
    folder: Path
    tree: Tree
    leaves: dict[str, Node]
    rules: list[Rule]
    version: str
    files: list[Path] = field(default_factory=list)
    # tree.yaml settings beyond the tree, e.g. {"site_rules": {"min_html_pages": 5}}
    settings: dict = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def rule_version(leaf_id: str, spec: dict) -> str:
    form = {"engine": ENGINE_VERSION, "leaf": leaf_id, "id": spec.get("id"), "points": spec.get("points"),
            "match": spec.get("match")}
    if spec.get("tiers") is not None:  # graded points are part of what a rule finds
        form["tiers"] = spec["tiers"]
    canonical = json.dumps(form,
                           sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


# libyaml's safe loader when PyYAML was built with it (ten times faster: rules load on every command)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --- YAML with line numbers ----------------------------------------------------------------
class _Lines:
    """Maps a path inside a YAML document (keys and list indices) to its 1-based line."""

    def __init__(self, node: yaml.Node | None, file: str, errors: list[str]):
        self.map: dict[tuple, int] = {(): 1}
        self.file = file
        if node is not None:
            self.map[()] = node.start_mark.line + 1
            self._walk(node, (), errors)

    def _walk(self, node: yaml.Node, path: tuple, errors: list[str]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for k, v in node.value:
                key = k.value
                if key in seen:
                    errors.append(f"{self.file}:{k.start_mark.line + 1}: duplicate key {key!r}")
                seen.add(key)
                self.map[path + (key,)] = k.start_mark.line + 1
                self._walk(v, path + (key,), errors)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.map[path + (i,)] = item.start_mark.line + 1
                self._walk(item, path + (i,), errors)

    def line(self, path: tuple) -> int:
        path = tuple(path)
        while path not in self.map and path:
            path = path[:-1]
        return self.map.get(path, 1)

    def where(self, path: tuple) -> str:
        return f"{self.file}:{self.line(path)}"


def _read_yaml(path: Path, errors: list[str]) -> tuple[object, _Lines | None]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        errors.append(f"{path}:1: not UTF-8 text ({e.reason} at byte {e.start})")
        return None, None
    except OSError as e:
        errors.append(f"{path}:1: cannot read ({e.strerror})")
        return None, None
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        errors.append(f"{path}:{line}: YAML syntax error: {e.problem or e}"
                      + (f" ({e.context})" if e.context else ""))
        return None, None
    except yaml.YAMLError as e:
        errors.append(f"{path}:1: YAML error: {e}")
        return None, None
    return data, _Lines(node, str(path), errors)


def _schema_errors(data: object, schema: dict, lines: _Lines, ref: str | None = None) -> list[str]:
    sch = {"$ref": ref, "$defs": schema["$defs"]} if ref else schema
    validator = jsonschema.Draft202012Validator(sch)
    out = []
    for err in sorted(validator.iter_errors(data), key=lambda e: (lines.line(tuple(e.absolute_path)), e.message)):
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = set(err.schema.get("properties", {}))
            extra = sorted(k for k in err.instance if k not in allowed)
            if extra:
                out.append(f"{lines.where(path + (extra[0],))}: unknown field {extra[0]!r}"
                           f" (allowed here: {', '.join(sorted(allowed))})")
                continue
        if err.validator == "required" and "examples" in err.message:
            out.append(f"{lines.where(path)}: rule has no examples (each rule needs examples: "
                       "{match: [...], no_match: [...]})")
            continue
        if err.validator in ("oneOf", "anyOf") and err.context:
            best = jsonschema.exceptions.best_match(err.context)
            path = tuple(best.absolute_path) or path
            msg = best.message
        else:
            msg = err.message
        where = "/".join(str(p) for p in path)
        out.append(f"{lines.where(path)}: {msg}" + (f" (at {where})" if where else ""))
    return out


# --- loading -------------------------------------------------------------------------------
def _load_schema(folder: Path) -> dict:
    p = folder / "schema.json"
    if not p.exists():
        p = _DEFAULT_SCHEMA
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RuleError(f"{p}:1: cannot read the rules schema ({e})") from None


def _examples(rule_spec: dict, rpath: tuple, lines: _Lines) -> list[Example]:
    out = []
    ex = rule_spec.get("examples") or {}
    for expect_key, expect in (("match", True), ("no_match", False)):
        for i, item in enumerate(ex.get(expect_key) or []):
            src = lines.where(rpath + ("examples", expect_key, i))
            if isinstance(item, str):
                out.append(Example(expect, item, "<" in item and ">" in item, source=src))
            else:
                is_html = "html" in item
                content = item.get("html") if is_html else item.get("json", item.get("text", ""))
                out.append(Example(expect, content, is_html,
                                   item.get("url") or "https://www.example.gov.cn/", item.get("target"),
                                   item.get("as_of"), src, item.get("page"), "json" in item,
                                   None if item.get("points") is None else float(item["points"])))
    return out


def load_rules(folder: Path) -> RuleSet:
    """Load, validate and compile a rules folder; raises RuleError listing every problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleError(f"{folder}:1: no rules folder here")
    schema = _load_schema(folder)
    errors: list[str] = []
    tree_path = folder / "tree.yaml"
    if not tree_path.exists():
        raise RuleError(f"{tree_path}:1: missing (the indicator tree: indices and second-level indicators)")
    tree_data, tree_lines = _read_yaml(tree_path, errors)
    nodes: dict[str, Node] = {}
    order: list[str] = []
    subs_of: dict[str, list[str]] = {}
    if tree_lines is not None:
        errs = _schema_errors(tree_data, schema, tree_lines, "#/$defs/tree")
        errors += errs
        if not errs:
            for i, idx in enumerate(tree_data["indices"]):
                ipath = ("indices", i)
                if idx["id"] in nodes:
                    errors.append(f"{tree_lines.where(ipath + ('id',))}: duplicate id {idx['id']!r}")
                    continue
                nodes[idx["id"]] = Node(idx["id"], idx["name_zh"], idx["name_en"], "index", None,
                                        source=tree_lines.where(ipath), description=idx.get("description", ""))
                subs_of[idx["id"]] = []
                for j, sub in enumerate(idx["subs"]):
                    spath = ipath + ("subs", j)
                    if sub["id"] in nodes:
                        errors.append(f"{tree_lines.where(spath + ('id',))}: duplicate id {sub['id']!r}")
                        continue
                    nodes[sub["id"]] = Node(sub["id"], sub["name_zh"], sub["name_en"], "sub", idx["id"],
                                            source=tree_lines.where(spath), description=sub.get("description", ""))
                    subs_of[idx["id"]].append(sub["id"])

    leaf_files = sorted((folder / "leaves").glob("*.yaml")) if (folder / "leaves").is_dir() else []
    leaves: dict[str, Node] = {}
    leaves_of: dict[str, list[str]] = {}
    rules: list[Rule] = []
    rule_ids: dict[str, str] = {}
    for path in leaf_files:
        data, lines = _read_yaml(path, errors)
        if lines is None:
            continue
        errs = _schema_errors(data, schema, lines)
        errors += errs
        if errs:
            continue
        leaf_id = data["id"]
        if leaf_id != path.stem:
            errors.append(f"{lines.where(('id',))}: leaf id {leaf_id!r} differs from the file name {path.stem!r}")
            continue
        if leaf_id in nodes or leaf_id in leaves:
            errors.append(f"{lines.where(('id',))}: duplicate id {leaf_id!r}")
            continue
        parent = data["parent"]
        if parent not in nodes or nodes[parent].level != "sub":
            errors.append(f"{lines.where(('parent',))}: parent {parent!r} is not a second-level indicator "
                          f"in {tree_path.name}")
            continue
        node = Node(leaf_id, data["name_zh"], data["name_en"], "leaf", parent, float(data["points"]),
                    tuple(data["groups"]), [], lines.where(()), data["description"].strip())
        for i, rs in enumerate(data["rules"]):
            rpath = ("rules", i)
            rid = rs["id"]
            if not rid.startswith(leaf_id + "."):
                errors.append(f"{lines.where(rpath + ('id',))}: rule id {rid!r} must start with '{leaf_id}.'")
                continue
            if rid in rule_ids:
                errors.append(f"{lines.where(rpath + ('id',))}: duplicate rule id {rid!r} (first at {rule_ids[rid]})")
                continue
            rule_ids[rid] = lines.where(rpath)
            if rs["points"] > data["points"]:
                errors.append(f"{lines.where(rpath + ('points',))}: rule points {rs['points']} exceed the "
                              f"leaf's points {data['points']}")
                continue
            try:
                matcher = build(rs["match"], ())
            except MatchError as e:
                errors.append(f"{lines.where(rpath + ('match',) + e.path)}: {e.reason}")
                continue
            tiers = None
            if rs.get("tiers") is not None:
                try:
                    tiers = Tiers.build(rs["tiers"], (), float(rs["points"]))
                except MatchError as e:
                    errors.append(f"{lines.where(rpath + ('tiers',) + e.path)}: {e.reason}")
                    continue
            rule = Rule(rid, leaf_id, float(rs["points"]), rs["description"].strip(), matcher, rs,
                        rule_version(leaf_id, rs), _examples(rs, rpath, lines), lines.where(rpath), tiers)
            node.rules.append(rule)
            rules.append(rule)
        leaves[leaf_id] = node
        leaves_of.setdefault(parent, []).append(leaf_id)

    if errors:
        raise RuleError("\n".join(errors))
    for idx_id in [n.id for n in nodes.values() if n.level == "index"]:
        order.append(idx_id)
        for sub_id in subs_of[idx_id]:
            order.append(sub_id)
            order += leaves_of.get(sub_id, [])
    nodes.update(leaves)
    digest = hashlib.sha256()
    files = [tree_path, *leaf_files]
    for p in files:
        digest.update(p.relative_to(folder).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    ordered_rules = [r for lid in order if lid in leaves for r in leaves[lid].rules]
    settings = {k: tree_data[k] for k in ("site_rules",) if isinstance(tree_data, dict) and k in tree_data}
    return RuleSet(folder, Tree(nodes, order), {lid: leaves[lid] for lid in order if lid in leaves},
                   ordered_rules, digest.hexdigest()[:16], files, settings)
