"""The webhooks domain keeps its SQL in its repository (docs/architecture.md).

* Services reach the database only through repositories and the unit of work's own
  methods: never ``uow.session``, the legacy ``scoped(...)`` helper or a hand-rolled
  tenant check (a repository answers another tenant's id with *not found* itself).
* Other domains' tables are reached through their services, not their repositories.
* The GraphQL layer holds no SQL at all: it calls service functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import qrefund

PACKAGE = Path(qrefund.__file__).parent
DOMAIN = PACKAGE / "platform" / "webhooks"
GRAPHQL = PACKAGE / "graphql_schema" / "webhooks"
# Where SQL may be written: the repository builds statements, models declare tables.
SQL_MODULES = {"repository.py", "models.py"}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _attributes(tree: ast.AST) -> set[str]:
    return {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}


def _offences(path: Path, *, sql_allowed: bool) -> list[str]:
    tree = ast.parse(path.read_text())
    imports, attributes = _imports(tree), _attributes(tree)
    offences = [f"uses .{a}" for a in ("session", "require_tenant", "_execute", "_add")
                if a in attributes]
    offences += [f"imports {m}" for m in sorted(imports) if m.endswith(".repository.scoped")
                 or (m.endswith(".repository") and m.startswith("qrefund.")
                     and m != "qrefund.platform.webhooks.repository"
                     and m != "qrefund.platform.repository")]
    if not sql_allowed:
        offences += [f"imports {m}" for m in sorted(imports)
                     if m.split(".")[0] in ("sqlalchemy", "sqlmodel") and m != "sqlalchemy.exc"
                     and not m.startswith("sqlalchemy.exc.")]
    return offences


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_modules_reach_the_database_through_repositories(path: Path) -> None:
    assert _offences(path, sql_allowed=path.name in SQL_MODULES) == []


@pytest.mark.parametrize("path", sorted(GRAPHQL.glob("*.py")), ids=lambda p: p.name)
def test_the_graphql_layer_holds_no_sql(path: Path) -> None:
    tree = ast.parse(path.read_text())
    offences = _offences(path, sql_allowed=False)
    offences += [f"imports {m}" for m in sorted(_imports(tree))
                 if m in ("qrefund.platform.repository",
                          "qrefund.graphql_schema.loaders.by_scoped_key")
                 or m.startswith("qrefund.platform.webhooks.repository")]
    offences += ["filters by scope by hand" for n in ast.walk(tree)
                 if isinstance(n, ast.Attribute) and n.attr == "allows"]
    assert offences == []


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The checks above can fail: a module written the old way is caught."""
    legacy = tmp_path / "legacy.py"
    legacy.write_text(
        "from sqlalchemy import select\n"
        "from qrefund.platform.repository import scoped\n"
        "from qrefund.tenants.repository import TenantRecordRepository\n"
        "async def f(uow):\n"
        "    uow.scope.require_tenant(1)\n"
        "    return await uow.session.execute(scoped(select(1), None, uow.scope))\n")
    assert set(_offences(legacy, sql_allowed=False)) == {
        "uses .session", "uses .require_tenant", "imports qrefund.platform.repository.scoped",
        "imports qrefund.tenants.repository", "imports sqlalchemy", "imports sqlalchemy.select",
    }
    assert set(_offences(legacy, sql_allowed=True)) == {
        "uses .session", "uses .require_tenant", "imports qrefund.platform.repository.scoped",
        "imports qrefund.tenants.repository"}
