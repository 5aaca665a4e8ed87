"""extractors: the rule language and the extraction stage.

model.py     the indicator tree (Tree/Node) shared with scoring
rules.py     load_rules(folder) -> RuleSet; RuleError("file:line: reason")
matchers.py  link / text / document / url matchers and all / any / not
engine.py    bytes -> text decoding, HTML -> PageDoc (visible text, links, segments), run_rules
document.py  policy-document metadata, validity/draft/date checks, "issued by this target"
run.py       extract(store, campaign, ruleset, as_of) -> evidence rows
inspect.py   inspect_inputs(...) for `windvane inspect`
check.py     check_rules(folder) for `windvane rules check`
"""
