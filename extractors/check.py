"""`windvane rules check`: validate a rules folder and run every rule's own examples.

Each ``examples.match`` item must give at least one finding of its rule, each
``examples.no_match`` item none. Examples are parsed exactly as stored pages are (HTML,
or plain text), with an optional page URL, target name and cut-off date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from extractors.document import TargetNames
from extractors.engine import Context, PageDoc, parse_html, parse_json, parse_text, run_rule
from extractors.rules import Example, Rule, RuleError, load_rules

MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")


def target_from_name(name: str) -> TargetNames:
    """A target known only by its name (as in rule examples)."""
    level = "province" if name.endswith(("省", "自治区", "兵团")) or name in MUNICIPALITIES else "city"
    return TargetNames(name, level)


def example_page(ex: Example) -> PageDoc:
    if ex.is_json:
        page = parse_json(ex.content, ex.url)
    else:
        page = parse_html(ex.content, ex.url) if ex.is_html else parse_text(ex.content, ex.url)
    if ex.page:
        page.info = dict(ex.page)
    return page


def run_example(rule: Rule, ex: Example) -> list:
    ctx = Context()
    if ex.as_of:
        ctx.as_of = date.fromisoformat(ex.as_of)
    if ex.target:
        ctx.target = target_from_name(ex.target)
    return run_rule(rule, example_page(ex), ctx)


def check_rules(folder: Path) -> tuple[bool, str]:
    """Validate ``folder`` and run every example; (ok, report ending in a summary line)."""
    try:
        rs = load_rules(Path(folder))
    except RuleError as e:
        lines = str(e).splitlines()
        return False, "\n".join(lines + [f"{len(lines)} problem(s): rules not loaded"])
    failures: list[str] = []
    n_examples = 0
    for rule in rs.rules:
        for ex in rule.examples:
            n_examples += 1
            found = run_example(rule, ex)
            if rule.tiers is not None:  # graded: a finding below the first tier (0 points) is no match
                found = [f for f in found if f.points > 0]
            best = max((f.points for f in found), default=None)
            if ex.points is not None and ex.expect and found and best != ex.points:
                failures.append(f"{ex.source}: {rule.id}: example should be worth {ex.points:g} points "
                                f"but gave {best:g}")
            if ex.expect and not found:
                failures.append(f"{ex.source}: {rule.id}: example should match but gave no finding")
            elif not ex.expect and found:
                failures.append(f"{ex.source}: {rule.id}: example should not match but gave "
                                f"{found[0].snippet[:60]!r}")
    summary = f"{len(rs.leaves)} leaves, {len(rs.rules)} rules, {n_examples} examples"
    if failures:
        return False, "\n".join(failures + [f"{summary}: {len(failures)} failed"])
    return True, f"rules {rs.folder} (version {rs.version})\n{summary}: ok"
