"""``members`` is the base app: it imports none of the apps built on it (STYLE 1); they reach
it through its hooks (``members.hooks``) and registries instead."""

from __future__ import annotations

import ast
from pathlib import Path

import members

CONSUMERS = {"rules", "tiers", "rewards", "referrals", "events", "analytics", "accounts"}
ALLOWED = {"events"}  # the outbox is the platform's, below every app


def test_members_imports_none_of_the_apps_built_on_it():
    root = Path(members.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     and node.level == 0 else [])
            found += [f"{path.relative_to(root)}: {name}" for name in names
                      if name.split(".")[0] in CONSUMERS - ALLOWED]
    assert found == []
