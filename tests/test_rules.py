"""rules/: the tree, the leaf files, validation with file:line errors, and every rule's examples."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from extractors.check import check_rules
from extractors.rules import RuleError, load_rules, rule_version

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
FIRST_LEAVES = {"hotline_12345": "capability", "service_portal_link": "capability",
                "open_data_link": "infrastructure", "data_security_regulation": "security",
                "digital_gov_plan": "coordination", "policy_interpretation": "effectiveness"}


def test_rules_check_passes_on_rules_folder():
    ok, message = check_rules(RULES)
    assert ok, message
    last = message.splitlines()[-1]
    assert last.endswith(": ok") and int(last.split(" leaves")[0].split()[-1]) >= 6 and "rules" in last and "examples" in last


def test_cli_rules_check(cli):
    proc = cli("rules", "check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith(": ok")


def test_tree_has_five_indices_and_first_leaves_in_place():
    rs = load_rules(RULES)
    assert [n.id for n in rs.tree.indices] == ["coordination", "capability", "infrastructure", "security",
                                               "effectiveness"]
    assert [n.name_zh for n in rs.tree.indices] == ["统筹管理", "数字能力", "强基赋能", "安全规制", "应用成效"]
    for leaf_id, index_id in FIRST_LEAVES.items():
        assert rs.tree.index_of(leaf_id).id == index_id
        assert rs.leaves[leaf_id].rules, leaf_id
        assert rs.tree.nodes[rs.leaves[leaf_id].parent].level == "sub"
    assert rs.tree.max_points("security", "capital") == sum(
        leaf.points for leaf in rs.tree.leaves_under("security") if leaf.applies_to("capital"))
    assert rs.tree.max_points("security", "capital") >= rs.leaves["data_security_regulation"].points
    # every index has second-level indicators, even without leaves yet
    assert all(rs.tree.children(i.id) for i in rs.tree.indices)
    assert len(rs.version) == 16 and all(len(r.version) == 12 for r in rs.rules)
    assert all(r.leaf_id == r.id.split(".")[0] for r in rs.rules)


def test_rule_version_is_a_content_hash():
    rs = load_rules(RULES)
    r = rs.rules[0]
    assert rule_version(r.leaf_id, r.spec) == r.version
    changed = {**r.spec, "points": r.spec["points"] / 2}
    assert rule_version(r.leaf_id, changed) != r.version
    # examples and descriptions do not change what a rule does, nor its version
    assert rule_version(r.leaf_id, {**r.spec, "description": "x", "examples": {}}) == r.version


@pytest.fixture
def tmp_rules(tmp_path):
    dst = tmp_path / "rules"
    shutil.copytree(RULES, dst)
    return dst


def _line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return i
    raise AssertionError(needle)


def _expect_error(folder: Path, file: Path, line: int, reason: str) -> None:
    with pytest.raises(RuleError) as exc:
        load_rules(folder)
    msg = str(exc.value)
    assert f"{file}:{line}:" in msg, msg
    assert reason in msg, msg
    ok, message = check_rules(folder)
    assert not ok and f"{file}:{line}:" in message


def test_bad_regex_is_rejected_with_line(tmp_rules):
    f = tmp_rules / "leaves" / "hotline_12345.yaml"
    text = f.read_text(encoding="utf-8").replace("near: '热线|便民", "near: '(热线|便民", 1)
    f.write_text(text, encoding="utf-8")
    _expect_error(tmp_rules, f, _line_of(f, "near: '(热线"), "bad regular expression")


def test_unknown_field_is_rejected_with_line(tmp_rules):
    f = tmp_rules / "leaves" / "open_data_link.yaml"
    # the unknown field at the indentation of the option it follows (the rule may sit in an all:)
    text = re.sub(r"( *)max_text: 30\n", r"\1max_text: 30\n\1colour: red\n", f.read_text(encoding="utf-8"), count=1)
    f.write_text(text, encoding="utf-8")
    _expect_error(tmp_rules, f, _line_of(f, "colour: red"), "unknown field 'colour'")


def test_unknown_top_level_field_is_rejected(tmp_rules):
    f = tmp_rules / "leaves" / "digital_gov_plan.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("points: 3\n", "points: 3\nweight: 2\n", 1), encoding="utf-8")
    _expect_error(tmp_rules, f, _line_of(f, "weight: 2"), "unknown field 'weight'")


def test_missing_examples_is_rejected(tmp_rules):
    f = tmp_rules / "leaves" / "service_portal_link.yaml"
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "examples:")
    end = next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("- id:"))
    f.write_text("".join(lines[:start] + lines[end:]), encoding="utf-8")
    rule_line = _line_of(f, "- id: service_portal_link.labelled")
    _expect_error(tmp_rules, f, rule_line, "no examples")


def test_yaml_syntax_error_is_rejected_with_line(tmp_rules):
    f = tmp_rules / "leaves" / "policy_interpretation.yaml"
    text = f.read_text(encoding="utf-8").replace("points: 2\ngroups:", "points: 2\ngroups: [province, capital\n", 1)
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_rules(tmp_rules)
    assert f"{f}:" in str(exc.value) and "YAML syntax error" in str(exc.value)


def test_failing_example_is_reported(tmp_rules):
    f = tmp_rules / "leaves" / "hotline_12345.yaml"
    text = f.read_text(encoding="utf-8").replace(
        "        - '<div class=\"footer\">政务服务便民热线：12345</div>'",
        "        - '<div class=\"footer\">政务服务便民热线：12345</div>'\n        - '<p>nothing here</p>'", 1)
    f.write_text(text, encoding="utf-8")
    ok, message = check_rules(tmp_rules)
    assert not ok
    assert f"{f}:{_line_of(f, 'nothing here')}: hotline_12345.text: example should match" in message
    assert message.splitlines()[-1].endswith("1 failed")


def test_unknown_parent_and_bad_rule_id(tmp_rules):
    f = tmp_rules / "leaves" / "open_data_link.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("parent: infrastructure_data", "parent: nowhere", 1),
                 encoding="utf-8")
    _expect_error(tmp_rules, f, _line_of(f, "parent: nowhere"), "not a second-level indicator")


def test_cli_rules_check_fails_on_broken_folder(cli, tmp_rules):
    f = tmp_rules / "leaves" / "hotline_12345.yaml"
    f.write_text(re.sub(r"( *)window: 15\n", r"\1window: 15\n\1frobnicate: 1\n", f.read_text(encoding="utf-8"), count=1),
                 encoding="utf-8")
    proc = cli("rules", "check", "--rules", str(tmp_rules))
    assert proc.returncode == 1
    assert f"{f}:{_line_of(f, 'frobnicate')}: unknown field 'frobnicate'" in proc.stdout
