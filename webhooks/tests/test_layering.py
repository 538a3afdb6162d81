"""webhooks sits just above core: any app may call it, so it may import no app but core."""

from __future__ import annotations

import ast
from pathlib import Path

import webhooks

PROJECT_APPS = {"customers", "crm_sync", "surveys", "metrics", "dashboards", "followup", "cxmetrics"}


def test_webhooks_imports_no_app_above_core():
    root = Path(webhooks.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        if "tests" in path.relative_to(root).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            found += [(path.name, name) for name in names if name.split(".")[0] in PROJECT_APPS]
    assert found == []
