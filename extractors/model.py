"""The indicator tree as loaded from rules/: the shared model of extractors and scoring.

Levels: ``index`` (the five SMART first-level indices), ``sub`` (second-level
indicators), ``leaf`` (observable indicators that carry points and rules).
A node's maximum points are the sum of its applicable leaves' points, per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Node:
    id: str
    name_zh: str
    name_en: str
    level: str  # "index" | "sub" | "leaf"
    parent: str | None
    points: float = 0.0  # leaves only
    groups: tuple[str, ...] = ("province", "capital", "gdp100")  # leaves only
    rules: list = field(default_factory=list)  # leaves only: extractors.rules.Rule
    source: str = ""  # "file:line" where the node is defined
    description: str = ""

    def applies_to(self, group: str) -> bool:
        return group in self.groups


@dataclass
class Tree:
    nodes: dict[str, Node]
    order: list[str]  # ids in file order (indices, then their subs and leaves)

    def children(self, node_id: str | None) -> list[Node]:
        return [self.nodes[i] for i in self.order if self.nodes[i].parent == node_id]

    @property
    def indices(self) -> list[Node]:
        return self.children(None)

    @property
    def leaves(self) -> list[Node]:
        return [self.nodes[i] for i in self.order if self.nodes[i].level == "leaf"]

    def leaves_under(self, node_id: str) -> list[Node]:
        node = self.nodes[node_id]
        if node.level == "leaf":
            return [node]
        out: list[Node] = []
        for child in self.children(node_id):
            out += self.leaves_under(child.id)
        return out

    def index_of(self, node_id: str) -> Node:
        node = self.nodes[node_id]
        while node.parent is not None:
            node = self.nodes[node.parent]
        return node

    def max_points(self, node_id: str, group: str) -> float:
        return sum(leaf.points for leaf in self.leaves_under(node_id) if leaf.applies_to(group))
